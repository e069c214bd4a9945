# Copyright 2026 The cloudbss provisioning authors.
# SPDX-License-Identifier: Apache-2.0
"""The pyledger adapter: provisioning.v1.ProvisioningAdapter in Python. It
"provisions" BSS accounts by recording them in a SQLite file, like the Go
ledger example (plugin/examples/ledger), and follows the same contract: the
.proto comments and docs/plugin-protocol.md.
"""

import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time

import grpc
from google.rpc import error_details_pb2
from provisioning.v1 import adapter_pb2, adapter_pb2_grpc, types_pb2

from provisioning_plugin import DATA_DIR_ENV, PluginError, context_error, error_info, retry_info, rpc

NAME = "pyledger"
VERSION = "1.0.0"
SETTING_DATABASE = "database"
SETTING_SIGNING_KEY = "signing_key"  # a secret: never logged, echoed or put in an error

# Reason codes (Diagnostic.code and ErrorInfo.reason) this plugin uses; the
# full list is in proto/provisioning/v1 and docs/plugin-protocol.md §7.
REQUIRED = "REQUIRED"
INVALID_VALUE = "INVALID_VALUE"
UNKNOWN_FIELD = "UNKNOWN_FIELD"
INVALID_ACCOUNT = "INVALID_ACCOUNT"
PARENT_NOT_SYNCED = "PARENT_NOT_SYNCED"
PARENT_NOT_RESELLER = "PARENT_NOT_RESELLER"
NOT_CONFIGURED = "NOT_CONFIGURED"
REMOTE_UNAVAILABLE = "REMOTE_UNAVAILABLE"

# The gRPC code a Synchronize failure with each reason answers; every other
# reason is an input problem (INVALID_ARGUMENT).
_STATE_CODES = {
    PARENT_NOT_SYNCED: grpc.StatusCode.FAILED_PRECONDITION,
    PARENT_NOT_RESELLER: grpc.StatusCode.FAILED_PRECONDITION,
    NOT_CONFIGURED: grpc.StatusCode.FAILED_PRECONDITION,
    REMOTE_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}
# Input problems first (fix input, don't retry), then state, then the rest.
_PRECEDENCE = [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION,
               grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE]


def grpc_code(reason):
    return _STATE_CODES.get(reason, grpc.StatusCode.INVALID_ARGUMENT)


def diagnostic(field, code, summary, detail=""):
    return types_pb2.Diagnostic(severity=types_pb2.SEVERITY_ERROR, field=field, code=code, summary=summary, detail=detail)


def to_error(diagnostics):
    """The error diagnostics as one PluginError, or None: the most actionable
    code among them; a BadRequest violation for each; a PreconditionFailure
    violation for each state problem; ErrorInfo with the first reason that has
    the chosen code. The same shape as the Go SDK's diag.ToError."""
    errs = [d for d in diagnostics if d.severity == types_pb2.SEVERITY_ERROR]
    if not errs:
        return None
    code = next(c for c in _PRECEDENCE if any(grpc_code(d.code) == c for d in errs))
    lead = next(d for d in errs if grpc_code(d.code) == code)
    bad = error_details_pb2.BadRequest()
    pre = error_details_pb2.PreconditionFailure()
    msgs = []
    for d in errs:
        field = d.field or "account"
        desc = d.summary + (": " + d.detail if d.detail else "")
        bad.field_violations.add(field=field, description=desc, reason=d.code)
        if grpc_code(d.code) == grpc.StatusCode.FAILED_PRECONDITION:
            pre.violations.add(type=d.code, subject=field, description=desc)
        msgs.append(field + ": " + d.summary)
    details = [error_info(lead.code, field=lead.field), bad]
    if pre.violations:
        details.append(pre)
    return PluginError(code, "; ".join(msgs), *details)


def invalid_argument(field, reason, message):
    return to_error([diagnostic(field, reason, message)])


def not_configured():
    return PluginError(
        grpc.StatusCode.FAILED_PRECONDITION, "plugin is not configured: call Configure first",
        error_info(NOT_CONFIGURED),
        error_details_pb2.PreconditionFailure(violations=[error_details_pb2.PreconditionFailure.Violation(
            type=NOT_CONFIGURED, subject="plugin", description="call Configure first")]),
    )


# --- the form -----------------------------------------------------------------

