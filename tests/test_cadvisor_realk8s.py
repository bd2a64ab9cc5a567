"""kubectl perf cadvisor against the real kube-apiserver: how its node proxy fails.

There is no kubelet behind the real server, so every node read fails, each in the
API server's own way (a node without an address, a user without nodes/proxy): the
plugin must say so in one line per node, exit 1, and still print its report."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from conftest import KUBECTL, env_for
from inproc import perf as inproc_perf


def perf(kubeconfig: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """Through the real kubectl: the dump streams bytes through stdout's buffer, which a captured stream lacks."""
    env = env_for(None, KUBECONFIG=str(kubeconfig))
    return subprocess.run([KUBECTL, "perf", "cadvisor", *args], capture_output=True, text=True, env=env, timeout=120)


NODES = [
    # no address: the API server has nowhere to send the request (500)
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cadvisor-noaddr"}, "status": {"allocatable": {"memory": "16Gi"}}},
    # a loopback address: the API server refuses to proxy there (400)
    {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "cadvisor-loopback"},
        "status": {"allocatable": {"memory": "16Gi"}, "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]},
    },
]


def test_real_node_proxy_failures_are_one_line_notes(realk8s: Any) -> None:
    realk8s.load(NODES)
    names = [n["metadata"]["name"] for n in NODES]
    # the summary in this process (--kubeconfig: the client reads KUBECONFIG once per process)
    ran = inproc_perf(realk8s.kubeconfig, "cadvisor", "--kubeconfig", str(realk8s.kubeconfig), "--summary", "--once", "-o", "json", *names)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr, ran.stderr
    notes = [line for line in ran.stderr.splitlines() if line.startswith("note: node ")]
    assert sorted(line.split()[2].rstrip(":") for line in notes) == sorted(names), ran.stderr
    assert json.loads(ran.stdout) == {"containers": [], "nodes": []}  # still a report, an empty one
    # the dump of one node: the same kind of note, nothing on stdout
    result = perf(realk8s.kubeconfig, "cadvisor-loopback")
    assert result.returncode == 1 and result.stdout == "" and result.stderr.startswith("note: node cadvisor-loopback:"), result.stderr
    # user1 has no RBAC at all: nodes/proxy is forbidden, and the message says which permission
    result = perf(realk8s.user_kubeconfig, "cadvisor-loopback")
    assert result.returncode == 1 and "nodes/proxy permission" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
