"""The Flask application: POST /validate, /healthz, /readyz, /metrics."""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from flask import Flask, Response, request
from gunicorn.http.errors import ParseException
from kubectl_perf.model import NodeView
from kubectl_perf.policy import STALE_CACHE, Policy
from werkzeug.exceptions import HTTPException

from .metrics import CONTENT_TYPE, Metrics
from .review import BadReview, Decision, Defaults, decide, listed, parse_review
from .server import MAX_BODY

STALE_WARNING = "[padding] not checked: the webhook's view of the nodes is stale (onStaleCache: allow)"
log = logging.getLogger("perf_webhook")
decisions = logging.getLogger("perf_webhook.decisions")  # one JSON line per denial or warning


class NodeSource(Protocol):
    def views_for(self, spec: Mapping[str, Any]) -> list[NodeView] | None: ...
    def synced(self) -> bool: ...
    def age(self) -> float: ...
    def node_count(self) -> int: ...
    def pod_count(self) -> int: ...
    def describe(self) -> str: ...


_ENCODER = json.JSONEncoder(separators=(",", ":"))  # json.dumps would build one per call for these separators


def _json(body: Any, status: int = 200) -> Response:
    return Response(_ENCODER.encode(body), status=status, mimetype="application/json")


def _read_body() -> bytes | None:
    """The request body, or None when it is over MAX_BODY. A Content-Length past it is
    answered at once, unread: the server closes that connection after the 413
    (server.DeadlineWorker). A chunked body's size is known only at its end: it is read
    to there and dropped, so the client gets its 413 instead of a reset."""
    length = request.environ.get("CONTENT_LENGTH")  # the server's own figure; absent when chunked
    if length and length.isdigit():
        return request.get_data(cache=False) if int(length) <= MAX_BODY else None
    stream = request.stream
    body = bytearray()
    while chunk := stream.read(65536):
        if len(body) <= MAX_BODY:
            body += chunk
    return bytes(body) if len(body) <= MAX_BODY else None


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").removeprefix("::ffff:")).is_loopback
    except ValueError:
        return False


def log_decision(req: Mapping[str, Any], decision: Decision) -> None:
    """Who asked for what, and which rule said what; never the object itself."""

    def mapping(value: Any) -> Mapping[str, Any]:
        return value if isinstance(value, Mapping) else {}

    meta = mapping(mapping(req.get("object")).get("metadata"))
    kind, user = mapping(req.get("kind")), mapping(req.get("userInfo"))
    rules = sorted({f.rule for f in decision.findings}) or ([decision.reason] if decision.reason else [])
    line = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "uid": req.get("uid"),
        "allowed": decision.allowed,
        "mode": decision.mode,
        "dryRun": bool(req.get("dryRun")),
        "operation": req.get("operation"),
        "namespace": req.get("namespace") or meta.get("namespace"),
        "kind": kind.get("kind"),
        "name": req.get("name") or meta.get("name") or meta.get("generateName"),
        "user": user.get("username"),
        "rules": rules,
        "message": decision.message if not decision.allowed else "; ".join(decision.warnings),
    }
    if decision.mode == "audit" and decision.findings:
        line["findings"] = listed([f"[{f.rule}] {f.message}" for f in decision.findings])
    decisions.info(json.dumps(line, separators=(",", ":"), default=str))


# /healthz fails when the cache has heard nothing for this many times maxCacheAgeSeconds.
LIVENESS_FACTOR = 5


