"""The audit's checks, one record each, in one list: it drives which checks run (--disable,
audit.disable), their order (categories in first-seen order), --disable's choices, shell
completion, the README's rule table and the policy schema's audit.disable enum (both tested
against it). IDs, categories and severities are part of the output contract.

To add a check: write it as a pure function in the module of its scope (spec_checks.py,
image_checks.py, node_checks.py, cluster_checks.py), add its record here, its row to the
README's table and its ID to the schema's enum; a read it needs goes in fetch.py's plan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..reports import Ref, Result
from . import node_checks, policy_checks
from .check import METRICS_API, NODE_IMAGES, NODE_USAGE, NODES, PROXY, Check
from .cluster_checks import DEFAULT_METRICS_REPLICAS, DEFAULT_PROXY_THRESHOLD, metrics_pipeline, proxy_mode
from .image_checks import DEFAULT_IMAGE_SIZE_THRESHOLD, image_latest_tag, image_pull_always, image_size
from .outcome import Outcome
from .spec_checks import emptydir_size_limit, ephemeral_storage_requests, memory_limit

CHECKS: tuple[Check[Any], ...] = (
    Check("requests", "Resources", "high", "spec", policy_checks.requests),
    Check("padding", "Resources", "high", "spec", policy_checks.padding, needs=NODES),
    Check("committed", "Resources", "medium", "node", node_checks.committed),
    Check("node-padding", "Resources", "high", "node", node_checks.node_padding, needs=NODE_USAGE),
    Check("memory-limit", "Resources", "low", "spec", lambda t, _c: memory_limit(t.spec)),
    Check(
        "metrics-pipeline",
        "Metrics",
        "medium",
        "cluster",
        lambda f, c: metrics_pipeline(f.metrics_apiservice, f.metrics_backend, c.thresholds["metricsServerReplicas"]),
        {"metricsServerReplicas": DEFAULT_METRICS_REPLICAS},
        METRICS_API,
    ),
    Check(
        "proxy-mode",
        "Networking",
        "low",
        "cluster",
        lambda f, c: proxy_mode(f.proxy, c.thresholds["proxyThreshold"]),
        {"proxyThreshold": DEFAULT_PROXY_THRESHOLD},
        PROXY,
    ),
    Check("emptydir-size-limit", "Storage", "medium", "spec", lambda t, _c: emptydir_size_limit(t.spec)),
    Check("ephemeral-storage-requests", "Storage", "low", "spec", lambda t, _c: ephemeral_storage_requests(t.spec)),
    Check("image-pull-always", "Images", "low", "spec", lambda t, _c: image_pull_always(t.spec)),
    Check("image-latest-tag", "Images", "low", "spec", lambda t, _c: image_latest_tag(t.spec)),
    Check(
        "image-size",
        "Images",
        "low",
        "spec",
        lambda t, c: image_size(t.spec, c.images, c.thresholds["imageSizeThreshold"], t.image_ids),
        {"imageSizeThreshold": DEFAULT_IMAGE_SIZE_THRESHOLD},
        NODE_IMAGES,
    ),
)
BY_ID: Mapping[str, Check[Any]] = {c.id: c for c in CHECKS}
CATEGORY_ORDER: Mapping[str, int] = {c: i for i, c in enumerate(dict.fromkeys(c.category for c in CHECKS))}
# Every check's keys under the policy's `audit:`, with their defaults.
THRESHOLDS: Mapping[str, int] = {k: v for c in CHECKS for k, v in c.defaults.items()}


def result(
    check: Check[Any], outcome: Outcome, resource: Ref | None, extra: Mapping[str, object] | None = None, cluster: bool = False
) -> Result:
    """A check's outcome on one resource as the reports carry it (properties as text)."""
    props = {k: str(v) for k, v in {**outcome.properties, **(extra or {})}.items()}
    return Result(check.id, check.category, outcome.result, check.severity, outcome.message, resource, props, cluster)
