"""Issue 23, "Checked in a browser": each -o html page of a 1,000-node x 30-pod generated perf-sim
cluster, rendered in headless chromium at 1400x900; what the first screen holds is read from the
DOM after load.

A probe script is appended to a copy of each page (here only, never in the product): it writes
each interesting element's top and height, and whether it sits in a closed <details>, into the DOM,
which --dump-dom then prints. Screenshots are
not taken (and none is kept in the repository).

Which nodes breach is worked out here from the sim's own API answers (Node allocatable, NodeMetrics
usage) and examples/policy.yaml's targets, with exact fractions: never from the code under test."""

from __future__ import annotations

import re
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Sim
from inproc import perf
from test_html_report import browser, pytestmark  # noqa: F401  (the same chromium, skipped the same way)

POLICY = ROOT / "examples" / "policy.yaml"
WINDOW = (1400, 900)
MAX_BYTES = 1_500_000  # issue 23: pages stay under about 1.5 MB at 1,000 nodes x 30 pods
PROBE = """<script>
(function(){
var sel='table,tr,h1,h2,h3,details,section,[data-node],[data-image],[data-score],p.score';
document.querySelectorAll(sel).forEach(function(e){var r=e.getBoundingClientRect();
e.setAttribute('data-probe-top',String(Math.round(r.top+window.scrollY)));e.setAttribute('data-probe-h',String(Math.round(r.height)));
var d=e.parentElement&&e.parentElement.closest('details');e.setAttribute('data-probe-hidden',d&&!d.open&&!e.closest('summary')?'1':'0');});
document.body.setAttribute('data-probe-vh',String(window.innerHeight));
document.body.setAttribute('data-probe-vw',String(window.innerWidth));
})();
</script>"""

# After the probe: use the page's own tools on the breaching list (filter "io-", then sort by name)
# and write what they left into the body, to show the list is searchable and sortable in place.
TOOLS = """<script>
(function(){
var list=document.getElementById('breaching-nodes'),tools=list.previousElementSibling,q=tools.querySelector('input');
q.value='io-';q.dispatchEvent(new Event('input'));
var shown=Array.prototype.filter.call(list.children,function(e){return !e.hidden;}).map(function(e){return e.getAttribute('data-node');});
document.body.setAttribute('data-tools-filtered',shown.join(' '));
q.value='';q.dispatchEvent(new Event('input'));
Array.prototype.filter.call(tools.querySelectorAll('button'),function(b){return b.textContent==='sort by name';})[0].click();
document.body.setAttribute('data-tools-sorted',Array.prototype.map.call(list.children,function(e){return e.getAttribute('data-node');}).join(' '));
})();
</script>"""

UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(text: str) -> Fraction:
    """The memory quantity forms the sim writes (30701Mi, 123456Ki, 12Gi, 1.5Gi), in bytes: parsed here,
    apart from the suite's own parser."""
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text)
    assert match and match.group(2) in UNITS, text
    return Fraction(match.group(1)) * UNITS[match.group(2)]


def target(labels: dict[str, str]) -> Fraction:
    """examples/policy.yaml by hand: workload=io 50%, workload=compute 90%, everything else 75%."""
    return {"io": Fraction(1, 2), "compute": Fraction(9, 10)}.get(labels.get("workload", ""), Fraction(3, 4))


@pytest.fixture(scope="module")
def big(sim_factory: Any) -> Sim:
    return sim_factory("--nodes", "1000", "--pods-per-node", "30")


@pytest.fixture(scope="module")
def breaching(big: Sim) -> set[str]:
    """Nodes whose memory in use passes allocatable x target (the usage breach; limits only overcommit)."""
    nodes = {n["metadata"]["name"]: n for n in big.get("/api/v1/nodes")["items"]}
    usage = {m["metadata"]["name"]: quantity(m["usage"]["memory"]) for m in big.get("/apis/metrics.k8s.io/v1beta1/nodes")["items"]}
    out = set()
    for name, node in nodes.items():
        alloc = quantity(node["status"]["allocatable"]["memory"])
        if name in usage and usage[name] > alloc * target(node["metadata"].get("labels") or {}):
            out.add(name)
    assert 0 < len(out) < len(nodes)  # the generated cluster has both, or the test proves nothing
    return out