def create_app(policy: Policy, nodes: NodeSource, defaults: Defaults | None = None, liveness_cache_age: float | None = None) -> Flask:
    """An app per policy and node source, so tests build one without globals; `defaults`
    completes templates as their pods are admitted (admission_defaults.AdmissionDefaults.apply)."""
    app = Flask("perf_webhook")
    live_bound = liveness_cache_age or LIVENESS_FACTOR * policy.max_cache_age_seconds
    metrics = Metrics(nodes)
    app.extensions["perf_webhook.metrics"] = metrics

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        code = err.code or 400
        metrics.bad_request(code)
        return _json({"error": err.description or err.name}, code)

    @app.post("/validate")
    def validate() -> Response:
        start = time.perf_counter()
        # The API server sends exactly this; anything else takes werkzeug's full parse.
        if request.environ.get("CONTENT_TYPE") != "application/json" and request.mimetype != "application/json":
            metrics.bad_request(415)
            return _json({"error": "the body must be application/json"}, 415)
        try:
            raw = _read_body()
        except OSError:  # the server's reader: the client stopped sending before the body's end
            metrics.bad_request(400)
            return _json({"error": "the body ended early"}, 400)
        except ParseException as err:
            # gunicorn's chunked reader (a chunk size that is not hex, a missing CRLF, a trailer it
            # refuses) raises as the body is read here: the client's framing, so a 400 and one
            # line, not a 500 with a traceback. The rest of the stream cannot be framed: close.
            metrics.bad_request(400)
            what = f"the chunked body is malformed: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
            log.warning("%s from %s: %s", request.path, request.remote_addr, what)
            closing = _json({"error": what}, 400)
            closing.headers["Connection"] = "close"
            return closing
        if raw is None:
            metrics.bad_request(413)
            return _json({"error": f"the body is larger than {MAX_BODY} bytes"}, 413)
        try:
            review = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            metrics.bad_request(400)
            return _json({"error": "the body is not JSON"}, 400)
        try:
            req = parse_review(review)
        except BadReview as err:
            metrics.bad_request(err.code)
            return _json({"error": str(err)}, err.code)
        uid = req["uid"]
        try:
            decision = decide(req, policy, nodes.views_for, defaults)
        except Exception:  # a bug must not become a 5xx the API server would retry into a storm
            log.exception("review %s failed", uid)
            mode = policy.mode_for(str(req.get("namespace") or ""))
            decision = Decision(mode != "enforce", mode, message="kubectl-perf could not judge this object (internal error)", code=400)
        if decision.skipped == STALE_CACHE and decision.allowed and decision.mode != "audit":
            decision.warnings.append(STALE_WARNING)
        if decision.skipped:
            metrics.padding_skipped(decision.skipped)
        rules = sorted({f.rule for f in decision.findings})
        outcome = "denied" if not decision.allowed else ("warned" if decision.warnings else "allowed")
        denied_by: list[str] = []
        if not decision.allowed:  # a denial without findings is a malformed object or an internal error
            denied_by = sorted({f.rule for f in decision.findings if f.deny}) or [decision.reason or "internal"]
        metrics.observe(outcome, rules, denied_by, time.perf_counter() - start)
        if not decision.allowed or decision.warnings or (decision.mode == "audit" and decision.findings):
            log_decision(req, decision)
        return _json(decision.body(uid))

    @app.get("/healthz")
    def healthz() -> Response:
        # Liveness: the process serves, and a synced cache has heard from the API server within
        # the liveness bound (issue 27 availability 8). Readiness fails first, at maxCacheAgeSeconds;
        # the feeds' watchdog reconnects on its own, so a restart is the last resort for a cache
        # that stayed silent several times longer (a wedged process, not a blip). Before the first
        # sync the startupProbe (/startupz) is the one that waits.
        age = nodes.age() if nodes.synced() else 0.0
        if age > live_bound:
            line = f"[-]node-cache heard from the API server {age:.0f}s ago (liveness bound {live_bound:g}s)\n"
            return Response(line + "healthz check failed\n", status=503, mimetype="text/plain")
        if "verbose" in request.args:
            # Node counts and feed errors (which name the API server's address) only to a caller on
            # loopback: kubectl port-forward or exec, which the API server's RBAC on the pod admits;
            # probes and anyone else on the network get the state alone (issue 27 operations 15).
            state = nodes.describe() if _loopback(request.remote_addr) else ("synced" if nodes.synced() else "not synced")
            return Response(f"[+]serving ok\n[+]node-cache {state}\nhealthz check passed\n", mimetype="text/plain")
        return Response("ok\n", mimetype="text/plain")

    @app.get("/startupz")
    def startupz() -> Response:
        # The chart's startupProbe: started once every feed has listed, so a new replica joins the
        # Service (and a rollout moves on) only with a cache to judge by.
        if nodes.synced():
            return Response("ok (node cache synced)\n", mimetype="text/plain")
        return Response("not started: node cache not synced yet\n", status=503, mimetype="text/plain")

    @app.get("/readyz")
    def readyz() -> Response:
        # Ready once serving: the requests rule needs no node data, and until the cache first
        # syncs the padding rules follow onStaleCache (so Fail does not reject every pod at start).
        # Once synced, a cache older than maxCacheAgeSeconds is not ready (issue 27 availability 8):
        # onStaleCache: allow is for blips, and a replica whose feed went silent leaves the Service
        # to replicas that still hear the API server instead of admitting unchecked for ever.
        if not nodes.synced():
            return Response("ok (node cache not synced: padding follows onStaleCache)\n", mimetype="text/plain")
        age = nodes.age()
        if age > policy.max_cache_age_seconds:
            message = (
                f"not ready: node cache heard from the API server {age:.0f}s ago (maxCacheAgeSeconds {policy.max_cache_age_seconds:g})\n"
            )
            return Response(message, status=503, mimetype="text/plain")
        return Response("ok (node cache synced)\n", mimetype="text/plain")

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(metrics.text(), mimetype=CONTENT_TYPE.split(";")[0], content_type=CONTENT_TYPE)

    return app
