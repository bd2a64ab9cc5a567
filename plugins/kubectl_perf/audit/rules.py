"""The audit's rules: IDs, categories and severities are part of the output contract."""

from __future__ import annotations

from collections.abc import Mapping

from ..reports import Ref, Result

# rule -> (category, severity)
RULES: dict[str, tuple[str, str]] = {
    "requests": ("Resources", "high"),
    "padding": ("Resources", "high"),
    "committed": ("Resources", "medium"),
    "node-padding": ("Resources", "high"),
    "memory-limit": ("Resources", "low"),
    "metrics-pipeline": ("Metrics", "medium"),
    "proxy-mode": ("Networking", "low"),
    "emptydir-size-limit": ("Storage", "medium"),
    "ephemeral-storage-requests": ("Storage", "low"),
    "image-pull-always": ("Images", "low"),
    "image-latest-tag": ("Images", "low"),
    "image-size": ("Images", "low"),
}


def result(
    rule: str,
    outcome: str,
    message: str,
    resource: Ref | None = None,
    properties: Mapping[str, object] | None = None,
    cluster: bool = False,
) -> Result:
    category, severity = RULES[rule]
    props = {k: str(v) for k, v in (properties or {}).items()}
    return Result(rule, category, outcome, severity, message, resource, props, cluster)
