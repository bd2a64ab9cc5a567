"""The HTML capacity report, rendered by a real headless browser (Debian's chromium)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import Sim
from test_capacity import perf

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]

pytestmark = pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"), reason="chromium is not installed (./dev test installs it)")


def browser(tmp: Path, *args: str) -> str:
    assert CHROMIUM, "CI must have chromium: .ci/run installs it"
    result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class Bars(HTMLParser):
    """Collects each node block and the bars inside it from the browser's DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[str, dict[str, Any]] = {}
        self.current: str | None = None
        self.resource: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-node" in a:
            self.current = a["data-node"] or ""
            self.nodes[self.current] = {"classes": (a.get("class") or "").split(), "bars": {}}
        elif "data-resource" in a:
            self.resource = a["data-resource"]
        elif "data-requests" in a and self.current is not None and self.resource:
            self.nodes[self.current]["bars"][self.resource] = (float(a["data-requests"] or 0), float(a["data-limits"] or 0))


def test_report_renders_a_bar_per_node(fixture_cluster: Sim, tmp_path: Path) -> None:
    html = perf(fixture_cluster, "--util", "-o", "html").stdout
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "self-contained: nothing fetched from the network"
    page = tmp_path / "capacity.html"
    page.write_text(html)
    dom = browser(tmp_path, "--dump-dom", page.as_uri())
    bars = Bars()
    bars.feed(dom)
    assert set(bars.nodes) == {"*", "node-a", "node-b", "node-gpu"}
    assert "breach" in bars.nodes["node-b"]["classes"] and "breach" not in bars.nodes["node-a"]["classes"]
    # node-a memory: requests 3640Mi and limits 4608Mi of 16384Mi allocatable
    assert bars.nodes["node-a"]["bars"]["memory"] == (round(3640 / 16384 * 100, 1), round(4608 / 16384 * 100, 1))
    # node-b cpu: 3 of 7.91 cores requested, no cpu limits
    assert bars.nodes["node-b"]["bars"]["cpu"] == (round(3 / 7.91 * 100, 1), 0.0)
    assert "pending-big" in dom and "Pending pods (1)" in dom
    grouped = tmp_path / "grouped.html"
    grouped.write_text(perf(fixture_cluster, "--util", "--by", "label:team", "-o", "html").stdout)
    teams = re.findall(r'<tr data-group="([^"]+)"><td>[^<]*</td><td>(\d+)</td>', browser(tmp_path, "--dump-dom", grouped.as_uri()))
    # storefront: web-1 and web-2 (pending-big and the finished batch pods are not counted)
    assert dict(teams) == {"data": "2", "research": "2", "security": "1", "storefront": "2"}
    shot = tmp_path / "shot.png"
    browser(tmp_path, f"--screenshot={shot}", "--window-size=1400,900", page.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a blank page compresses to a few hundred bytes
