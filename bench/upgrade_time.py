#!/usr/bin/env python3
"""What opening an embedded store file of an older schema costs: time to ready, and disk.

    python3 bench/upgrade_time.py --old OLD/router/switchboard --new build/release/router/switchboard \
        [--events 1000000] [--runs 3] [--kill-after 4]

The old binary creates an empty store file (its own schema); the archive and the queue are then
filled directly with SQLite, `--events` archived events of 450 bytes each, all still queued for
one agent. Each run copies that file and starts the new binary on the copy (with `--ready-file`),
reporting the seconds from start to ready, the peak size of the file and its WAL while it opened,
and the file's size once stopped. The old binary opening the same file is the baseline. With
`--kill-after S`, one more run sends SIGKILL S seconds into the open, checks that the file still
has the old `user_version` and every row (`PRAGMA quick_check`), then opens it again.

Uses a temporary directory (or `--dir`, kept), removed at the end. Prints one line per run;
exits 1 if a row is missing or `quick_check` fails after any open.
"""

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

CONFIG = """http:  {{ listen: "127.0.0.1:0" }}
grpc:  {{ listen: "127.0.0.1:0" }}
store: {{ kind: embedded, path: "{db}", sync: full }}
sources:
  - {{ name: resend, provider: standard-webhooks, vendor: resend, secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] }}
agents:
  - {{ name: audit, tokens: ["token-audit"] }}
rules:
  - {{ name: all, match: {{}}, agents: [audit] }}
"""


def files(db):
    return [db + suffix for suffix in ("", "-wal", "-shm")]


def on_disk(db):
    return sum(os.path.getsize(f) for f in files(db)[:2] if os.path.exists(f))


def start(binary, db, work, kill_after=None):
    """Starts `binary` on `db`; returns (seconds to ready or None if killed, peak bytes)."""
    config = os.path.join(work, "switchboard.yaml")
    with open(config, "w") as f:
        f.write(CONFIG.format(db=db))
    ready = os.path.join(work, "ready.json")
    if os.path.exists(ready):
        os.remove(ready)
    with open(os.path.join(work, "router.log"), "a") as log:
        began = time.monotonic()
        p = subprocess.Popen([binary, "--config", config, "--ready-file", ready],
                             stdout=log, stderr=subprocess.STDOUT)
        peak = 0
        while not os.path.exists(ready):
            if p.poll() is not None:
                sys.exit(f"{binary} exited with {p.returncode}; see {work}/router.log")
            peak = max(peak, on_disk(db))
            if kill_after is not None and time.monotonic() - began >= kill_after:
                p.send_signal(signal.SIGKILL)
                p.wait()
                return None, peak
            time.sleep(0.05)
        seconds = time.monotonic() - began
        peak = max(peak, on_disk(db))
        p.send_signal(signal.SIGTERM)
        p.wait()
    return seconds, peak


def inspect(db):
    c = sqlite3.connect(db)
    try:
        return (c.execute("PRAGMA user_version").fetchone()[0],
                c.execute("SELECT count(*) FROM archive").fetchone()[0],
                c.execute("SELECT count(*) FROM queue").fetchone()[0],
                c.execute("PRAGMA quick_check").fetchone()[0])
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", required=True, help="switchboard binary of the older schema")
    ap.add_argument("--new", required=True, help="switchboard binary to upgrade with")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--kill-after", type=float, default=None)
    ap.add_argument("--dir", default=None, help="work directory (default: a new temporary one)")
    args = ap.parse_args()
    work = args.dir or tempfile.mkdtemp(prefix="switchboard-upgrade-")
    os.makedirs(work, exist_ok=True)
    failed = False
    try:
        source = os.path.join(work, "old.db")
        start(args.old, source, work)
        c = sqlite3.connect(source, isolation_level=None)
        old_version = c.execute("PRAGMA user_version").fetchone()[0]
        blob = os.urandom(450)
        t0 = 1_764_680_000_000_000
        c.execute("BEGIN")
        for i in range(args.events):
            c.execute("INSERT INTO archive(event_id, committed_at, event, agents) "
                      "VALUES(?, ?, ?, 'audit')", (f"evt-{i:09d}", t0 + i, blob))
            c.execute("INSERT INTO queue(agent, archive_seq, attempt, visible_at, matched_rules, "
                      "last_error, enqueued_at) VALUES('audit', last_insert_rowid(), 0, ?, "
                      "'all', '', ?)", (t0 + i, t0 + i))
        c.execute("COMMIT")
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        c.close()
        size = os.path.getsize(source)
        print(f"file: schema version {old_version}, {args.events:,} events archived and queued, "
              f"{size / 2**20:,.0f} MiB")

        def fresh_copy():
            copy = os.path.join(work, "copy.db")
            for f in files(copy):
                if os.path.exists(f):
                    os.remove(f)
            shutil.copy(source, copy)
            return copy

        seconds, _ = start(args.old, fresh_copy(), work)
        print(f"old binary: ready in {seconds:.2f} s")
        for run in range(1, args.runs + 1):
            copy = fresh_copy()
            seconds, peak = start(args.new, copy, work)
            version, archived, queued, check = inspect(copy)
            ok = archived == queued == args.events and check == "ok"
            failed |= not ok
            print(f"new binary, run {run}: ready in {seconds:.2f} s, file + WAL peaked at "
                  f"{peak / 2**20:,.0f} MiB, file after {os.path.getsize(copy) / 2**20:,.0f} MiB; "
                  f"version {version}, {archived:,} archived, {queued:,} queued, {check}"
                  f"{'' if ok else '  FAILED'}")
        if args.kill_after is not None:
            copy = fresh_copy()
            _, _ = start(args.new, copy, work, kill_after=args.kill_after)
            version, archived, queued, check = inspect(copy)
            # One transaction: the file is either untouched or fully upgraded, never in between.
            ok = archived == queued == args.events and check == "ok"
            failed |= not ok
            state = ("the upgrade had not committed" if version == old_version
                     else "the upgrade had already committed")
            print(f"SIGKILL after {args.kill_after} s: version {version} ({state}), "
                  f"{archived:,} archived, {queued:,} queued, {check}{'' if ok else '  FAILED'}")
            seconds, _ = start(args.new, copy, work)
            version, archived, queued, check = inspect(copy)
            ok = archived == queued == args.events and check == "ok"
            failed |= not ok
            print(f"opened again: ready in {seconds:.2f} s, version {version}, {archived:,} "
                  f"archived, {queued:,} queued, {check}{'' if ok else '  FAILED'}")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
