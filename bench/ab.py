#!/usr/bin/env python3
"""A/B comparison of two router builds, interleaved in one time window.

    python3 bench/ab.py --before build/before --after build/release --rounds 4 \\
        -- --only S6 --s6-agents 1,10 --skip ceiling --duration 10

Each round runs `bench/run.py --reps 1 <arguments after -->` once against each build, the order
alternating from round to round (before/after, then after/before, ...), so drift in the machine's
load (other jobs on a shared machine) hits both builds alike. For every scenario x subject it
prints, per build, the median and min-max over rounds of the throughput (or latency) and of the
server CPU per event / delivery, and the after/before ratio computed per round (same round =
same machine state) and then summarised. CPU per unit of work is the figure least moved by
contention. Every ledger check of run.py still applies: a VOID run is reported and left out.

A build directory needs router/switchboard, bench/bench_agent and bench/grpc_fanout_ceiling
(the same layout as a CMake build tree); a copy of an older router next to symlinks of the bench
tools is enough. The raw run files stay in --out (default bench/results/ab-<time>/), with a
summary ab.json.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPU_KEYS = ("sut_cpu_us_per_event", "sut_cpu_us_per_delivery")


def spread(values):
    if not values:
        return "-"
    return (f"{statistics.median(values):,.3g} ({min(values):,.3g}-{max(values):,.3g})"
            if max(values) < 100 else
            f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})")


def run_once(build, out, rest, label):
    os.makedirs(out, exist_ok=True)
    before = set(os.listdir(out))
    cmd = [sys.executable, os.path.join(ROOT, "bench", "run.py"), "--build", build, "--reps", "1",
           "--out", out] + rest
    print(f"--- {label}: {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, cwd=ROOT, check=False)
    new = sorted(set(os.listdir(out)) - before)
    if not new:
        raise SystemExit(f"run.py wrote no result for {label}")
    with open(os.path.join(out, new[-1])) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--before", required=True, help="build directory of the baseline router")
    ap.add_argument("--after", required=True, help="build directory of the changed router")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="")
    ap.add_argument("rest", nargs=argparse.REMAINDER, help="-- then arguments for bench/run.py")
    args = ap.parse_args()
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    started = datetime.datetime.now(datetime.timezone.utc)
    out = args.out or os.path.join(ROOT, "bench", "results",
                                   f"ab-{started.strftime('%Y%m%dT%H%M%SZ')}")
    builds = {"before": args.before, "after": args.after}
    # rows[(scenario, subject)][label] = list of (round, value, cpu) from non-VOID runs
    rows = {}
    voids = []
    for rnd in range(1, args.rounds + 1):
        order = ("before", "after") if rnd % 2 else ("after", "before")
        for label in order:
            doc = run_once(builds[label], os.path.join(out, label), rest, f"round {rnd} {label}")
            for r in doc["runs"]:
                if r["void"]:
                    voids.append(f"round {rnd} {label} {r['scenario']} {r['subject']}: "
                                 + "; ".join(r["void"]))
                    continue
                if "value" not in r:
                    continue
                cpu = next((r[k] for k in CPU_KEYS if k in r), None)
                rows.setdefault((r["scenario"], r["subject"]), {}).setdefault(label, []).append(
                    {"round": rnd, "value": r["value"], "unit": r.get("unit", ""), "cpu": cpu})
    summary = []
    print(f"\n{'scenario':<4} {'subject':<34} {'build':<6} {'value median (min-max)':<32} "
          f"{'CPU us/unit median (min-max)':<30}")
    for (scenario, subject), by in sorted(rows.items()):
        entry = {"scenario": scenario, "subject": subject}
        for label in ("before", "after"):
            runs = by.get(label, [])
            entry[label] = runs
            unit = runs[0]["unit"] if runs else ""
            print(f"{scenario:<4} {subject:<34} {label:<6} "
                  f"{spread([x['value'] for x in runs]) + ' ' + unit:<32} "
                  f"{spread([x['cpu'] for x in runs if x['cpu'] is not None]):<30}")
        b = {x["round"]: x for x in by.get("before", [])}
        a = {x["round"]: x for x in by.get("after", [])}
        common = sorted(set(a) & set(b))
        value_ratio = [a[r]["value"] / b[r]["value"] for r in common if b[r]["value"]]
        cpu_ratio = [a[r]["cpu"] / b[r]["cpu"] for r in common
                     if a[r]["cpu"] is not None and b[r]["cpu"]]
        entry["value_ratio_after_over_before"] = value_ratio
        entry["cpu_ratio_after_over_before"] = cpu_ratio
        print(f"{'':<4} {'':<34} {'after/before':<13} value {spread(value_ratio)}x, "
              f"CPU {spread(cpu_ratio)}x")
        summary.append(entry)
    if voids:
        print("\nVOID runs (left out):")
        for v in voids:
            print(f"  {v}")
    with open(os.path.join(out, "ab.json"), "w") as f:
        json.dump({"started": started.isoformat(), "before": args.before, "after": args.after,
                   "run_py_args": rest, "rounds": args.rounds, "rows": summary, "void": voids},
                  f, indent=1)
    print(f"results: {out}")
    return 1 if voids else 0


if __name__ == "__main__":
    sys.exit(main())
