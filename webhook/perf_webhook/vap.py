"""`perf-webhook vap`: the requests rule (zero counting as none) as a ValidatingAdmissionPolicy and
its bindings (admissionregistration.k8s.io/v1, CEL), from the same policy file. The API server then
enforces it in-process, cost-limited, with no network hop and no dependency on the webhook being
up; the webhook keeps the node-aware padding rules (issue 27, "let the API server do what it can").

Generated from the Policy: requireRequests, mode and namespaceOverrides (one binding per mode),
exemptNamespaces, exemptSubjects. The expressions say what policy.missing_requests says: a container,
init container or sidecar must request each required resource with a non-zero amount; its own
limit stands for a request it does not write (the API server defaults one from the other), and a
pod-level request or limit covers every container. Ephemeral containers are not looked at.
Templates (Deployments, ..., CronJobs) are judged by their pod template, as the webhook does, and
an UPDATE that leaves the pod spec as it was passes (labels on an old pod stay editable). A policy
that requires no requests prints nothing (and says so on stderr): a ValidatingAdmissionPolicy
needs at least one validation."""

from __future__ import annotations

import re
import sys
from typing import Any

from kubectl_perf.cli import Parser
from kubectl_perf.policy import Policy
from kubectl_perf.policy_file import PolicyError, load_policy

SUMMARY = "print the requests rule as a ValidatingAdmissionPolicy and bindings (YAML), from the policy file"
API_VERSION = "admissionregistration.k8s.io/v1"
ACTIONS = {"enforce": ["Deny"], "warn": ["Warn"], "audit": ["Audit"]}
# Object names are RFC 1123 subdomains (the API server's IsDNS1123Subdomain): dot-separated labels of
# lowercase alphanumerics and '-', each starting and ending alphanumeric, 253 characters in all. The
# bindings are named NAME-MODE, so NAME leaves room for the longest suffix, whichever modes are used.
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
MAX_NAME = 253 - max(len(f"-{mode}") for mode in ACTIONS)
# Where each kind keeps its pod spec (kubectl_perf.shapes.POD_SPEC_PATHS), as CEL.
SPEC = (
    "object.kind == 'Pod' ? object.spec : object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec"
)
OLD_SPEC = SPEC.replace("object.", "oldObject.")
RULES = [
    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods", "replicationcontrollers"]},
    {
        "apiGroups": ["apps"],
        "apiVersions": ["v1"],
        "operations": ["CREATE", "UPDATE"],
        "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"],
    },
    {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["jobs", "cronjobs"]},
]


def _amount(holder: str, resource: str) -> str:
    """CEL: the amount of `resource` requested at `holder` (a container or the pod spec): its request,
    else its limit, else "0", as a quantity's sign (0: none)."""
    r = f"'{resource}'"
    return (
        f"quantity(string({holder}.?resources.?requests[?{r}]"
        f".or({holder}.?resources.?limits[?{r}]).orValue('0'))).isGreaterThan(quantity('0'))"
    )


def _requested(resource: str) -> str:
    return f"{_amount('c', resource)} || {_amount('variables.spec', resource)}"


