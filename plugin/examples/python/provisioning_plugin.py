# Copyright 2026 The cloudbss provisioning authors.
# SPDX-License-Identifier: Apache-2.0
"""The provisioning plugin protocol, in Python: everything a plugin does
besides its adapter. Written from docs/plugin-protocol.md alone; each part
names the section of that document it implements.

A plugin calls serve(servicer, name) from its main and never returns from it.
Nothing here knows about any vendor: copy this file into a plugin of your own.
"""

import base64
import datetime
import json
import os
import signal
import sys
import tempfile
import threading
from concurrent import futures

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from google.protobuf import any_pb2, duration_pb2, empty_pb2, wrappers_pb2

# Generated at build or test time from proto/ and third_party/googleapis
# (see generate.py); they are on sys.path by then.
from google.rpc import error_details_pb2, status_pb2
from provisioning.v1 import adapter_pb2_grpc

# §2 Handshake: the cookie the host sets, and the versions the plugin speaks.
MAGIC_COOKIE_KEY = "PROVISIONING_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "7c1b0f6e2a4d4f3e9b8a5d6c3e2f1a0b-provisioning.v1"
CORE_PROTOCOL_VERSION = 1
APP_PROTOCOL_VERSION = 1

# §9 Environment the plugin may read.
LOG_LEVEL_ENV = "PROVISIONING_PLUGIN_LOG_LEVEL"
DATA_DIR_ENV = "PROVISIONING_PLUGIN_DATA_DIR"
DEBUG_ENV = "PROVISIONING_PLUGIN_DEBUG"
REATTACH_ENV = "PROVISIONING_PLUGIN_REATTACH"

# §7 Error details: the ErrorInfo domain of every provisioning.v1 error.
ERROR_DOMAIN = "provisioning.v1"

# §6 Signals and timeouts. The grace must stay below the host's kill timeout
# (5 s by default): after it the host kills the whole process group.
GRACE_SECONDS = 3.0
PARENT_POLL_SECONDS = 0.5

_LEVELS = {"trace": 0, "debug": 1, "info": 2, "warn": 3, "error": 4}


class Logger:
    """§5 Logging: one JSON object per line on stderr, in the shape the host
    parses (@level, @message, @timestamp with microseconds). Other keys are
    structured fields. Never log a secret."""

    def __init__(self, name, stream=None, level=None):
        self._name = name
        self._stream = stream or sys.stderr
        self._lock = threading.Lock()
        lvl = (level or os.environ.get(LOG_LEVEL_ENV, "info")).strip().lower()
        self._min = _LEVELS.get(lvl, _LEVELS["info"])

    def log(self, level, message, **fields):
        if _LEVELS[level] < self._min:
            return
        now = datetime.datetime.now(datetime.timezone.utc)
        line = {
            "@level": level,
            "@message": message,
            # Exactly this layout, or the host treats the line as plain text.
            "@timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        for k, v in fields.items():
            line[k] = v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
        with self._lock:
            self._stream.write(json.dumps(line) + "\n")
            self._stream.flush()

    def debug(self, message, **fields):
        self.log("debug", message, **fields)

    def info(self, message, **fields):
        self.log("info", message, **fields)

    def warn(self, message, **fields):
        self.log("warn", message, **fields)

    def error(self, message, **fields):
        self.log("error", message, **fields)


class PluginError(Exception):
    """§7 An RPC failure: a canonical code, a message, and google.rpc details
    (ErrorInfo, BadRequest, PreconditionFailure, RetryInfo messages). Raise it
    from a servicer method wrapped with @rpc."""

    def __init__(self, code, message, *details):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def trailing_metadata(self):
        st = status_pb2.Status(code=self.code.value[0], message=self.message)
        for d in self.details:
            a = any_pb2.Any()
            a.Pack(d)  # type_url: type.googleapis.com/google.rpc.<Name>
            st.details.append(a)
        # The whole google.rpc.Status, binary, in this trailer; its code and
        # message must equal grpc-status and grpc-message.
        return (("grpc-status-details-bin", st.SerializeToString()),)


class _Status(grpc.Status):
    def __init__(self, err):
        self.code = err.code
        self.details = err.message
        self.trailing_metadata = err.trailing_metadata()


def rpc(method):
    """Wraps a servicer method: a PluginError becomes its status with details;
    the caller's deadline or cancellation keep their codes; any other
    exception is a bug, INTERNAL, logged without the request (which may hold
    secrets)."""

    def wrapped(self, request, context):
        try:
            return method(self, request, context)
        except PluginError as e:
            context.abort_with_status(_Status(e))
        except Exception as e:  # noqa: BLE001: a plugin must never answer UNKNOWN
            if not context.is_active():
                raise
            self.log.error("rpc failed", rpc=method.__name__, error=type(e).__name__ + ": " + str(e))
            context.abort(grpc.StatusCode.INTERNAL, method.__name__ + ": internal error")

    wrapped.__name__ = method.__name__
    wrapped.__doc__ = method.__doc__
    return wrapped


def error_info(reason, **metadata):
    return error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata)


def retry_info(seconds):
    return error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=int(seconds)))


