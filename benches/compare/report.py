#!/usr/bin/env python3
"""Turns the head-to-head JSON outputs into RESULTS.md and results.svg.

Reads (paths relative to this directory unless given):
  target/compare.json      codec benchmark (`cargo run --release`)
  target/echo.json         loopback echo (`./target/release/echo-bench`)
  target/idle-memory.json  idle memory (`./target/release/idle-memory`)
Any that is missing is left out. Writes RESULTS.md and results.svg here.

Every figure is shown with its ratio to the best of the *peers* (the other
crates; webwire is never its own reference): >1 means better than the best
peer (faster, more messages per second, less CPU or less memory).

Python 3 standard library only.

usage: report.py [--compare F] [--echo F] [--idle F] [--md F] [--svg F]
"""

import argparse
import html
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# One colour per crate family (tungstenite and tokio-tungstenite share one).
COLOURS = {
    "webwire": "#d62728",
    "tungstenite": "#1f77b4",
    "tokio-tungstenite": "#1f77b4",
    "fastwebsockets": "#2ca02c",
    "tokio-websockets": "#9467bd",
    "ratchet_rs": "#ff7f0e",
}
CODEC_PEERS = ["tungstenite", "fastwebsockets", "tokio-websockets"]
ECHO_PEERS = ["tokio-tungstenite", "fastwebsockets", "tokio-websockets"]
IDLE_PEERS = ["tungstenite", "tokio-tungstenite", "fastwebsockets", "tokio-websockets"]
IDLE_DEFLATE_PEERS = ["ratchet_rs+deflate", "ratchet_rs+deflate (takeover)"]


def load(path):
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def ratio_str(r):
    return "—" if r is None else f"{r:.2f}×"


def fmt_num(x, digits):
    if x is None:
        return "—"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def fmt_bytes(b):
    if b is None:
        return "—"
    if abs(b) >= 10 * 1024:
        return f"{b / 1024:,.1f} KiB"
    return f"{b:,.0f} B"


# ---------------------------------------------------------------------------
# Sections: each returns (markdown lines, chart groups). A chart group is
# (label, [(contender, ratio)]).
# ---------------------------------------------------------------------------


def versions_line(d):
    """The crate versions a benchmark ran with, as one Markdown line."""
    v = d.get("versions")
    if isinstance(v, dict):
        v = ", ".join(f"{k} {x}" for k, x in sorted(v.items()))
    return f"Crates: {v}." if v else ""


def section_head(md, title, provenance, d):
    """A section's heading and its provenance line (command, commit, machine, crates)."""
    md += [f"## {title}", "", f"{provenance} {versions_line(d)}".rstrip(), ""]


def codec_section(d):
    md, groups = [], []
    section_head(
        md,
        "Codec (in memory)",
        f"`cargo run --release`: webwire {d.get('webwire_rev')}, {d.get('rounds')} rounds, "
        f"{d['machine'].get('cpu')} ({d['machine'].get('cores')} cores), {d['machine'].get('rustc')}.",
        d,
    )
    cols = ["webwire"] + CODEC_PEERS
    md.append("| workload | unit | " + " | ".join(cols) + " |")
    md.append("|---|---|" + "---:|" * len(cols))
    w7 = []
    for w in d["workloads"]:
        by = {c["name"]: c for c in w["contenders"]}
        if w["id"] == "W7":
            w7.append(w)
            continue
        # ns/msg and ns/handshake (W6): lower is better; GB/s: higher.
        per = w["unit"].startswith("ns/")
        unit = w["unit"] + (" ↓" if per else " ↑")
        digits = (0 if w["unit"] == "ns/handshake" else 1) if per else 2
        cells = []
        bars = []
        for name in cols:
            c = by.get(name)
            if c is None:
                cells.append("—")
                continue
            cells.append(f"{fmt_num(c['figure'], digits)} ({ratio_str(c.get('vs_best_peer'))})")
            if c.get("vs_best_peer") is not None:
                bars.append((name, c["vs_best_peer"]))
        md.append(f"| {w['id']} {w['title']} | {unit} | " + " | ".join(cells) + " |")
        groups.append((f"{w['id']} {w['title']}", bars))
    md.append("")
    md.append("Ratio: speed relative to the fastest of tungstenite, fastwebsockets and tokio-websockets.")
    if any(w["id"] == "W6" for w in d["workloads"]):
        md.append(
            "W6: each crate's own server handshake from the request bytes to the `101` written; "
            "fastwebsockets has no HTTP parser, so its row is hyper 1.x serving "
            "`fastwebsockets::upgrade::upgrade` (its documented server path)."
        )
    for w in w7:
        by = {c["name"]: c for c in w["contenders"]}
        md.append("")
        md.append(f"### {w['id']} {w['title']}")
        md.append("")
        md.append("| contender | ns/msg ↓ | vs ratchet_rs | reply bytes/msg |")
        md.append("|---|---:|---:|---:|")
        bars = []
        for c in w["contenders"]:
            md.append(
                f"| {c['name']} | {fmt_num(c['figure'], 0)} | {ratio_str(c.get('vs_best_peer'))} "
                f"| {fmt_num(c.get('reply_wire_bytes_per_msg'), 1)} |"
            )
            if c["name"] in ("webwire", "ratchet_rs") and c.get("vs_best_peer") is not None:
                bars.append((c["name"], c["vs_best_peer"]))
        if by:
            groups.append((f"{w['id']} compressed echo (CPU)", bars))
    md.append("")
    return md, groups