class Dom(HTMLParser):
    """Every element in document order: (tag, attributes, the text inside it up to its next child)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.body: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = a
        self.elements.append((tag, a))

    def where(self, **match: str) -> list[dict[str, str]]:
        return [a for _t, a in self.elements if all(a.get(k) == v for k, v in match.items())]


def render(tmp_path: Path, name: str, html: str, after: str = "") -> tuple[Dom, str]:
    """The page's DOM after load at 1400x900, with the probe's figures (then `after`, a script run
    once they are taken); and the dumped DOM text."""
    assert len(html.encode()) < MAX_BYTES, f"{name}: {len(html.encode())} bytes"
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "self-contained: nothing fetched from the network"
    page = tmp_path / f"{name}.html"
    page.write_text(html.replace("</body>", PROBE + after + "</body>"))
    text = browser(tmp_path, f"--window-size={WINDOW[0]},{WINDOW[1]}", "--dump-dom", page.as_uri())
    dom = Dom()
    dom.feed(text)
    # the layout width is the window's; headless chromium's --dump-dom keeps some of the 900px height
    # for a window frame (innerHeight 757), but heights do not change this layout (no vh units): the
    # first screen is the top 900px, as a --screenshot at this size shows it
    assert dom.body.get("data-probe-vw") == "1400", dom.body
    assert "vh" not in re.sub(r"<script.*?</script>", "", html, flags=re.S).split("</style>")[0].split("<style>")[-1]
    return dom, text


def first_screen(a: dict[str, str]) -> bool:
    """Wholly inside the first screen: shown (not in a closed <details>) and ending above 900px."""
    return not collapsed(a) and int(a["data-probe-h"]) > 0 and int(a["data-probe-top"]) + int(a["data-probe-h"]) <= WINDOW[1]


def collapsed(a: dict[str, str]) -> bool:
    """Inside a closed <details> (chromium still lays such content out, so its rectangle says nothing)."""
    return a["data-probe-hidden"] == "1"


def test_capacity_page(big: Sim, breaching: set[str], tmp_path: Path) -> None:
    args = ("--util", "--policy", str(POLICY), "--by", "node-label:node-pool", "-o", "html")
    ran = perf(big.kubeconfig, "capacity", "--kubeconfig", str(big.kubeconfig), *args)
    assert ran.returncode == 0, ran.stderr
    dom, text = render(tmp_path, "capacity", ran.stdout, TOOLS)
    # the pool table, every pool and the cluster row, wholly on the first screen
    (pools,) = dom.where(**{"class": "pools"})
    assert first_screen(pools)
    groups = [a for _t, a in dom.elements if "data-group" in a]
    assert sorted(g["data-group"] for g in groups) == ["compute", "general", "gpu", "io"]
    assert all(first_screen(a) for a in groups) and all(first_screen(a) for a in dom.where(**{"data-node": "*"}))
    table = text[text.index('<table class="pools"') : text.index("</table>", text.index('<table class="pools"'))]
    assert f"BREACH {len(breaching)}/1000 nodes" in table  # the count, hand-worked above
    assert re.search(r"\d+%", table) and "headroom to target" in table  # figures with their shares
    assert not re.search(r"general-\d{5}|compute-\d{5}|io-\d{5}|gpu-\d{5}", table), "no node names in the pool table"
    # the breaching nodes, laid out, before every other node; the others collapsed
    blocks = [a for _t, a in dom.elements if "data-node" in a and a["data-node"] != "*" and "node" in a.get("class", "").split()]
    assert len(blocks) == 1000
    first_other = next(i for i, a in enumerate(blocks) if "breach" not in a["class"].split())
    assert {a["data-node"] for a in blocks[:first_other]} == breaching and first_other == len(breaching)
    assert all(not collapsed(a) for a in blocks[:first_other]) and all(collapsed(a) for a in blocks[first_other:])
    (breach_heading,) = [a for t, a in dom.elements if t == "h2" and a.get("id") == "breaching"]
    assert int(breach_heading["data-probe-top"]) < WINDOW[1]  # the breaching section starts on the first screen
    # the script's tools came up (the first screen did not need them), and they work in place
    assert 'placeholder="filter by name"' in text
    filtered = dom.body["data-tools-filtered"].split()
    assert filtered and set(filtered) == {n for n in breaching if n.startswith("io-")}
    assert dom.body["data-tools-sorted"].split() == sorted(breaching)


def test_audit_page(big: Sim, breaching: set[str], tmp_path: Path) -> None:
    ran = perf(big.kubeconfig, "audit", "--kubeconfig", str(big.kubeconfig), "--policy", str(POLICY), "-o", "html")
    assert ran.returncode == 1, ran.stderr  # failures found
    dom, _text = render(tmp_path, "audit", ran.stdout)
    rule_counts = [a for _t, a in dom.elements if "data-rule-count" in a]
    categories = [a for _t, a in dom.elements if "data-category" in a]
    assert rule_counts and categories
    assert all(first_screen(a) for a in rule_counts + categories)
    assert all(first_screen(a) for a in dom.where(**{"class": "score"}))
    # failing workloads grouped by rule: each section holds its own rule's rows only
    sections = [(i, a["data-rule-group"]) for i, (t, a) in enumerate(dom.elements) if t == "section"]
    assert sections
    after = next((i for i, (t, _a) in enumerate(dom.elements) if i > sections[-1][0] and t == "h2"), len(dom.elements))
    bounds = [*(i for i, _r in sections), after]  # the warnings' heading ends the last section
    for (start, rule), end in zip(sections, bounds[1:], strict=True):
        rows = [a for _t, a in dom.elements[start:end] if "data-rule" in a]
        assert rows and {a["data-rule"] for a in rows} == {rule}
    node_padding = {a["data-resource"].removeprefix("Node/") for a in dom.where(**{"data-rule": "node-padding", "data-result": "fail"})}
    assert node_padding == breaching  # the same verdict as capacity's, hand-worked above
    # warnings collapsed
    warned = [a for t, a in dom.elements if t == "tr" and a.get("data-result") == "warn"]
    assert warned and all(collapsed(a) for a in warned)


def test_cadvisor_page(big: Sim, breaching: set[str], tmp_path: Path) -> None:
    args = ("--summary", "--all-nodes", "--once", "--policy", str(POLICY), "-o", "html")
    ran = perf(big.kubeconfig, "cadvisor", "--kubeconfig", str(big.kubeconfig), *args)
    assert ran.returncode == 0, ran.stderr
    dom, _text = render(tmp_path, "cadvisor", ran.stdout)
    (pools,) = dom.where(**{"class": "pools"})
    assert first_screen(pools)
    pool_rows = [a for t, a in dom.elements if t == "tr" and "data-pool" in a]
    assert {a["data-pool"] for a in pool_rows} == {"compute", "general", "gpu", "io"}
    # flagged containers come before the node table; the node table lists breaching nodes first
    tags = [(t, a) for t, a in dom.elements]
    first_flagged = next(i for i, (t, a) in enumerate(tags) if t == "tr" and a.get("class") == "container")
    nodes_at = next(i for i, (t, a) in enumerate(tags) if t == "h2" and a.get("id") == "nodes")
    assert first_flagged < nodes_at and tags[first_flagged][1]["data-flags"]
    node_rows = [a for t, a in tags if t == "tr" and a.get("class") == "node"]
    assert len(node_rows) == 1000
    assert [a["data-breach"] for a in node_rows] == ["true"] * len(breaching) + ["false"] * (1000 - len(breaching))


def test_images_page(big: Sim, tmp_path: Path) -> None:
    ran = perf(big.kubeconfig, "images", "--kubeconfig", str(big.kubeconfig), "-o", "html")
    assert ran.returncode == 0, ran.stderr
    dom, _text = render(tmp_path, "images", ran.stdout)
    top = [a for t, a in dom.elements if t == "tr" and "data-top-image" in a]
    assert len(top) == 10 and all(first_screen(a) for a in top)
    plan = [a for t, a in dom.elements if t == "tr" and "data-prepull" in a]
    assert plan and all(first_screen(a) for a in plan)  # the pre-pull plan, wholly on the first screen
    bars = [a for t, a in dom.elements if "data-image" in a]
    assert bars and all(collapsed(a) for a in bars)  # every image's bar, collapsed below
