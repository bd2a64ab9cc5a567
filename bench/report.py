#!/usr/bin/env python3
"""Benchmark: `kubectl perf report` against `kubectl perf capacity --util -o json` alone, on the
same simulated cluster (issue 23: the report at most 1.3x capacity's wall time at 1,000 nodes x 30 pods).

    .venv/bin/python bench/report.py [--nodes 1000] [--pods-per-node 30] [--runs 3]
                                     [--cadvisor-interval 0]

The report reads nodes and pods once and shares them between its four sections (capacity, audit,
images, cAdvisor), so its extra cost over capacity alone is the other sections' compute, the
lists only they read (controllers, services, HPAs) and one cAdvisor scrape of each of the 16 nodes
report/choice.py picks (--cadvisor-interval 0; the default two-scrape mode adds its interval, 10 s,
by design). The report scraping every node (--cadvisor-nodes all) and without its cAdvisor section
are measured too. Both
commands run through kubectl in fresh processes, alternating, after one warm-up run each; medians of
wall time and peak RSS (wait4) are printed with their ratio. The sum of the four plugins run one
after another is printed too: what the report replaces.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capacity import KUBECTL, measure, print_table, start_sim  # noqa: E402 - the shared measuring helpers

TARGET = 1.3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--pods-per-node", type=int, default=30)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--cadvisor-interval", default="0", help="passed to report (default 0: one scrape)")
    args = p.parse_args()
    report_cmd = [KUBECTL, "perf", "report", "-o", "html", "--cadvisor-interval", args.cadvisor_interval]
    # cAdvisor's scrape of every kubelet (about 1.4 MB of text each on perf-sim) is most of a full report's
    # time, and is cadvisor --summary's own cost: the report without that section is measured too.
    no_scrape_cmd = [KUBECTL, "perf", "report", "-o", "html", "--sections", "capacity,audit,images"]
    every_cmd = [*report_cmd, "--cadvisor-nodes", "all"]
    capacity_cmd = [KUBECTL, "perf", "capacity", "--util", "-o", "json"]
    separately = [
        capacity_cmd,
        [KUBECTL, "perf", "audit", "-o", "json"],
        [KUBECTL, "perf", "images", "-o", "json"],
        [KUBECTL, "perf", "cadvisor", "--summary", "--all-nodes", "--once", "-o", "json"],
    ]
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        proc, kc, _ = start_sim(Path(tmp), "--nodes", str(args.nodes), "--pods-per-node", str(args.pods_per_node), "--seed", "1")
        try:
            measure(report_cmd, kc)  # warm-up: the simulator plans its nodes and kubelets on first use
            measure(capacity_cmd, kc)
            ours, base, apart, no_scrape, every = [], [], [], [], []
            for _ in range(args.runs):
                ours.append(measure(report_cmd, kc))
                no_scrape.append(measure(no_scrape_cmd, kc))
                every.append(measure(every_cmd, kc))
                base.append(measure(capacity_cmd, kc))
                apart.append(sum(measure(cmd, kc)[0] for cmd in separately))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
    o_wall, o_rss = statistics.median(r[0] for r in ours), statistics.median(r[1] for r in ours)
    b_wall, b_rss = statistics.median(r[0] for r in base), statistics.median(r[1] for r in base)
    s_wall = statistics.median(apart)
    n_wall, n_rss = statistics.median(r[0] for r in no_scrape), statistics.median(r[1] for r in no_scrape)
    e_wall, e_rss = statistics.median(r[0] for r in every), statistics.median(r[1] for r in every)
    ratio = o_wall / b_wall
    print_table(
        f"kubectl perf report, {args.nodes} nodes x {args.pods_per_node} pods (perf-sim), cAdvisor interval {args.cadvisor_interval}",
        [
            ("report -o html", f"{o_wall:.2f} s, {o_rss:.0f} MB peak RSS", f"at most {TARGET}x capacity"),
            ("baseline: capacity --util -o json", f"{b_wall:.2f} s, {b_rss:.0f} MB peak RSS", ""),
            ("ratio report / capacity", f"wall {ratio:.2f}x, RSS {o_rss / b_rss:.2f}x", "met" if ratio <= TARGET else "NOT met"),
            ("report --sections capacity,audit,images", f"{n_wall:.2f} s, {n_rss:.0f} MB peak RSS", f"at most {TARGET}x capacity"),
            ("ratio (no cAdvisor section) / capacity", f"wall {n_wall / b_wall:.2f}x", "met" if n_wall / b_wall <= TARGET else "NOT met"),
            ("report --cadvisor-nodes all", f"{e_wall:.2f} s, {e_rss:.0f} MB peak RSS", f"wall {e_wall / b_wall:.2f}x capacity"),
            ("the four plugins one after another", f"{s_wall:.2f} s", "what report replaces"),
        ],
    )


if __name__ == "__main__":
    main()
