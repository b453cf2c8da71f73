#!/usr/bin/env python3
"""Renders one bench/run.py result file as markdown (the tables of BENCHMARKS.md).

    python3 bench/render.py bench/results/<run>.json      # or --latest [--dir bench/results]
"""
import argparse
import glob
import json
import os
import re
import sys


def fmt(v, unit=None):
    if v is None:
        return "–"
    if isinstance(v, float):
        if abs(v) >= 1000:
            s = f"{v:,.0f}"
        elif abs(v) >= 10:
            s = f"{v:.1f}"
        else:
            s = f"{v:.2f}"
    else:
        s = str(v)
    return f"{s} {unit}" if unit else s


def disk_sync(probe):
    """One bench/fsync_probe.py result as text."""
    if not probe:
        return "not measured"
    return (f"p50 {probe['p50_ms']:.2f} ms, p99 {probe['p99_ms']:.2f} ms, max {probe['max_ms']:.1f} ms, "
            f"{probe['over_5ms']} of {probe['syncs']:,} syncs over 5 ms "
            f"({probe['over_5ms_total_ms']:,.0f} ms in all)")


def render(doc):
    m = doc["machine"]
    out = []
    void = doc.get("void", [])
    out.append(f"Run `{doc['started']}` ({doc['suite']} suite, {doc['options']['reps']} reps "
               f"interleaved, {doc['options']['duration_s']} s per load phase, "
               f"{doc['options']['connections']} connections) — "
               + ("**VOID: some checks failed (listed below)**" if void else
                  "every ledger check passed"))
    out.append("")
    out.append(f"- Machine: {m['cpu_model']}, {m['cores']} cores, kernel {m['kernel']}, "
               f"{m['memory_kb'] // 1024} MiB; load average at start "
               f"{' / '.join(str(x) for x in m['loadavg_start'])}, at end "
               f"{' / '.join(str(x) for x in doc['loadavg_end'])}")
    if m.get("disk_sync_start"):
        out.append("- Disk: 4 KiB write + fdatasync in the store's directory "
                   f"(`bench/fsync_probe.py`, {m['disk_sync_start']['seconds']:g} s): at start "
                   + disk_sync(m["disk_sync_start"]) + "; at end "
                   + disk_sync(doc.get("disk_sync_end")))
    out.append(f"- Cores: load generator on CPU {doc['cores']['load_generator']}, system under "
               f"test (router and its store, or the peer) on CPU "
               f"{doc['cores']['system_under_test']} (taskset)")
    out.append(f"- Router: {m['git']} built in `{m['build_dir']}`")
    out.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v))
    out.append("- Durability: " + "; ".join(doc["durability"]))
    out.append("")
    out.append("| ratio | median | min–max over reps | target | met |")
    out.append("|---|---|---|---|---|")
    for r in doc["ratios"]:
        met = "–" if r["met"] is None else ("yes" if r["met"] else "**no**")
        if r["void"]:
            met += " (VOID)"
        out.append(f"| {r['ratio']} | {r['median']:.2f}× | {r['min']:.2f}–{r['max']:.2f}× | "
                   f"{'≥ %.2g×' % r['target'] if r['target'] is not None else '–'} | {met} |")
    out.append("")
    out.append("| absolute target | median | goal | met |")
    out.append("|---|---|---|---|")
    for t in doc["targets"]:
        met = ("yes" if t["met"] else "**no**") + (" (VOID)" if t["void"] else "")
        out.append(f"| {t['target']} | {fmt(t['value'])} | {fmt(float(t['goal']))} | {met} |")
    out.append("")
    out.append("| scenario | subject | median | min–max | server CPU | durability | status |")
    out.append("|---|---|---|---|---|---|---|")
    for r in doc["summary"]:
        cpu = "–"
        if "sut_cpu_us_per_event" in r:
            cpu = f"{r['sut_cpu_us_per_event']:.1f} µs/req-event"
        if "sut_cpu_us_per_delivery" in r:
            cpu = f"{r['sut_cpu_us_per_delivery']:.1f} µs/delivery"
        extra = ""
        if "p50_ms" in r:
            extra = f" (p50 {r['p50_ms']:.2f} ms at {r.get('achieved_eps', 0):,.0f} ev/s)"
        status = "VOID: " + "; ".join(r["void"]) if r["void"] else "ok"
        out.append(f"| {r['scenario']} | {r['subject']} | {fmt(r['median'], r['unit'])}{extra} | "
                   f"{fmt(r['min'])}–{fmt(r['max'])} | {cpu} | {r.get('durability') or '–'} | "
                   f"{status} |")
    if void:
        out.append("")
        out.append("Failed checks (each voids its row):")
        out.append("")
        for v in void:
            out.append(f"- {v}")
    out.append("")
    out.append("<details><summary>Exact commands of this run</summary>")
    out.append("")
    out.append("```")
    seen = set()
    for c in doc["commands"]:
        # Temp paths, ports and per-rep id prefixes differ between runs of one shape: show each
        # shape once.
        shape = re.sub(r"/tmp/[^\s\"]*/(\d+-)?", "$RUN/", c)
        shape = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:$PORT", shape)
        shape = re.sub(r"--port \d+", "--port $PORT", shape)
        shape = re.sub(r" (s\d)-\d+(-\S+)? ", r" \1-$REP\2 ", shape)
        shape = re.sub(r" -p \d+ ", " -p $PORT ", shape)
        shape = re.sub(r" -- (\w+) \S+ ", r" -- \1 $KEY ", shape)
        if shape in seen:
            continue
        seen.add(shape)
        out.append(shape)
    out.append("```")
    out.append("</details>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file", nargs="?")
    ap.add_argument("--latest", action="store_true")
    ap.add_argument("--dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "results"))
    args = ap.parse_args()
    path = args.file
    if args.latest or not path:
        files = sorted(glob.glob(os.path.join(args.dir, "*-full.json")))
        if not files:
            sys.exit(f"no full run in {args.dir}")
        path = files[-1]
    with open(path) as f:
        sys.stdout.write(render(json.load(f)))


if __name__ == "__main__":
    main()
