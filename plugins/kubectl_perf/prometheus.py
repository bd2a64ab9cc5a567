"""A small Prometheus HTTP API client (stdlib urllib): range queries, as rightsize reads
usage history. No new dependency: one GET per query, JSON back, every error one line."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Prometheus refuses a range query of more than 11,000 points per series; stay under it.
MAX_POINTS = 11_000

Series = tuple[dict[str, str], list[tuple[float, float]]]  # (labels, [(unix seconds, value)])


class PrometheusError(Exception):
    """Prometheus could not answer, worded as the one line a user should see."""


@dataclass(frozen=True)
class Prometheus:
    url: str  # the server's base URL (a path prefix such as a proxy's is kept)
    headers: Mapping[str, str] = field(default_factory=dict)  # --prometheus-header, the bearer token
    timeout: float = 60.0  # seconds for one query's answer
    insecure: bool = False  # do not check the server's certificate

    def query_range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        """The series of a range query; raises PrometheusError (bad query, HTTP error, timeout)."""
        if (end - start) / step > MAX_POINTS:
            raise PrometheusError(f"a range of {(end - start) / step:.0f} points per series is more than Prometheus answers ({MAX_POINTS})")
        params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}s"}
        data = self._post("/api/v1/query_range", params)
        if data.get("resultType") != "matrix":
            raise PrometheusError(f"{self.url}: a range query answered {data.get('resultType')!r}, not a matrix")
        out: list[Series] = []
        for item in data.get("result") or ():
            points = [(float(t), float(v)) for t, v in item.get("values") or ()]
            out.append((dict(item.get("metric") or {}), points))
        return out

    def _post(self, path: str, params: Mapping[str, str]) -> Any:
        # POST with a form body, as Prometheus accepts: a long pod=~ regex would not fit a URL.
        body = urllib.parse.urlencode(params).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json", **self.headers}
        request = urllib.request.Request(self.url.rstrip("/") + path, data=body, headers=headers, method="POST")
        context = ssl._create_unverified_context() if self.insecure else None  # noqa: S323 -- the user asked for it
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=context) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raw = err.read()
            raise PrometheusError(f"{self.url}: {err.code} {_error_text(raw) or err.reason}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise PrometheusError(f"{self.url}: cannot query Prometheus: {reason}") from None
        try:
            doc = json.loads(raw)
        except ValueError:
            raise PrometheusError(f"{self.url}: the answer is not JSON (is this a Prometheus server?)") from None
        if not isinstance(doc, dict) or doc.get("status") != "success":
            raise PrometheusError(f"{self.url}: {_error_text(raw) or 'the query failed'}")
        return doc.get("data") or {}


def _error_text(raw: bytes) -> str:
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace").strip().splitlines()[0] if raw.strip() else ""
    return str(doc.get("error") or "") if isinstance(doc, dict) else ""


def regex_alternatives(names: list[str]) -> str:
    """names as one PromQL regex (a|b|c), each quoted: a pod name has dots but no regex metacharacters to mean."""
    import re

    return "|".join(re.escape(n) for n in names)


def label_value(text: str) -> str:
    """A string literal for a PromQL label matcher."""
    return json.dumps(text)
