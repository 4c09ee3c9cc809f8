#!/usr/bin/env python3
"""Draw kIOPS against queue depth, one line per engine, from `ringfile-bench --json`.

    ringfile-bench --qd 1,2,4,8,16,32,64 --json > results.jsonl
    bench/plot.py results.jsonl -o chart.png      # or chart.svg

Reads JSON lines from the files given (or stdin); lines that are not case results
(the --stall records, stray text) are skipped. One panel per (rw, bs, cached or
O_DIRECT) combination found. Needs python3-matplotlib.
"""

import argparse
import json
import os
import sys
from collections import defaultdict

SYSTEM_PYTHON = "/usr/bin/python3"

# Same colour for an engine in every chart; legend in ringfile-bench's table order.
ENGINE_STYLE = {
    "io_uring": ("tab:blue", "o"),
    "threadpool": ("tab:orange", "^"),
    "pread": ("tab:gray", "x"),
    "liburing": ("tab:cyan", "s"),
    "libuv": ("tab:green", "v"),
    "asio": ("tab:purple", "D"),
    "asio-1file": ("tab:pink", "d"),
}
CASE_KEYS = {"engine", "rw", "bs", "qd", "direct", "iops"}


def read_cases(streams):
    cases = []
    for stream in streams:
        for line in stream:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and CASE_KEYS <= record.keys() and not record.get("stall"):
                cases.append(record)
    return cases


def bs_text(bs):
    if bs % (1 << 20) == 0:
        return f"{bs >> 20}M"
    if bs % 1024 == 0:
        return f"{bs >> 10}k"
    return str(bs)


def plot(cases, output, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # panel -> engine -> qd -> [kIOPS], averaged when a case was run more than once
    panels = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for c in cases:
        key = (c["rw"], c["bs"], bool(c["direct"]))
        panels[key][c["engine"]][int(c["qd"])].append(c["iops"] / 1e3)

    keys = sorted(panels, key=lambda k: (k[2], k[0], k[1]))
    fig, axes = plt.subplots(1, len(keys), figsize=(6.4 * len(keys), 4.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        rw, bs, direct = key
        order = list(ENGINE_STYLE)
        for engine, by_qd in sorted(panels[key].items(),
                                    key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])):
            qds = sorted(by_qd)
            kiops = [sum(by_qd[q]) / len(by_qd[q]) for q in qds]
            color, marker = ENGINE_STYLE.get(engine, (None, "."))
            ax.plot(qds, kiops, marker=marker, color=color, label=engine)
        ax.set_xscale("log", base=2)
        all_qds = sorted({q for by_qd in panels[key].values() for q in by_qd})
        ax.set_xticks(all_qds)
        ax.set_xticklabels([str(q) for q in all_qds])
        ax.set_xlabel("queue depth (ops in flight, one thread)")
        ax.set_ylabel("kIOPS")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{rw} {bs_text(bs)}, {'O_DIRECT' if direct else 'page cache'}")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(output)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", help="files of ringfile-bench --json lines (default: stdin)")
    parser.add_argument("-o", "--output", default="ringfile-bench.png",
                        help="image to write; the extension picks the format (.png, .svg, .pdf)")
    parser.add_argument("--title", default="", help="a title over the panels")
    args = parser.parse_args(argv)

    streams = [open(p, encoding="utf-8") for p in args.inputs] or [sys.stdin]
    try:
        cases = read_cases(streams)
    finally:
        for s in streams:
            if s is not sys.stdin:
                s.close()
    if not cases:
        print("plot.py: no ringfile-bench --json case records in the input", file=sys.stderr)
        return 2
    try:
        plot(cases, args.output, args.title)
    except ImportError:
        # apt's python3-matplotlib lives in the system Python, which a pyenv or
        # virtualenv python3 on PATH does not see.
        if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and os.path.exists(SYSTEM_PYTHON) \
                and args.inputs:
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
        print("plot.py: needs matplotlib (apt install python3-matplotlib)", file=sys.stderr)
        return 2
    print(f"plot.py: {len(cases)} cases -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
