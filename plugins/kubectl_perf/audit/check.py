"""What an audit check is, and what it is handed: one record per check (rules.py lists them),
run by compute.py on what its scope judges. Pure types, no checks here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from ..image_sizes import NodeImages
from ..model import NodeView
from ..padding import Verdict
from ..policy import Policy
from ..reports import Ref
from .cluster_checks import ClusterFacts
from .outcome import Outcome
from .spec_checks import Spec

Scope = Literal["spec", "node", "cluster"]
# What a check may need beyond its subject; compute.py reports one skip per check whose read failed.
NODES = "nodes"  # the nodes themselves (their allocatable: padding budgets); a namespace user may not list them
NODE_USAGE = "node-usage"  # memory in use per node (metrics.k8s.io)
NODE_IMAGES = "node-images"  # the images nodes list (status.images)
PROXY = "proxy"  # the service proxy's configuration (ProxyInputs)
METRICS_API = "metrics-api"  # the metrics APIService and its Deployment


@dataclass(frozen=True)
class Template:
    """A spec check's subject: one template of a workload, as judged."""

    spec: Spec
    kind: str  # the workload's kind (a DaemonSet runs on every node)
    image_ids: Mapping[str, str] = field(default_factory=dict)  # container -> the imageID one of its pods runs


@dataclass(frozen=True)
class NodeFacts:
    """A node check's subject: one node's view, what its pods commit and use, judged once."""

    view: NodeView
    ref: Ref
    verdict: Verdict  # padding.judge on its memory in use (None: metrics do not say) and what its pods commit


@dataclass(frozen=True)
class Context:
    """What every check may consult: the policy, the thresholds, the nodes and their images."""

    policy: Policy
    thresholds: Mapping[str, int]  # the checks' policy keys (audit.*) -> value: defaults, then the file, then flags
    images: NodeImages
    nodes_for: Callable[[Spec], Sequence[NodeView]]  # the node views a spec's placement tells apart


S = TypeVar("S", Template, NodeFacts, ClusterFacts)


@dataclass(frozen=True)
class Check(Generic[S]):
    """One audit check (Polaris's one record per check). ID, category and severity are part of the
    output contract; `defaults` are its keys under the policy's `audit:` with their default values."""

    id: str
    category: str
    severity: str
    scope: Scope
    run: Callable[[S, Context], Outcome | None]  # None: nothing to say about this subject
    defaults: Mapping[str, int] = field(default_factory=dict)
    needs: str = ""  # a read it cannot run without (NODE_USAGE...); "" for none