def policy_objects(policy: Policy, name: str = "kubectl-perf-requests") -> list[dict[str, Any]]:
    """The ValidatingAdmissionPolicy and its bindings for `policy`; none when it requires no
    requests, as the API server refuses a policy without validations (and one that always
    passes would be a CEL evaluation on every pod write for nothing)."""
    if not policy.require_requests:
        return []
    validations = []
    for resource in policy.require_requests:
        missing = f"variables.containers.filter(c, !({_requested(resource)})).map(c, c.name)"
        validations.append(
            {
                "expression": f"variables.containers.all(c, {_requested(resource)})",
                "messageExpression": (
                    f"'kubectl-perf: no {resource} request (0 counts as none) in container(s) ' + "
                    f"{missing}.map(n, \"'\" + n + \"'\").join(', ')"
                ),
                "reason": "Forbidden",
            }
        )
    conditions = [
        # an UPDATE that leaves the pod spec as it was passes (the webhook's "unchanged")
        {"name": "spec-changed", "expression": f"request.operation == 'CREATE' || oldObject == null || ({SPEC}) != ({OLD_SPEC})"},
    ]
    users = [*policy.exempt_users, *(f"system:serviceaccount:{sa.replace('/', ':', 1)}" for sa in policy.exempt_service_accounts)]
    if users:
        conditions.append({"name": "not-exempt-user", "expression": f"!(request.userInfo.username in {_list(users)})"})
    if policy.exempt_groups:
        conditions.append(
            {"name": "not-exempt-group", "expression": f"!request.userInfo.groups.exists(g, g in {_list(policy.exempt_groups)})"}
        )
    vap = {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "perf-webhook"}},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": RULES},
            "matchConditions": conditions,
            "variables": [
                {"name": "spec", "expression": SPEC},
                {"name": "containers", "expression": "variables.spec.containers + variables.spec.?initContainers.orValue([])"},
            ],
            "validations": validations,
        },
    }
    # One binding per mode in use: the default mode everywhere but the exempt and overridden
    # namespaces, each override mode in its own namespaces.
    modes: dict[str, list[str]] = {}
    for namespace, mode in policy.namespace_overrides.items():
        if namespace not in policy.exempt_namespaces and mode != policy.mode:  # an override to the default mode is no override
            modes.setdefault(mode, []).append(namespace)
    bindings = []
    not_default = sorted({*policy.exempt_namespaces, *(ns for names in modes.values() for ns in names)})
    selectors = [(policy.mode, {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": not_default})]
    selectors += [
        (mode, {"key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(ns)}) for mode, ns in sorted(modes.items())
    ]
    for mode, expression in selectors:
        if expression["operator"] == "NotIn" and not expression["values"]:
            selector: dict[str, Any] = {}
        else:
            selector = {"matchExpressions": [expression]}
        bindings.append(
            {
                "apiVersion": API_VERSION,
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": f"{name}-{mode}", "labels": {"app.kubernetes.io/managed-by": "perf-webhook"}},
                "spec": {
                    "policyName": name,
                    "validationActions": ACTIONS[mode],
                    "matchResources": {"namespaceSelector": selector},
                },
            }
        )
    return [vap, *bindings]


def _list(items: Any) -> str:
    """A CEL list of string literals (policy values are plain names: no quotes or backslashes pass the schema)."""
    return "[" + ", ".join("'" + str(i).replace("\\", "\\\\").replace("'", "\\'") + "'" for i in items) + "]"


def main(argv: list[str]) -> int:
    p = Parser(
        prog="perf-webhook vap",
        description=SUMMARY[0].upper() + SUMMARY[1:] + ".",
    )
    p.add_argument("--policy", required=True, help="the policy file (the webhook's)")
    p.add_argument("--name", default="kubectl-perf-requests", help="the policy's name; bindings add -MODE (default %(default)s)")
    args = p.parse_args(argv)
    if not _SUBDOMAIN.fullmatch(args.name) or len(args.name) > MAX_NAME:
        print(
            f"error: --name {args.name!r} is not a valid object name: lowercase letters, digits, '-' and '.', "
            f"starting and ending with a letter or digit, at most {MAX_NAME} characters (the bindings add -MODE)",
            file=sys.stderr,
        )
        return 2
    try:
        policy = load_policy(args.policy)
    except PolicyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    objects = policy_objects(policy, args.name)
    if not objects:
        print(
            "note: the policy requires no requests (requireRequests: []): no ValidatingAdmissionPolicy to print; "
            "remove one applied earlier with kubectl delete validatingadmissionpolicies,validatingadmissionpolicybindings "
            "-l app.kubernetes.io/managed-by=perf-webhook",
            file=sys.stderr,
        )
        return 0
    import yaml

    sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=False))
    return 0
