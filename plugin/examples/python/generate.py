#!/usr/bin/python3
# Copyright 2026 The cloudbss provisioning authors.
# SPDX-License-Identifier: Apache-2.0
"""Generates the Python modules of the wire contract into OUTDIR (default:
./gen beside this file): provisioning.v1 (messages and gRPC stubs) and the
google.rpc messages the error contract sends (Status, ErrorInfo, BadRequest,
PreconditionFailure, RetryInfo).

    /usr/bin/python3 generate.py [OUTDIR]

It runs grpc_tools.protoc from the same interpreter, so the generated code
matches the protobuf runtime that will load it. The modules are generated,
never committed: code from one protoc release does not always load on another
protobuf runtime, and the .proto files are the contract.

Debian's python3-grpc-tools bundles protoc 3.5, older than proto3 `optional`
(protoc 3.15). google/rpc/error_details.proto uses it once, on a field of
QuotaFailure that this project never sends; the label is dropped from a copy
for such an old protoc. That changes presence tracking in Python only, never
the wire format.
"""

import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
PROTO = os.path.join(ROOT, "proto")
GOOGLEAPIS = os.path.join(ROOT, "third_party", "googleapis")
# Every file of the adapter contract (a new one, such as subscription.proto,
# is imported by adapter.proto and must be generated with it), then the
# google.rpc files the error details need.
FILES = sorted(
    os.path.relpath(p, PROTO)
    for p in glob.glob(os.path.join(PROTO, "provisioning", "v1", "*.proto"))
) + [
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
]


def protoc_version():
    out = subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "--version"],
                         check=True, capture_output=True, text=True).stdout
    m = re.search(r"(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def main(argv):
    out = os.path.abspath(argv[1] if len(argv) > 1 else os.path.join(HERE, "gen"))
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as patched:
        includes = ["-I" + PROTO]
        v = protoc_version()
        if v < (3, 15) and v[0] < 4:
            dst = os.path.join(patched, "google", "rpc")
            os.makedirs(dst)
            with open(os.path.join(GOOGLEAPIS, "google", "rpc", "error_details.proto")) as f:
                text = re.sub(r"(?m)^(\s*)optional ", r"\1", f.read())
            with open(os.path.join(dst, "error_details.proto"), "w") as f:
                f.write(text)
            includes.append("-I" + patched)
        includes.append("-I" + GOOGLEAPIS)
        cmd = [sys.executable, "-m", "grpc_tools.protoc", *includes,
               "--python_out=" + out, "--grpc_python_out=" + out, *FILES]
        rc = subprocess.run(cmd).returncode
        if rc != 0:
            return rc
    # Python 3 finds provisioning/v1 and google/rpc as namespace packages;
    # no __init__.py needed. Drop the empty service stubs of message-only files.
    for f in ("provisioning/v1/types_pb2_grpc.py", "google/rpc/status_pb2_grpc.py", "google/rpc/error_details_pb2_grpc.py"):
        p = os.path.join(out, f)
        if os.path.exists(p):
            os.remove(p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
