#!/usr/bin/env python3
"""How long this machine's disk takes to make 4 KiB durable, the way a store's commit does.

    python3 bench/fsync_probe.py [--dir DIR] [--seconds 5]

Appends 4 KiB and calls fdatasync(2), over and over for --seconds, in a scratch file in DIR
(default: the system temporary directory, where bench/run.py keeps the router's store). Prints
one JSON object:

    {"dir": ..., "seconds": 5.0, "syncs": N, "p50_ms": ..., "p99_ms": ..., "p999_ms": ...,
     "max_ms": ..., "over_5ms": N, "over_5ms_total_ms": ...}

`over_5ms` counts the syncs that took longer than 5 ms, and `over_5ms_total_ms` adds up their
time. A commit answered only after its fsync (SQLite `synchronous=FULL`, Redis
`appendfsync always`) waits out every such stall, so these two explain latency tails that the
router's code does not. bench/run.py records a probe at the start and at the end of each run.
"""
import argparse
import json
import os
import tempfile
import time

STALL_MS = 5.0


def probe(directory, seconds):
    fd, path = tempfile.mkstemp(prefix="fsync-probe-", dir=directory)
    block = b"\0" * 4096
    durations = []
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            os.write(fd, block)
            start = time.perf_counter()
            os.fdatasync(fd)
            durations.append((time.perf_counter() - start) * 1e3)
    finally:
        os.close(fd)
        os.unlink(path)
    durations.sort()
    n = len(durations)

    def at(q):
        return round(durations[min(n - 1, int(n * q))], 3) if n else None

    stalls = [d for d in durations if d > STALL_MS]
    return {"dir": directory or tempfile.gettempdir(), "seconds": seconds, "syncs": n,
            "p50_ms": at(0.5), "p99_ms": at(0.99), "p999_ms": at(0.999),
            "max_ms": round(durations[-1], 3) if n else None,
            "over_5ms": len(stalls), "over_5ms_total_ms": round(sum(stalls), 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=None, help="where the scratch file goes")
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    print(json.dumps(probe(args.dir, args.seconds)))


if __name__ == "__main__":
    main()
