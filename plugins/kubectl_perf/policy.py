"""The suite's policy: padding targets and admission rules, read from one file
that the webhook, capacity and audit all share."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

DEFAULT_PADDING = 0.75
SCHEMA_NAME = "policy.schema.json"


class PolicyError(ValueError):
    """A policy file that cannot be used, worded as one line naming the key."""


@dataclass(frozen=True)
class NodeTarget:
    selector: Mapping[str, Any]
    memory: float


@dataclass(frozen=True)
class Policy:
    mode: str = "enforce"
    require_requests: tuple[str, ...] = ("cpu", "memory")
    padding_memory: float = DEFAULT_PADDING
    node_targets: tuple[NodeTarget, ...] = ()
    committed: str = "off"
    exempt_namespaces: tuple[str, ...] = ("kube-system",)
    namespace_overrides: Mapping[str, str] = field(default_factory=dict)
    on_stale_cache: str = "allow"
    max_cache_age_seconds: float = 60.0

    def padding_target(self, node_labels: Mapping[str, str]) -> float:
        """The memory padding target of a node: first matching nodeTarget, else the default."""
        for target in self.node_targets:
            if selector_matches(target.selector, node_labels):
                return target.memory
        return self.padding_memory

    def mode_for(self, namespace: str) -> str:
        return self.namespace_overrides.get(namespace, self.mode)


def schema() -> dict[str, Any]:
    return json.loads(resources.files("kubectl_perf.schemas").joinpath(SCHEMA_NAME).read_text())


def _normalise(doc: Any) -> Any:
    # YAML 1.1 reads a bare `off` as false; the schema wants the word.
    padding = doc.get("padding") if isinstance(doc, dict) else None
    if isinstance(padding, dict) and padding.get("committed") is False:
        padding["committed"] = "off"
    return doc


def parse_policy(doc: Any, source: str = "policy") -> Policy:
    """Validate a policy document against the published schema and build a Policy."""
    import jsonschema

    if doc is None:
        doc = {}
    doc = _normalise(doc)
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise PolicyError(f"{source}: {where}: {_message(err)}")
    padding = doc.get("padding") or {}
    return Policy(
        mode=doc.get("mode", "enforce"),
        require_requests=tuple(doc.get("requireRequests", ("cpu", "memory"))),
        padding_memory=float(padding.get("memory", DEFAULT_PADDING)),
        node_targets=tuple(NodeTarget(t["selector"], float(t["memory"])) for t in padding.get("nodeTargets") or ()),
        committed=padding.get("committed", "off"),
        exempt_namespaces=tuple(doc.get("exemptNamespaces", ("kube-system",))),
        namespace_overrides=dict(doc.get("namespaceOverrides") or {}),
        on_stale_cache=doc.get("onStaleCache", "allow"),
        max_cache_age_seconds=float(doc.get("maxCacheAgeSeconds", 60.0)),
    )


def _message(err: Any) -> str:
    if err.validator == "additionalProperties":
        return err.message.replace("Additional properties are not allowed", "unknown key(s)")
    if err.validator == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    return str(err.message)


def load_policy(path: str) -> Policy:
    """Read a policy file (YAML or JSON)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except OSError as err:
        raise PolicyError(f"cannot read policy file {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise PolicyError(f"policy file {path} is not valid YAML{at}") from None
    if not isinstance(doc, (dict, type(None))):
        raise PolicyError(f"{path}: (top level): must be a mapping of policy keys")
    return parse_policy(doc, path)


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector against labels; the empty selector matches everything."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr["key"], expr["operator"], expr.get("values") or ()
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def missing_requests(spec: Mapping[str, Any], required: tuple[str, ...]) -> list[tuple[str, str]]:
    """(container, resource) pairs where a container, init container or sidecar
    requests nothing of a required resource. Ephemeral containers cannot carry
    resources and are not looked at. A pod-level request covers its containers."""
    from .model import all_containers

    pod_level = (spec.get("resources") or {}).get("requests") or {}
    missing: list[tuple[str, str]] = []
    for _kind, container in all_containers(spec):
        have = (container.get("resources") or {}).get("requests") or {}  # only names matter: no parsing
        missing.extend((container.get("name", "?"), r) for r in required if r not in have and r not in pod_level)
    return missing