def context_error(context):
    """The PluginError for a call whose caller has gone (deadline or cancel)."""
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        return PluginError(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
    return PluginError(grpc.StatusCode.CANCELLED, "canceled by the caller")


def _self_signed_certificate():
    """§3 AutoMTLS: a fresh key and a self-signed certificate that is its own
    CA, for DNS name localhost (the name the host verifies), usable for both
    server and client authentication."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_encipherment=False, key_agreement=True, key_cert_sign=True,
                content_commitment=False, data_encipherment=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert, key_pem


def _health_check(request, context):
    """§4 grpc.health.v1.Health/Check. The request is {string service = 1}
    and the response {ServingStatus status = 1}: the same wire shape as the
    well-known StringValue and Int32Value, so no health stubs are needed."""
    if request.value in ("", "plugin"):
        return wrappers_pb2.Int32Value(value=1)  # SERVING
    context.abort(grpc.StatusCode.NOT_FOUND, "unknown service " + request.value)


class _Plugin:
    def __init__(self, name, log):
        self.name = name
        self.log = log
        self.stop = threading.Event()
        self.stop_reason = ""

    def request_stop(self, reason):
        if not self.stop.is_set():
            self.stop_reason = reason
            self.stop.set()

    def generic_handlers(self):
        health = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(
                _health_check,
                request_deserializer=wrappers_pb2.StringValue.FromString,
                response_serializer=wrappers_pb2.Int32Value.SerializeToString,
            ),
        })

        def shutdown(_request, _context):
            # §6: the host asks; answer first, stop right after.
            self.request_stop("host requested shutdown")
            return empty_pb2.Empty()

        controller = grpc.method_handlers_generic_handler("plugin.GRPCController", {
            "Shutdown": grpc.unary_unary_rpc_method_handler(
                shutdown,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=empty_pb2.Empty.SerializeToString,
            ),
        })

        def stdio(_request, _context):
            # §4: the host opens this stream once and reads the plugin's
            # stdout/stderr copies from it. Sending nothing is fine, but the
            # stream must end when the plugin stops, or the server's graceful
            # stop waits on it until the host's kill timeout.
            self.stop.wait()
            return
            yield  # a generator: a server-streaming handler

        stdio_handler = grpc.method_handlers_generic_handler("plugin.GRPCStdio", {
            "StreamStdio": grpc.unary_stream_rpc_method_handler(
                stdio,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=lambda b: b,
            ),
        })
        return (health, controller, stdio_handler)


def _fail(log, message, **fields):
    log.error(message, **fields)
    return 1


def _debug_requested(argv):
    return os.environ.get(DEBUG_ENV, "").lower() in ("1", "true") or "--debug" in argv or "-debug" in argv


def serve(servicer, name, log=None, argv=None):
    """Runs servicer (a ProvisioningAdapterServicer) as the plugin called name
    and exits the process when it stops."""
    sys.exit(_serve(servicer, name, log or Logger(name), sys.argv[1:] if argv is None else argv))


def _serve(servicer, name, log, argv):
    debug = _debug_requested(argv)
    if not debug and os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        # §2: started by a person, not a host.
        sys.stderr.write(
            "provisioning-plugin-%s is a provisioning plugin: a provisioning host starts it.\n"
            "To try it by hand, run it with --debug (or %s=1) and attach provctl to it.\n" % (name, DEBUG_ENV)
        )
        return 1
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "")
    if not debug and versions and str(APP_PROTOCOL_VERSION) not in versions.split(","):
        return _fail(log, "host speaks other protocol versions", offered=versions, supported=APP_PROTOCOL_VERSION)

    p = _Plugin(name, log)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), handlers=p.generic_handlers())
    adapter_pb2_grpc.add_ProvisioningAdapterServicer_to_server(servicer, server)

    # §2: a unix socket in PLUGIN_UNIX_SOCKET_DIR (or a private temp folder).
    sock_dir = tempfile.mkdtemp(prefix="plugin", dir=os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or None)
    sock = os.path.join(sock_dir, "plugin.sock")
    client_pem = os.environ.get("PLUGIN_CLIENT_CERT", "")
    cert_field = ""
    if debug or not client_pem:
        # Debug mode (and a host without AutoMTLS): no TLS.
        server.add_insecure_port("unix:" + sock)
    else:
        cert, key_pem = _self_signed_certificate()
        creds = grpc.ssl_server_credentials(
            [(key_pem, cert.public_bytes(serialization.Encoding.PEM))],
            root_certificates=client_pem.encode(),  # the host's certificate is the only CA
            require_client_auth=True,
        )
        server.add_secure_port("unix:" + sock, creds)
        # §3: the DER certificate, standard base64 WITHOUT padding.
        cert_field = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode().rstrip("=")
    server.start()

    if debug:
        reattach = {"plugin": name, "protocol": "grpc", "protocol_version": APP_PROTOCOL_VERSION,
                    "network": "unix", "addr": sock, "pid": os.getpid()}
        sys.stdout.write("Plugin %r is serving in debug mode (pid %d, no TLS: local use only).\n"
                         "Attach provctl or a host to it with:\n\n  export %s='%s'\n\nStop it with Ctrl-C.\n"
                         % (name, os.getpid(), REATTACH_ENV, json.dumps(reattach)))
        sys.stdout.flush()
    else:
        # §2: the one handshake line; after it, stdout is never written again.
        sys.stdout.write("%d|%d|unix|%s|grpc|%s\n" % (CORE_PROTOCOL_VERSION, APP_PROTOCOL_VERSION, sock, cert_field))
        sys.stdout.flush()
        sys.stdout = sys.stderr  # a stray print() must not reach the handshake channel

    signal.signal(signal.SIGTERM, lambda *_: p.request_stop("signal SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: p.request_stop("signal SIGINT"))
    # §8: the host's death re-parents the plugin; poll for it.
    ppid = os.getppid()
    while not p.stop.wait(PARENT_POLL_SECONDS):
        if not debug and os.getppid() != ppid:
            p.request_stop("host process %d exited" % ppid)

    log.info("plugin stopping", reason=p.stop_reason)
    # Refuses new calls at once; in-flight ones get GRACE_SECONDS to finish.
    server.stop(GRACE_SECONDS).wait()
    try:
        os.unlink(sock)
        os.rmdir(sock_dir)
    except OSError:
        pass
    close = getattr(servicer, "close", None)
    if close:
        close()
    return 0
