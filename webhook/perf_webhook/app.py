"""The Flask application: POST /validate, /healthz, /readyz, /metrics."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from flask import Flask, Response, request
from kubectl_perf.model import NodeView
from kubectl_perf.policy import Policy
from werkzeug.exceptions import HTTPException

from .metrics import Metrics
from .review import BadReview, Decision, decide, parse_review

MAX_BODY = 3 * 1024 * 1024
log = logging.getLogger("perf_webhook")


class NodeSource(Protocol):
    def views_for(self, spec: Mapping[str, Any]) -> list[NodeView] | None: ...
    def age(self) -> float: ...
    def node_count(self) -> int: ...
    @property
    def synced(self) -> Any: ...


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json")


def _read_body() -> bytes | None:
    """The request body, or None when it is over MAX_BODY. An oversized body is
    read to its end and dropped, so the client gets its 413 instead of a reset."""
    length = request.content_length
    if length is not None and length <= MAX_BODY:
        return request.get_data(cache=False)
    stream = request.stream
    body = bytearray()
    while chunk := stream.read(65536):
        if len(body) <= MAX_BODY:
            body += chunk
    return bytes(body) if len(body) <= MAX_BODY else None


def create_app(policy: Policy, nodes: NodeSource) -> Flask:
    """An app per policy and node source, so tests build one without globals."""
    app = Flask("perf_webhook")
    metrics = Metrics()

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        code = err.code or 400
        metrics.bad_request(code)
        return _json({"error": err.description or err.name}, code)

    @app.post("/validate")
    def validate() -> Response:
        start = time.perf_counter()
        if request.mimetype != "application/json":
            metrics.bad_request(415)
            return _json({"error": "the body must be application/json"}, 415)
        raw = _read_body()
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
            decision = decide(req, policy, nodes.views_for)
        except Exception:  # a bug must not become a 5xx the API server would retry into a storm
            log.exception("review %s failed", uid)
            mode = policy.mode_for(str(req.get("namespace") or ""))
            decision = Decision(mode != "enforce", mode, message="kubectl-perf could not judge this object (internal error)", code=500)
        rules = sorted({f.rule for f in decision.findings})
        outcome = "denied" if not decision.allowed else ("warned" if decision.warnings else "allowed")
        metrics.observe(outcome, rules, time.perf_counter() - start)
        if decision.findings and (decision.mode == "audit" or req.get("dryRun")):
            log.info(
                json.dumps(
                    {
                        "uid": uid,
                        "mode": decision.mode,
                        "dryRun": bool(req.get("dryRun")),
                        "kind": (req.get("kind") or {}).get("kind"),
                        "namespace": req.get("namespace"),
                        "findings": [f.message for f in decision.findings],
                    }
                )
            )
        return _json(decision.body(uid))

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.get("/readyz")
    def readyz() -> Response:
        if nodes.synced.is_set():
            return Response("ok\n", mimetype="text/plain")
        return Response("node cache not synced\n", status=503, mimetype="text/plain")

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(metrics.text(nodes.age(), nodes.node_count()), mimetype="text/plain; version=0.0.4")

    return app