def echo_section(d):
    md, groups = [], []
    section_head(
        md,
        "Loopback echo",
        f"`./target/release/echo-bench`: webwire {d.get('webwire_rev')}, {d.get('rounds')} rounds of "
        f"{d.get('measure_secs')} s (warm-up {d.get('warmup_secs')} s), {d['machine'].get('cpu')} "
        f"({d['machine'].get('cores')} cores). Server CPU from /proc/PID/stat (user + system).",
        d,
    )
    names = []
    for s in d["scenarios"]:
        for c in s["contenders"]:
            if c["name"] not in names:
                names.append(c["name"])
    for title, key, ratio_key, digits, unit in (
        ("Messages per second ↑ (median)", "median_msgs_per_sec", "rate_vs_best_peer", 0, "msgs/s"),
        ("Server CPU per message ↓ (median)", "median_cpu_us_per_msg", "cpu_vs_best_peer", 2, "µs/msg"),
        (
            "Messages per second ↑ (best sample: the least disturbed by other load)",
            "best_msgs_per_sec",
            "best_rate_vs_best_peer",
            0,
            "best",
        ),
    ):
        if unit == "best" and not all(
            "best_msgs_per_sec" in c for s in d["scenarios"] for c in s["contenders"]
        ):
            continue
        md.append(f"### {title}")
        md.append("")
        md.append("| scenario | " + " | ".join(names) + " |")
        md.append("|---|" + "---:|" * len(names))
        for s in d["scenarios"]:
            by = {c["name"]: c for c in s["contenders"]}
            cells = []
            bars = []
            for n in names:
                c = by.get(n)
                if c is None:
                    cells.append("failed")
                    continue
                cells.append(f"{fmt_num(c[key], digits)} ({ratio_str(c.get(ratio_key))})")
                # Variants (`webwire+stream`) are in the tables, not the chart.
                if c.get(ratio_key) is not None and "+" not in n:
                    bars.append((n, c[ratio_key]))
            label = f"{s['id']} {s['title']} ({s['conns']} conns)"
            md.append(f"| {label} | " + " | ".join(cells) + " |")
            if unit != "best":
                short = "msgs/s" if unit == "msgs/s" else "CPU/msg"
                size = f"{s['size'] // 1024} KiB" if s["size"] >= 1024 else f"{s['size']} B"
                kind = "text" if s["opcode"] == 1 else "binary"
                groups.append(
                    (
                        f"{s['id']} {short}: {s['conns']} conns × {size} {kind}, "
                        f"{s['inflight']} in flight",
                        bars,
                    )
                )
        md.append("")
    def per_scenario(title, cell):
        """A table of one cell per (scenario, contender); "—" where it failed."""
        md.append(f"### {title}")
        md.append("")
        md.append("| scenario | " + " | ".join(names) + " |")
        md.append("|---|" + "---:|" * len(names))
        for s in d["scenarios"]:
            by = {c["name"]: c for c in s["contenders"]}
            cells = [cell(by[n]) if n in by else "—" for n in names]
            md.append(f"| {s['id']} | " + " | ".join(cells) + " |")

    if all("median_user_us_per_msg" in c for s in d["scenarios"] for c in s["contenders"]):
        per_scenario(
            "Server CPU per message, split ↓ (median µs: user space / kernel)",
            lambda c: f"{c['median_user_us_per_msg']:.2f} / {c['median_sys_us_per_msg']:.2f}",
        )
        md.append("")
        md.append(
            "User space is the WebSocket library with tokio and the adapter; the kernel part is the "
            "socket calls and loopback TCP, which the server's write also pays for the receiving side."
        )
        md.append("")

    def util(c):
        busy = c.get("contended_samples", 0)
        note = f" ({busy}/{len(c['samples'])} contended)" if busy else ""
        return f"{100 * c['median_server_util']:.0f}% / {100 * c['median_client_util']:.0f}%{note}"

    per_scenario("CPU use during the window (server / load generator, % of one core)", util)
    md.append("")
    md.append(
        "contended: samples in which server and load generator together got less than 1.5 cores "
        "(something else was running). CPU per message is much less sensitive to that than msgs/s."
    )
    if d.get("failures"):
        md.append("")
        md.append("**Failed samples:** " + "; ".join(d["failures"]))
    md.append("")
    return md, groups


