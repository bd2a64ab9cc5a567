"""The images report (-o html), rendered by a real headless browser (Debian's chromium)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from conftest import Sim
from inproc import perf
from test_html_report import browser, pytestmark  # noqa: F401  (the same chromium, skipped the same way)
from test_images import hand_cluster  # noqa: F401  (the hand-worked cluster fixture)

M = 1_000_000


class Images(HTMLParser):
    """Each image block, its bar and its suggestion, from the browser's DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.images: dict[str, dict[str, Any]] = {}
        self.current: str | None = None
        self.prepull: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-image" in a:
            self.current = a["data-image"] or ""
            self.images[self.current] = {"size": a.get("data-size"), "classes": (a.get("class") or "").split()}
        elif "data-width" in a and self.current is not None:
            self.images[self.current]["width"] = float(a["data-width"] or 0)
        elif "data-suggestion" in a and self.current is not None:
            self.images[self.current]["suggestion"] = a["data-suggestion"]
        elif "data-prepull" in a:
            self.prepull.append(a["data-prepull"] or "")


def test_report_renders_a_bar_per_image(hand_cluster: Sim, tmp_path: Path) -> None:  # noqa: F811
    ran = perf(
        hand_cluster.kubeconfig, "images", "--kubeconfig", str(hand_cluster.kubeconfig), "-o", "html"
    )  # --kubeconfig: see inproc use in test_images
    assert ran.returncode == 0, ran.stderr
    html = ran.stdout
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "self-contained: nothing fetched from the network"
    page = tmp_path / "images.html"
    page.write_text(html)
    dom = browser(tmp_path, "--dump-dom", page.as_uri())
    parsed = Images()
    parsed.feed(dom)
    assert len(parsed.images) == 5
    py = parsed.images["docker.io/library/python:3.12"]
    # the largest image (411 MB) fills the bar; node:22 (409 MB) is 409/411 of it
    assert (py["size"], py["width"]) == (str(411 * M), 100.0)
    assert parsed.images["docker.io/library/node:22"]["width"] == round(409 / 411 * 100, 1)
    assert py["suggestion"] == "gcr.io/distroless/python3-debian13"
    busybox = parsed.images["docker.io/library/busybox:latest"]
    assert "unknown" in busybox["classes"] and busybox["width"] == 0.0 and "suggestion" not in busybox
    assert parsed.prepull == ["docker.io/library/node:22", "docker.io/library/python:3.12"]
    assert "5 images in use, 820 MB unique" in dom
    shot = tmp_path / "shot.png"
    browser(tmp_path, f"--screenshot={shot}", "--window-size=1400,900", page.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a blank page compresses to a few hundred bytes
