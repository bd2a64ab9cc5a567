"""Reading a policy file: YAML in, schema-checked, a Policy out. Kept apart from
policy.py so the rules stay pure; the schema is the published one the Helm chart
and the webhook validate against too."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from .padding import share
from .policy import DEFAULTS, Limits, NodeTarget, Policy

SCHEMA_NAME = "policy.schema.json"


class PolicyError(ValueError):
    """A policy file that cannot be used, worded as one line naming the key."""


def schema() -> dict[str, Any]:
    return json.loads(resources.files("kubectl_perf.schemas").joinpath(SCHEMA_NAME).read_text())


def _normalise(doc: Any) -> Any:
    # YAML 1.1 reads a bare `off` as false; the schema wants the word.
    padding = doc.get("padding") if isinstance(doc, dict) else None
    if isinstance(padding, dict):
        for key in ("committed", "requests"):
            if padding.get(key) is False:
                padding[key] = "off"
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
    top = {**DEFAULTS, **doc}  # a key the file leaves out takes the one default (policy.DEFAULTS)
    padding = {**DEFAULTS["padding"], **(doc.get("padding") or {})}
    limits = {**DEFAULTS["limits"], **(doc.get("limits") or {})}
    subjects = {**DEFAULTS["exemptSubjects"], **(doc.get("exemptSubjects") or {})}
    return Policy(
        mode=top["mode"],
        require_requests=tuple(top["requireRequests"]),
        padding_memory=share(padding["memory"]),  # 0.75 or "75%", as --padding-target takes it
        node_targets=tuple(NodeTarget(t["selector"], share(t["memory"])) for t in padding["nodeTargets"]),
        padding_limits=padding["limits"],
        padding_requests=padding["requests"],
        committed=padding["committed"],
        daemon_sets=padding["daemonSets"],
        eligible_nodes=padding["eligibleNodes"],
        no_eligible_node=padding["noEligibleNode"],
        exempt_namespaces=tuple(top["exemptNamespaces"]),
        namespace_overrides=dict(top["namespaceOverrides"]),
        on_stale_cache=top["onStaleCache"],
        max_cache_age_seconds=float(top["maxCacheAgeSeconds"]),
        audit=dict(doc.get("audit") or {}),
        limits=Limits(
            node_selector_terms=int(limits["nodeSelectorTerms"]),
            match_expressions=int(limits["matchExpressions"]),
            values=int(limits["values"]),
            tolerations=int(limits["tolerations"]),
            containers=int(limits["containers"]),
            cpu_seconds_per_review=float(limits["cpuSecondsPerReview"]),
        ),
        on_over_budget=top["onOverBudget"],
        messages=top["messages"],
        exempt_users=tuple(subjects["users"]),
        exempt_groups=tuple(subjects["groups"]),
        exempt_service_accounts=tuple(subjects["serviceAccounts"]),
        storage=dict(doc.get("storage") or {}),
    )


def _message(err: Any) -> str:
    fraction = any("%" in str(branch.get("pattern", "")) for branch in (err.schema.get("oneOf") or ()))
    if err.validator == "oneOf" and not fraction:  # another either-or (a size in bytes or with a unit): its description says
        return f"invalid value {err.instance!r}: {err.schema.get('description', 'see the policy schema')}"
    if err.validator == "oneOf" and err.context:
        # a fraction or a percentage (padding targets, volumes' storage thresholds): the branch of the value's own type speaks
        if list(err.absolute_path)[:1] == ["storage"]:
            return _threshold(err.instance)
        what = "padding target"
        own = [e for e in err.context if e.validator != "type"]
        if own and own[0].validator != "pattern":
            return _message(own[0])  # a number out of range: the schema's own words
        try:
            share(err.instance, what)
        except ValueError as why:
            return str(why)
        # share() reads it (a quoted fraction, spaces) but the schema's string form is a percentage only
        return f'invalid {what} {err.instance!r}: write a fraction unquoted (0.75) or a percentage ("75%")'
    if err.validator == "additionalProperties":
        return str(err.message).replace("Additional properties are not allowed", "unknown key(s)")
    if err.validator == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    return str(err.message)


def _threshold(value: Any) -> str:
    """Why `value` is no storage threshold (volumes' warn/crit), the value spelled as the file
    writes it (true, null, "75"), and 75 for 75% told apart from a share out of range."""
    shown = json.dumps(value)
    wanted = 'must be a fraction (0.75) or a percentage ("75%")'
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return f"threshold {shown} {wanted}"
    try:
        share(value, "threshold")
    except ValueError:
        pass
    else:  # share() reads it (a quoted fraction) but the schema's string form is a percentage only
        return f'invalid threshold {shown}: write a fraction unquoted (0.75) or a percentage ("75%")'
    text = str(value).strip()
    try:
        number = float(text.removesuffix("%"))
    except ValueError:
        return f"threshold {shown} {wanted}"
    if not text.endswith("%") and 1 < number <= 100:  # a percentage without its sign
        return f'{shown} is not a share: write {number / 100:g} or "{number:g}%"'
    return f"threshold {shown} must be above 0 and at most 1 (100%)"


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