def idle_section(d):
    md, groups = [], []
    section_head(
        md,
        "Idle memory per connection",
        f"`./target/release/idle-memory`: webwire {d.get('webwire_rev')}, {d.get('connections')} connections "
        f"({d.get('deflate_connections')} with deflate); deflate backend: {d.get('deflate_backend', '?')}.",
        d,
    )
    rows = d["rows"]
    by = {r["name"]: r for r in rows}

    def best(names, kind):
        vals = [
            by[n][kind]["requested_bytes"]
            for n in names
            if n in by and by[n].get(kind) is not None
        ]
        return min(vals) if vals else None

    md.append(
        "| contender | state: bytes (vs best peer) | state: malloc'd | task: bytes (vs best peer) | task: malloc'd | how |"
    )
    md.append("|---|---:|---:|---:|---:|---|")
    bars_state, bars_task, bars_def = [], [], []
    for r in rows:
        deflate = "deflate" in r["name"]
        peers = IDLE_DEFLATE_PEERS if deflate else IDLE_PEERS
        cells = []
        for kind in ("state", "task"):
            p = r.get(kind)
            b = best(peers, kind)
            if p is None:
                cells += ["—", "—"]
                continue
            ratio = b / p["requested_bytes"] if b and p["requested_bytes"] > 0 else None
            cells += [
                f"{fmt_bytes(p['requested_bytes'])} ({ratio_str(ratio)})",
                fmt_bytes(p["usable_bytes"]),
            ]
            if ratio is not None and r["name"] != "webwire + adapter buffers":
                target = bars_def if deflate else (bars_state if kind == "state" else bars_task)
                if deflate:
                    target.append((f"{r['name']} ({kind})", ratio))
                else:
                    target.append((r["name"], ratio))
        md.append(f"| {r['name']} | " + " | ".join(cells) + f" | {r['how']} |")
    md.append("")
    md.append(
        "bytes: heap requested per connection (counting allocator); malloc'd: the same blocks' "
        "`malloc_usable_size`. state: the connection object alone; task: the echo server's whole task. "
        "Ratio: best peer's bytes ÷ these bytes (>1 = less memory); deflate rows against ratchet_rs."
    )
    md.append("")
    groups.append(("Idle memory: connection state", bars_state))
    groups.append(("Idle memory: echo server task", bars_task))
    if bars_def:
        groups.append(("Idle memory with deflate", bars_def))
    return md, groups


# ---------------------------------------------------------------------------
# SVG: one row of bars per figure, log2 axis centred on 1× (the best peer)
# ---------------------------------------------------------------------------