# Field keys are a public interface: the BSS stores them. Never rename one.
_PLANS = [("basic", "Basic"), ("standard", "Standard"), ("premium", "Premium")]


def form(prior=None):
    fields = [
        types_pb2.Field(key="plan", label="Plan", order=1, kind=types_pb2.FIELD_KIND_ENUM, required=True,
                        auto_fill=True, value="standard", description="The plan recorded for the account.",
                        choices=[types_pb2.Choice(value=v, label=l) for v, l in _PLANS]),
        types_pb2.Field(key="seats", label="Seats", order=2, kind=types_pb2.FIELD_KIND_INTEGER, required=True,
                        auto_fill=True, value="1", description="Number of seats, 1 to 10000."),
        # Optional and without a default: auto_fill leaves it empty.
        types_pb2.Field(key="note", label="Note", order=3, kind=types_pb2.FIELD_KIND_STRING,
                        description="Free text kept with the entry, at most 200 characters."),
    ]
    for f in fields:
        if prior and f.key in prior:
            f.value = prior[f.key]
    return fields


def check_account(request):
    """An account the plugin cannot work with at all is an error in every RPC."""
    if not request.HasField("account"):
        raise invalid_argument("account", INVALID_ACCOUNT, "the request has no account")
    if not request.account.id:
        raise invalid_argument("account.id", INVALID_ACCOUNT, "the account has no id")
    if request.account.type == types_pb2.ACCOUNT_TYPE_UNSPECIFIED:
        raise invalid_argument("account.type", INVALID_ACCOUNT, "the account has no type")


# --- the store ----------------------------------------------------------------

_SCHEMA = """CREATE TABLE IF NOT EXISTS accounts (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,  -- the "remote id"
    account_id TEXT    NOT NULL UNIQUE,            -- the BSS account id: what makes Synchronize idempotent
    type       INTEGER NOT NULL,
    parent_id  TEXT    NOT NULL,
    vals       TEXT    NOT NULL,                   -- the option values, as JSON
    updated_at INTEGER NOT NULL,                   -- Unix nanoseconds
    sig        TEXT    NOT NULL DEFAULT ''         -- HMAC-SHA256 of account_id and vals, with the signing key
)"""


class Store:
    """One SQLite connection, used by one call at a time: the lock makes
    "look up, then insert" atomic between threads, BEGIN IMMEDIATE between
    processes sharing the file."""

    def __init__(self, path, key=""):
        self.path = path
        self.key = key
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(_SCHEMA)

    def close(self):
        with self.lock:
            self.db.close()

    def lookup(self, account_id):
        row = self.db.execute("SELECT seq, account_id, type, parent_id, vals, updated_at, sig FROM accounts WHERE account_id = ?",
                              (account_id,)).fetchone()
        if row is None:
            return None
        return {"seq": row[0], "account_id": row[1], "type": row[2], "parent_id": row[3],
                "values": json.loads(row[4]), "updated": row[5], "sig": row[6], "raw_vals": row[4]}

    def sign(self, account_id, vals_json):
        """The entry's signature, or "" without a signing key."""
        if not self.key:
            return ""
        return hmac.new(self.key.encode(), (account_id + "\n" + vals_json).encode(), hashlib.sha256).hexdigest()


def remote_id(entry):
    return "P-%06d" % entry["seq"]


# --- the adapter --------------------------------------------------------------

class Adapter(adapter_pb2_grpc.ProvisioningAdapterServicer):
    """Inherits UNIMPLEMENTED answers for any RPC provisioning.v1 adds later.
    Every method may run concurrently with every other."""

    def __init__(self, log):
        self.log = log
        self._mu = threading.Lock()
        self._store = None

    def close(self):
        with self._mu:
            if self._store:
                self._store.close()

    def store(self):
        with self._mu:
            if self._store is None:
                raise not_configured()
            return self._store

    @rpc
    def GetPluginInfo(self, request, context):
        return adapter_pb2.GetPluginInfoResponse(
            name=NAME, display_name="Python ledger (example)", version=VERSION,
            capabilities=[adapter_pb2.CAPABILITY_PROBE, adapter_pb2.CAPABILITY_SYNC_OPTIONS,
                          adapter_pb2.CAPABILITY_VALIDATE, adapter_pb2.CAPABILITY_SYNCHRONIZE,
                          adapter_pb2.CAPABILITY_SYNC_STATUS, adapter_pb2.CAPABILITY_AUTO_FILL],
            # A secret would be sensitive=True and never carry a value.
            config_fields=[types_pb2.Field(
                key=SETTING_DATABASE, label="Database file", order=1, kind=types_pb2.FIELD_KIND_STRING, required=True,
                description="Path of the SQLite file; a relative path is inside the plugin's data folder."),
                types_pb2.Field(
                key=SETTING_SIGNING_KEY, label="Signing key", order=2, kind=types_pb2.FIELD_KIND_STRING, sensitive=True,
                description="Optional. When set, every entry is signed (HMAC-SHA256), and GetSyncStatus reports an "
                            "entry changed behind the plugin's back as FAILED.")],
        )

    @rpc
    def Configure(self, request, context):
        for k in sorted(request.settings):
            if k not in (SETTING_DATABASE, SETTING_SIGNING_KEY):
                raise invalid_argument(k, UNKNOWN_FIELD, "unknown setting " + k)
        path = request.settings.get(SETTING_DATABASE, "")
        if not path:
            raise invalid_argument(SETTING_DATABASE, REQUIRED, "the database setting is required")
        if not os.path.isabs(path) and os.environ.get(DATA_DIR_ENV):
            path = os.path.join(os.environ[DATA_DIR_ENV], path)
        key = request.settings.get(SETTING_SIGNING_KEY, "")
        with self._mu:
            if self._store and self._store.path == path and hmac.compare_digest(self._store.key, key):
                return adapter_pb2.ConfigureResponse()
            try:
                store = Store(path, key)
            except sqlite3.Error as e:
                raise invalid_argument(SETTING_DATABASE, INVALID_VALUE, "cannot open the database: " + str(e))
            old, self._store = self._store, store
        if old:
            old.close()  # waits for the call using it
        self.log.info("ledger configured", database=path, signed=bool(key))  # never the key
        return adapter_pb2.ConfigureResponse()

    @rpc
    def Probe(self, request, context):
        st = self.store()
        try:
            with st.lock:
                st.db.execute("SELECT 1").fetchone()
        except sqlite3.Error as e:
            return adapter_pb2.ProbeResponse(ready=False, message="database unusable: " + str(e))
        return adapter_pb2.ProbeResponse(ready=True, message="database open")

    @rpc
    def GetSyncOptions(self, request, context):
        st = self.store()
        check_account(request)
        with st.lock, _store_errors():
            prior = st.lookup(request.account.id)
            parent = self._check_parent(st, request.account)
        resp = adapter_pb2.GetSyncOptionsResponse(fields=form(prior["values"] if prior else None))
        if parent:
            resp.diagnostics.append(parent)
        return resp

    @rpc
    def ValidateSyncOptions(self, request, context):
        st = self.store()
        check_account(request)
        with st.lock, _store_errors():
            ds, vals = self._validate(st, request.account, dict(request.values), request.auto_fill)
        return adapter_pb2.ValidateSyncOptionsResponse(diagnostics=ds, values=vals)

    @rpc
    def Synchronize(self, request, context):
        st = self.store()
        check_account(request)
        acct = request.account
        with st.lock, _store_errors():
            st.db.execute("BEGIN IMMEDIATE")
            try:
                ds, vals = self._validate(st, acct, dict(request.values), request.auto_fill)
                err = to_error(ds)
                if err:
                    raise err
                prior = st.lookup(acct.id)
                created = prior is None
                if prior and prior["values"] == vals:
                    entry = prior  # a replay: nothing to write
                else:
                    now = time.time_ns()
                    js = json.dumps(vals, sort_keys=True)
                    if prior:
                        st.db.execute("UPDATE accounts SET vals = ?, updated_at = ?, sig = ? WHERE seq = ?",
                                      (js, now, st.sign(acct.id, js), prior["seq"]))
                    else:
                        st.db.execute("INSERT INTO accounts (account_id, type, parent_id, vals, updated_at, sig) VALUES (?, ?, ?, ?, ?, ?)",
                                      (acct.id, acct.type, acct.parent_id, js, now, st.sign(acct.id, js)))
                    entry = st.lookup(acct.id)
                # Never commit for a caller that has gone: the retry decides.
                if not context.is_active():
                    raise context_error(context)
                st.db.execute("COMMIT")
            except BaseException:
                st.db.execute("ROLLBACK")
                raise
            rec = self._record(st, entry)
        if created:
            self.log.info("account recorded", account_id=acct.id, remote_id=rec.remote_id)
        return adapter_pb2.SynchronizeResponse(record=rec, created=created)

    @rpc
    def GetSyncStatus(self, request, context):
        st = self.store()
        account_id = request.record.account_id
        if not account_id:
            raise invalid_argument("record.account_id", INVALID_ACCOUNT, "the request has no record with an account id")
        with st.lock, _store_errors():
            entry = st.lookup(account_id)
            if entry:
                rec = self._record(st, entry)
                if st.key and not hmac.compare_digest(entry["sig"], st.sign(entry["account_id"], entry["raw_vals"])):
                    rec.status = types_pb2.SYNC_STATUS_FAILED
                    rec.message = "the ledger entry was changed outside the plugin (its signature does not match)"
                return adapter_pb2.GetSyncStatusResponse(record=rec)
        rec = types_pb2.SyncRecord(plugin=NAME, account_id=account_id, status=types_pb2.SYNC_STATUS_NOT_SYNCED)
        if request.record.remote_id:
            rec.status = types_pb2.SYNC_STATUS_MISSING
            rec.remote_id = request.record.remote_id
            rec.message = "the ledger entry is gone"
        rec.updated_at.FromNanoseconds(time.time_ns())
        return adapter_pb2.GetSyncStatusResponse(record=rec)

    # The rules, written once: GetSyncOptions, ValidateSyncOptions and
    # Synchronize all call them, so they never disagree. Callers hold st.lock.

    def _check_parent(self, st, acct):
        if not acct.parent_id:
            return None
        p = st.lookup(acct.parent_id)
        if p is None:
            return diagnostic("account.parent_id", PARENT_NOT_SYNCED, "the reseller %s is not in the ledger yet" % acct.parent_id,
                              "Synchronize the reseller first, then this account.")
        if p["type"] != types_pb2.ACCOUNT_TYPE_RESELLER:
            return diagnostic("account.parent_id", PARENT_NOT_RESELLER,
                              "the parent %s is recorded as a customer, not a reseller" % acct.parent_id)
        return None

    def _validate(self, st, acct, vals, auto_fill):
        fields = form()
        ds = []
        for f in fields:
            if auto_fill and f.auto_fill and not vals.get(f.key):
                vals[f.key] = f.value  # the storefront path: the default, unseen
            if f.required and not vals.get(f.key):
                ds.append(diagnostic(f.key, REQUIRED, f.label + " is required"))
        keys = {f.key for f in fields}
        for k in sorted(vals):
            if k not in keys:
                ds.append(diagnostic(k, UNKNOWN_FIELD, "the form has no field %r" % k))
        plan = vals.get("plan", "")
        if plan and plan not in [v for v, _ in _PLANS]:
            ds.append(diagnostic("plan", INVALID_VALUE, "unknown plan %r" % plan, "Choose basic, standard or premium."))
        seats = vals.get("seats", "")
        if seats and not (seats.isascii() and seats.isdigit() and 1 <= int(seats) <= 10000):
            ds.append(diagnostic("seats", INVALID_VALUE, "seats must be a whole number from 1 to 10000"))
        if len(vals.get("note", "")) > 200:
            ds.append(diagnostic("note", INVALID_VALUE, "the note is longer than 200 characters"))
        parent = self._check_parent(st, acct)
        if parent:
            ds.append(parent)
        return ds, vals

    def _record(self, st, entry):
        rec = types_pb2.SyncRecord(plugin=NAME, account_id=entry["account_id"], status=types_pb2.SYNC_STATUS_SYNCED,
                                   remote_id=remote_id(entry), values=entry["values"])
        rec.updated_at.FromNanoseconds(entry["updated"])
        if entry["parent_id"]:
            p = st.lookup(entry["parent_id"])
            if p:
                rec.remote_parent_id = remote_id(p)
        return rec


class _store_errors:
    """A database failure is the "remote system" being unusable: UNAVAILABLE
    with RetryInfo, which a caller may retry."""

    def __enter__(self):
        return self

    def __exit__(self, typ, exc, tb):
        if isinstance(exc, sqlite3.Error):
            raise PluginError(grpc.StatusCode.UNAVAILABLE, "ledger database: " + str(exc),
                              error_info(REMOTE_UNAVAILABLE), retry_info(1)) from exc
        return False