def svg_chart(groups, title):
    groups = [(label, bars) for label, bars in groups if bars]
    lim = 5  # axis from 2^-5 to 2^5
    width, left, right = 980, 360, 60
    plot_w = width - left - right
    bar_h, gap, top = 12, 12, 60
    height = top + sum(len(b) * bar_h + gap for _, b in groups) + 50
    x_of = lambda r: left + plot_w * (max(-lim, min(lim, math.log2(r))) + lim) / (2 * lim)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">'
        f"{html.escape(title)}</text>",
        f'<text x="{width / 2}" y="36" text-anchor="middle" fill="#555">ratio to the best peer, '
        f"log scale; right of 1× = better (faster, less CPU, less memory)</text>",
    ]
    # Grid.
    for e in range(-lim, lim + 1):
        x = x_of(2.0**e)
        label = f"{2 ** e:g}×" if e >= 0 else f"1/{2 ** -e}×"
        stroke = "#000" if e == 0 else "#ddd"
        out.append(
            f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{height - 40}" stroke="{stroke}"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{height - 26}" text-anchor="middle" fill="#555">{label}</text>'
        )
    y = top
    x1 = x_of(1.0)
    for label, bars in groups:
        gh = len(bars) * bar_h
        out.append(
            f'<text x="{left - 8}" y="{y + gh / 2 + 4:.1f}" text-anchor="end">'
            f"{html.escape(label[:58])}</text>"
        )
        for name, r in bars:
            base = name.split(" (")[0].split("+")[0].strip()
            colour = COLOURS.get(base, "#7f7f7f")
            x = x_of(r)
            x0, w = (x1, x - x1) if x >= x1 else (x, x1 - x)
            out.append(
                f'<rect x="{x0:.1f}" y="{y + 1}" width="{max(w, 2):.1f}" height="{bar_h - 2}" '
                f'fill="{colour}"><title>{html.escape(name)}: {r:.2f}×</title></rect>'
            )
            clipped = abs(math.log2(r)) > lim
            text = f"{html.escape(name)} {r:.2f}×{' (clipped)' if clipped else ''}"
            if x >= x1:
                tx, anchor, fill = x + 4, "start", "#000"
            elif x - 4 - 5.5 * len(text) > left:
                tx, anchor, fill = x - 4, "end", "#000"
            else:  # no room left of the bar: inside it
                tx, anchor, fill = x + 4, "start", "#fff"
            out.append(
                f'<text x="{tx:.1f}" y="{y + bar_h - 2}" text-anchor="{anchor}" font-size="9" '
                f'fill="{fill}">{text}</text>'
            )
            y += bar_h
        y += gap
    # Legend.
    lx = 20
    for name in ["webwire", "tungstenite", "fastwebsockets", "tokio-websockets", "ratchet_rs"]:
        label = "tungstenite / tokio-tungstenite" if name == "tungstenite" else name
        out.append(f'<rect x="{lx}" y="{height - 16}" width="10" height="10" fill="{COLOURS[name]}"/>')
        out.append(f'<text x="{lx + 14}" y="{height - 7}">{label}</text>')
        lx += 34 + 6 * len(label)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", default=os.path.join(HERE, "target/compare.json"))
    ap.add_argument("--echo", default=os.path.join(HERE, "target/echo.json"))
    ap.add_argument("--idle", default=os.path.join(HERE, "target/idle-memory.json"))
    ap.add_argument("--md", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--svg", default=os.path.join(HERE, "results.svg"))
    a = ap.parse_args()

    sections = [
        (codec_section, load(a.compare), a.compare),
        (echo_section, load(a.echo), a.echo),
        (idle_section, load(a.idle), a.idle),
    ]
    if all(d is None for _, d, _ in sections):
        sys.exit("no input found: run the benchmarks first (see README.md)")
    md = [
        "# webwire head-to-head: results",
        "",
        "Generated by `report.py` from the benchmarks' JSON output; see README.md for the method and caveats. "
        "Cells: figure (ratio to the best peer; >1 = better than the best of the other crates).",
        "",
        f"![ratios to the best peer]({os.path.basename(a.svg)})",
        "",
    ]
    groups = []
    for fn, d, path in sections:
        if d is None:
            md += [f"_{os.path.relpath(path, HERE)}: not found, section left out._", ""]
            continue
        m, g = fn(d)
        md += m
        groups += g
    with open(a.md, "w", encoding="utf-8") as f:
        f.write("\n".join(md).rstrip() + "\n")
    with open(a.svg, "w", encoding="utf-8") as f:
        f.write(svg_chart(groups, "webwire head-to-head"))
    print(f"wrote {a.md} and {a.svg}")


if __name__ == "__main__":
    main()
