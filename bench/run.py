#!/usr/bin/env python3
"""Switchboard benchmark suite (issue 7): our scenarios and the peers, in one run, as ratios.

    python3 bench/run.py --build build/bench [--smoke] [--reps 3] [--duration 10] [--only S1,S5]

Core split: the load side (wrk, bench_agent, redis-benchmark, the S9 client) runs on CPU 0, the
system under test (switchboard, redis-server, nginx, node) on CPU 1, both via taskset. Every
scenario x subject is repeated --reps times, interleaved (rep 1 of everything, then rep 2, ...),
so slow drift of the machine's load hits every subject alike. Results: one JSON file per run in
bench/results/ (render it with bench/render.py). A run is VOID, and says why, when a valid
request got a non-2xx, when the ledger does not balance (events answered 2xx vs. appended +
duplicates in the router's store and log, deliveries vs. appended x agents), or when the load
generator was saturated (its CPU time >= 90% of the wall time on its core).

--smoke runs our own scenarios briefly (no nginx, no npm peer, no redis-benchmark) and exits
non-zero unless every ledger identity holds: it proves the harness, never speed.
"""
import argparse
import base64
import csv
import datetime
import hashlib
import http.client
import json
import os
import platform
import re
import resource
import shutil
import shlex
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import fsync_probe  # bench/fsync_probe.py, next to this file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def repo_relative(text):
    """Paths inside the checkout as ./relative, so a report names no machine's folders."""
    return text.replace(ROOT + os.sep, "./").replace(ROOT, ".")
LOAD_CPU = "0"
SUT_CPU = "1"
SECRET_BYTES = b"switchboard-bench-secret-32bytes"
SECRET_B64 = base64.b64encode(SECRET_BYTES).decode()
TOKEN = "bench-token"
SATURATED = 0.90  # load generator CPU / wall on its one core
SMOKE = False  # --smoke: checks about speed (saturation, RSS drift) are recorded, never fatal


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def proc_cpu_s(*pids):
    """utime + stime of live processes, their threads and their child processes (nginx's worker),
    seconds."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            children = []
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    children += [int(c) for c in f.read().split()]
            total += proc_cpu_s(*children) if children else 0.0
        except (OSError, ValueError):
            continue
    return total


def proc_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


class Procs:
    """Every child the harness starts, stopped on exit (SIGTERM, then SIGKILL)."""

    def __init__(self):
        self.live = []

    def start(self, args, cpu, log, env=None, stdin=None, stdout=None):
        cmd = ["taskset", "-c", cpu] + args
        p = subprocess.Popen(cmd, stdout=stdout or log, stderr=log, stdin=stdin,
                             env=env, cwd=ROOT)
        self.live.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=15):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.live:
            self.live.remove(p)

    def stop_all(self):
        for p in list(self.live):
            self.stop(p)


PROCS = Procs()


class Env:
    def __init__(self, build, workdir):
        self.build = os.path.abspath(build)
        self.work = workdir
        self.router_bin = os.path.join(self.build, "router", "switchboard")
        self.agent_bin = os.path.join(self.build, "bench", "bench_agent")
        self.ceiling_bin = os.path.join(self.build, "bench", "grpc_fanout_ceiling")
        self.commands = []
        self.seq = 0
        self.sendgrid_key = None

    def dir(self, name):
        self.seq += 1
        d = os.path.join(self.work, f"{self.seq:03d}-{name}")
        os.makedirs(d)
        return d

    def record(self, args):
        self.commands.append(repo_relative(shlex.join(args)))


# ---------------------------------------------------------------------------------------------
# Subjects: things that answer webhooks.

class Redis:
    def __init__(self, env, name):
        self.dir = env.dir(name)
        self.port = free_port()
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes", "--appendfsync", "always", "--dir", self.dir]
        env.record(["taskset", "-c", SUT_CPU] + args)
        self.log = open(os.path.join(self.dir, "redis.log"), "w")
        self.p = PROCS.start(args, SUT_CPU, self.log)
        wait_for(lambda: port_open(self.port), 10, "redis-server")

    def cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.port)] + list(args), check=True,
                             capture_output=True, text=True).stdout.strip()
        return out

    def durability(self):
        return "redis appendonly=yes appendfsync=" + self.cli("CONFIG", "GET", "appendfsync").split()[-1]

    def stop(self):
        PROCS.stop(self.p)


class Router:
    """switchboard on the SUT core, with a fresh embedded store or a given Redis."""

    def __init__(self, env, name, agents=("audit",), redis=None, db=None):
        self.env = env
        self.dir = env.dir(name)
        self.redis = redis
        self.db = db or os.path.join(self.dir, "switchboard.db")
        self.agents = list(agents)
        with open(os.path.join(self.dir, "sendgrid-public.pem"), "w") as f:
            f.write(env.sendgrid_public)
        store = (f'{{ kind: redis, url: "redis://127.0.0.1:{redis.port}/0" }}' if redis else
                 f'{{ kind: embedded, path: "{self.db}", sync: full }}')
        # One token per agent name (a token names its agent): bench_agent sends TOKEN-<name>.
        agent_lines = "\n".join(f'  - {{ name: {a}, tokens: ["{TOKEN}-{a}"] }}'
                                 for a in self.agents)
        targets = ", ".join(self.agents)
        self.config = os.path.join(self.dir, "switchboard.yaml")
        with open(self.config, "w") as f:
            f.write(f"""http:  {{ listen: "127.0.0.1:0", max_body: 64MiB }}
grpc:  {{ listen: "127.0.0.1:0" }}
store: {store}
delivery: {{ ack_deadline: 30s, max_attempts: 10, max_in_flight: 256 }}
sources:
  - {{ name: resend, provider: standard-webhooks, vendor: resend, secrets: ["whsec_{SECRET_B64}"] }}
  - {{ name: sendgrid, provider: sendgrid, public_key_file: sendgrid-public.pem }}
agents:
{agent_lines}
rules:
  - {{ name: all, match: {{}}, agents: [{targets}] }}
""")
        self.start()

    def start(self):
        ready = os.path.join(self.dir, "ready.json")
        if os.path.exists(ready):
            os.remove(ready)
        args = [self.env.router_bin, "--config", self.config, "--ready-file", ready]
        self.env.record(["taskset", "-c", SUT_CPU] + args)
        self.log_path = os.path.join(self.dir, f"router-{int(time.time() * 1000)}.log")
        self.log = open(self.log_path, "w")
        self.p = PROCS.start(args, SUT_CPU, self.log)
        wait_for(lambda: os.path.exists(ready) or self.p.poll() is not None, 30, "router ready")
        if self.p.poll() is not None:
            raise RuntimeError(f"router exited: see {self.log_path}")
        with open(ready) as f:
            ports = json.load(f)
        self.http, self.grpc = ports["http"], ports["grpc"]
        self.url = f"http://127.0.0.1:{self.http}"

    def settle(self, quiet_s=0.5, timeout=30):
        """Waits until the router's answers stop changing: requests wrk left in flight when it
        stopped are committed (or refused) and logged before the ledger is read."""
        last, since = None, time.time()
        end = time.time() + timeout
        while time.time() < end:
            now = self.log_totals()
            if now != last:
                last, since = now, time.time()
            elif time.time() - since >= quiet_s:
                return now
            time.sleep(0.1)
        return last

    def pids(self):
        return [self.p.pid] + ([self.redis.p.pid] if self.redis else [])

    def latency_split(self):
        """The router's own latency histograms from /metrics, summed over their labels:
        {"webhook": {...}, "delivery": {...}}, each {"count": n, "le": {bound: share at or
        below}}. Webhook = request received -> answered; delivery = event received -> handed
        to the agent's stream (first attempts). Together with the agent's receipt times they
        show which leg a latency tail is on."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http, timeout=10)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
        out = {}
        for leg, name in (("webhook", "switchboard_webhook_latency_seconds"),
                          ("delivery", "switchboard_delivery_latency_seconds")):
            buckets, count = {}, 0
            for line in text.splitlines():
                if line.startswith(name + "_bucket{"):
                    bound = re.search(r'le="([^"]+)"', line).group(1)
                    buckets[bound] = buckets.get(bound, 0) + float(line.rsplit(" ", 1)[1])
                elif line.startswith(name + "_count"):
                    count += float(line.rsplit(" ", 1)[1])
            out[leg] = {"count": int(count),
                        "le": {b: round(v / count, 5) for b, v in buckets.items()} if count else {}}
        return out

    def kill9(self):
        PROCS.stop(self.p, signal.SIGKILL)
        self.log.close()

    def stop(self):
        PROCS.stop(self.p)
        self.log.close()

    def log_totals(self):
        """Sums of the router's per-request log lines: {status: requests}, accepted, duplicates."""
        statuses, accepted, duplicates = {}, 0, 0
        for path in sorted(os.listdir(self.dir)):
            if not path.startswith("router-"):
                continue
            with open(os.path.join(self.dir, path)) as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    msg = rec.get("message", rec)
                    if isinstance(msg, str):
                        try:
                            msg = json.loads(msg)
                        except ValueError:
                            continue
                    if not isinstance(msg, dict) or "status" not in msg or "source" not in msg:
                        continue
                    statuses[msg["status"]] = statuses.get(msg["status"], 0) + 1
                    if msg["status"] == 200:
                        accepted += int(msg.get("events", 0)) - int(msg.get("duplicates", 0))
                        duplicates += int(msg.get("duplicates", 0))
        return statuses, accepted, duplicates

    def store_counts(self):
        """(archived events, queue entries per agent) read from the store itself."""
        if self.redis:
            archived = int(self.redis.cli("XLEN", "switchboard:archive"))
            queued = {a: int(self.redis.cli("XLEN", f"switchboard:q:{{{a}}}"))
                      for a in self.agents}
            return archived, queued
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            archived = con.execute("SELECT COUNT(*) FROM archive").fetchone()[0]
            queued = dict(con.execute("SELECT agent, COUNT(*) FROM queue GROUP BY agent"))
            return archived, {a: queued.get(a, 0) for a in self.agents}
        finally:
            con.close()

    def archived_ids(self):
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return {row[0] for row in con.execute("SELECT event_id FROM archive")}
        finally:
            con.close()

    def durability(self):
        if self.redis:
            return self.redis.durability()
        return "sqlite WAL synchronous=FULL"


class Nginx:
    def __init__(self, env):
        if not shutil.which("nginx"):
            raise RuntimeError("nginx is not installed (bench/install.sh installs the peers)")
        self.dir = env.dir("nginx")
        self.port = free_port()
        with open(os.path.join(ROOT, "bench", "peers", "nginx", "nginx.conf.in")) as f:
            conf = f.read().replace("@PORT@", str(self.port)).replace("@DIR@", self.dir)
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        args = ["nginx", "-c", path, "-p", self.dir, "-e", os.path.join(self.dir, "error.log")]
        env.record(["taskset", "-c", SUT_CPU] + args)
        self.log = open(os.path.join(self.dir, "nginx.log"), "w")
        self.p = PROCS.start(args, SUT_CPU, self.log)
        wait_for(lambda: port_open(self.port), 10, "nginx")
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        PROCS.stop(self.p, signal.SIGQUIT)


class NodePeer:
    def __init__(self, env, redis):
        self.dir = env.dir("node")
        self.port = free_port()
        self.redis = redis
        penv = dict(os.environ, PORT=str(self.port), REDIS_PORT=str(redis.port),
                    SECRET=f"whsec_{SECRET_B64}")
        args = ["node", os.path.join(ROOT, "bench", "peers", "node", "server.js")]
        env.record(["taskset", "-c", SUT_CPU] + args)
        self.log = open(os.path.join(self.dir, "node.log"), "w")
        self.p = PROCS.start(args, SUT_CPU, self.log, env=penv)
        wait_for(lambda: port_open(self.port) or self.p.poll() is not None, 20, "node peer")
        if self.p.poll() is not None:
            raise RuntimeError("node peer exited (did `bench/install.sh` run npm ci?)")
        self.url = f"http://127.0.0.1:{self.port}"

    def appended(self):
        return int(self.redis.cli("XLEN", "queue:audit"))

    def stop(self):
        PROCS.stop(self.p)


# ---------------------------------------------------------------------------------------------
# Load.

def wrk(env, url, mode, key, prefix, duration, connections, batch=1, wrap=0, delay_ms=0):
    script = os.path.join(ROOT, "bench", "wrk", "webhook.lua")
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", script,
            url, "--", mode, key, prefix, str(batch), str(wrap), str(delay_ms)]
    env.record(["taskset", "-c", LOAD_CPU] + args)
    p = subprocess.Popen(["taskset", "-c", LOAD_CPU] + args, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    m = re.search(r"^WRKJSON (\{.*\})$", out, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({p.returncode}):\n{out}")
    r = json.loads(m.group(1))
    wall = r["duration_us"] / 1e6
    r["cpu_s"] = ru.ru_utime + ru.ru_stime
    r["cpu_util"] = r["cpu_s"] / wall if wall > 0 else 0
    r["rps"] = r["requests"] / wall if wall > 0 else 0
    r["events"] = r["requests"] * batch
    r["eps"] = r["events"] / wall if wall > 0 else 0
    r["errors"] = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
    return r


def sut_cpu(pids, fn):
    """Runs fn() and returns (its result, the CPU seconds the system under test spent meanwhile:
    the server and its store, e.g. switchboard + redis-server)."""
    before = proc_cpu_s(*pids)
    out = fn()
    return out, proc_cpu_s(*pids) - before


class Result:
    def __init__(self, scenario, subject, rep):
        self.d = {"scenario": scenario, "subject": subject, "rep": rep, "void": [], "checks": {}}

    def check(self, name, ok, detail, speed=False):
        self.d["checks"][name] = {"ok": bool(ok), "detail": detail}
        if not ok and not (speed and SMOKE):
            # Name the check that did not hold, then what was measured.
            self.d["void"].append(f"did not hold: {name} ({detail})")

    def __setitem__(self, k, v):
        self.d[k] = v


def check_load(res, w, expect_2xx=True):
    res["wrk"] = w
    res.check("load generator not saturated", w["cpu_util"] < SATURATED,
              f"wrk cpu {w['cpu_util']:.2f} of its core", speed=True)
    res.check("no socket errors", w["errors"] == 0, f"{w['errors']} connect/read/write/timeout")
    if expect_2xx:
        res.check("every valid request 2xx", w["non2xx"] == 0, f"{w['non2xx']} non-2xx")


def check_router_ledger(res, router, w, batch, expect_new):
    """sent = appended + duplicates: the router's own answers vs. its store, and vs. wrk."""
    statuses, accepted, duplicates = router.log_totals()
    archived, queued = router.store_counts()
    answered = statuses.get(200, 0)
    res["ledger"] = {"router_statuses": statuses, "router_accepted": accepted,
                     "router_duplicates": duplicates, "store_archived": archived,
                     "store_queued": queued, "wrk_2xx_requests": w["requests"] - w["non2xx"],
                     "batch": batch, "connections_in_flight_bound": w.get("connections", 0)}
    non200 = {k: v for k, v in statuses.items() if k != 200}
    res.check("router answered only 200", not non200, f"router statuses {statuses}")
    res.check("events answered = appended + duplicates", answered * batch == accepted + duplicates,
              f"{answered} requests x {batch} = {answered * batch} vs {accepted} + {duplicates}")
    res.check("appended = archived in store", accepted == archived,
              f"router accepted {accepted}, store archive {archived}")
    for agent, n in queued.items():
        res.check(f"queue {agent} = appended (not yet delivered)", n == archived,
                  f"{n} vs {archived}")
    ok_requests = w["requests"] - w["non2xx"]
    # wrk stops with up to one request per connection in flight: the router may answer those after
    # wrk stopped counting, never fewer than wrk saw.
    res.check("wrk 2xx <= router 200 <= wrk 2xx + connections",
              ok_requests <= answered <= ok_requests + w["connections"],
              f"wrk {ok_requests}, router {answered}, connections {w['connections']}")
    if expect_new:
        res.check("no duplicates with unique ids", duplicates == 0, f"{duplicates} duplicates")
    return accepted, duplicates


def run_s1_router(env, rep, args, redis_kind):
    name = f"router-{redis_kind}"
    res = Result("S1", name, rep)
    redis = Redis(env, "redis-s1") if redis_kind == "redis" else None
    router = Router(env, f"s1-{name}", redis=redis)
    try:
        w, cpu = sut_cpu(router.pids(), lambda: wrk(env, router.url + "/v1/webhooks/resend",
                                                   "stdwh", SECRET_B64, f"s1-{rep}-{name}",
                                                   args.duration, args.connections))
        w["connections"] = args.connections
        router.settle()
        router.stop()
        check_load(res, w)
        check_router_ledger(res, router, w, 1, True)
        res["value"] = w["eps"]
        res["unit"] = "events/s"
        res["sut_cpu_us_per_event"] = cpu * 1e6 / max(1, w["events"])
        res["durability"] = router.durability()
    finally:
        PROCS.stop(router.p)
        if redis:
            redis.stop()
    return res


def run_s1_nginx(env, rep, args):
    res = Result("S1", "nginx", rep)
    n = Nginx(env)
    try:
        w, cpu = sut_cpu([n.p.pid], lambda: wrk(env, n.url + "/v1/webhooks/resend", "stdwh",
                                              SECRET_B64, f"s1-{rep}-nginx", args.duration,
                                              args.connections))
        check_load(res, w)
        res["sut_cpu_us_per_event"] = cpu * 1e6 / max(1, w["events"])
        res["value"] = w["eps"]
        res["unit"] = "events/s"
        res["durability"] = "none (answers 200, stores nothing)"
    finally:
        n.stop()
    return res


def run_s1_node(env, rep, args):
    res = Result("S1", "node", rep)
    redis = Redis(env, "redis-node")
    node = NodePeer(env, redis)
    try:
        w, cpu = sut_cpu([node.p.pid, redis.p.pid],
                         lambda: wrk(env, node.url + "/v1/webhooks/resend", "stdwh", SECRET_B64,
                                     f"s1-{rep}-node", args.duration, args.connections))
        time.sleep(0.3)
        check_load(res, w)
        appended = node.appended()
        ok = w["requests"] - w["non2xx"]
        res["ledger"] = {"wrk_2xx_requests": ok, "redis_appended": appended}
        res.check("wrk 2xx <= appended <= wrk 2xx + connections",
                  ok <= appended <= ok + args.connections, f"wrk {ok}, appended {appended}")
        res["value"] = w["eps"]
        res["unit"] = "events/s"
        res["sut_cpu_us_per_event"] = cpu * 1e6 / max(1, w["events"])
        res["durability"] = redis.durability()
    finally:
        node.stop()
        redis.stop()
    return res


def run_s2(env, rep, args, batch):
    res = Result("S2", f"router-embedded batch={batch}", rep)
    router = Router(env, f"s2-{batch}")
    try:
        conns = max(1, min(args.connections, 4000 // batch))
        w, cpu = sut_cpu(router.pids(), lambda: wrk(env, router.url + "/v1/webhooks/sendgrid",
                                                   "sendgrid", env.sendgrid_key,
                                                   f"s2-{rep}-{batch}", args.duration, conns,
                                                   batch=batch))
        w["connections"] = conns
        router.settle()
        router.stop()
        check_load(res, w)
        check_router_ledger(res, router, w, batch, True)
        res["value"] = w["eps"]
        res["unit"] = "events/s"
        res["sut_cpu_us_per_event"] = cpu * 1e6 / max(1, w["events"])
        res["durability"] = router.durability()
    finally:
        PROCS.stop(router.p)
    return res


def run_s3(env, rep, args):
    res = Result("S3", "router-embedded dedupe hits", rep)
    router = Router(env, "s3")
    try:
        prefix = f"s3-{rep}"
        seed = wrk(env, router.url + "/v1/webhooks/resend", "stdwh", SECRET_B64, prefix,
                   max(1, args.duration // 3), args.connections)
        _, seeded, _ = router.settle()
        res["seeded"] = seeded
        # Ids 1..wrap were all sent and committed: at most one request per connection was left
        # unanswered when wrk stopped, and those are the last ones it generated.
        wrap = max(1, seed["requests"] - seed["non2xx"] - args.connections)
        w, cpu = sut_cpu(router.pids(), lambda: wrk(env, router.url + "/v1/webhooks/resend",
                                                   "stdwh", SECRET_B64, prefix, args.duration,
                                                   args.connections, wrap=wrap))
        w["connections"] = args.connections
        router.settle()
        router.stop()
        check_load(res, w)
        statuses, accepted, duplicates = router.log_totals()
        archived, _ = router.store_counts()
        res["ledger"] = {"router_statuses": statuses, "seeded": seeded,
                         "router_accepted": accepted, "router_duplicates": duplicates,
                         "store_archived": archived}
        res.check("no new appends on the dedupe path", accepted == seeded == archived,
                  f"seeded {seeded}, accepted total {accepted}, archived {archived}")
        ok = w["requests"] - w["non2xx"]
        res.check("every re-sent event counted duplicate",
                  ok <= duplicates <= ok + args.connections,
                  f"wrk 2xx {ok}, router duplicates {duplicates}")
        res["value"] = w["eps"]
        res["unit"] = "events/s"
        res["sut_cpu_us_per_event"] = cpu * 1e6 / max(1, w["events"])
        res["durability"] = router.durability()
    finally:
        PROCS.stop(router.p)
    return res


def run_s4(env, rep, args):
    res = Result("S4", "router-embedded bad signatures", rep)
    router = Router(env, "s4")
    try:
        w, cpu = sut_cpu(router.pids(), lambda: wrk(env, router.url + "/v1/webhooks/resend",
                                                   "badsig", SECRET_B64, f"s4-{rep}",
                                                   args.duration, args.connections))
        router.settle()
        router.stop()
        check_load(res, w, expect_2xx=False)
        statuses, accepted, _ = router.log_totals()
        archived, _ = router.store_counts()
        res["ledger"] = {"router_statuses": statuses, "store_archived": archived}
        res.check("every bad signature refused (non-2xx)", w["non2xx"] == w["requests"],
                  f"{w['non2xx']} of {w['requests']}")
        res.check("router answered only 401", set(statuses) <= {401}, f"{statuses}")
        res.check("nothing reached the store", archived == 0 and accepted == 0,
                  f"archived {archived}")
        res["value"] = w["rps"]
        res["unit"] = "requests/s"
        res["sut_cpu_us_per_event"] = cpu * 1e6 / max(1, w["requests"])
        res["durability"] = router.durability()
    finally:
        PROCS.stop(router.p)
    return res


class Agent:
    """bench_agent on the load core."""

    def __init__(self, env, d, target, names, mode="ack", streams_per_name=1, timeout_s=120):
        self.ready = os.path.join(d, "agent-ready.json")
        args = [env.agent_bin, "--target", target, "--token", TOKEN, "--names", ",".join(names),
                "--streams-per-name", str(streams_per_name), "--mode", mode,
                "--max-in-flight", "256", "--ready-file", self.ready,
                "--timeout-s", str(timeout_s), "--idle-exit-s", "2" if SMOKE else "5"]
        env.record(["taskset", "-c", LOAD_CPU] + args)
        self.log = open(os.path.join(d, "agent.log"), "w")
        self.p = PROCS.start(args, LOAD_CPU, self.log, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        wait_for(lambda: os.path.exists(self.ready) or self.p.poll() is not None, timeout_s,
                 "agent streams")

    def finish(self, expect=None, drain=False, timeout=300):
        """expect: stop at that many distinct deliveries; drain: stop once none arrived for
        --idle-exit-s (5 s, 2 s in --smoke)."""
        if expect is not None:
            self.p.stdin.write(f"expect {expect}\n".encode())
            self.p.stdin.flush()
        if drain:
            self.p.stdin.write(b"drain\n")
            self.p.stdin.flush()
        self.p.stdin.close()
        out = self.p.stdout.read().decode()
        self.p.wait(timeout)
        PROCS.live.remove(self.p)
        return json.loads(out.strip().splitlines()[-1])


def names_for(n):
    return [f"agent{i:03d}" for i in range(n)]


def run_s5(env, rep, args, rate, agents):
    res = Result("S5", f"router-embedded {rate} ev/s x {agents} agents", rep)
    names = names_for(agents)
    router = Router(env, f"s5-{rate}-{agents}", agents=names)
    try:
        agent = Agent(env, router.dir, f"127.0.0.1:{router.grpc}", names)
        # Paced: each connection pauses a random time (exponential, mean 50 ms) before each
        # request, so requests arrive as a Poisson stream at the rate (not as one burst per
        # connection every 50 ms); the achieved rate is reported.
        delay_ms = 50
        conns = max(1, rate * delay_ms // 1000)
        cpu0 = proc_cpu_s(*router.pids())
        w = wrk(env, router.url + "/v1/webhooks/resend", "stdwh", SECRET_B64,
                f"s5-{rep}-{rate}-{agents}", args.duration, conns, delay_ms=delay_ms)
        w["connections"] = conns
        # Overloaded (100 agents at 5k ev/s), commits of requests wrk left in flight can land
        # seconds later: the agent drains until no delivery came for 5 s, then the ledger is read
        # from the router's log and its store.
        a = agent.finish(drain=True)
        _, accepted, _ = router.settle(quiet_s=2.0)
        # The router's CPU per event, from the first request to the end of the drain: ingest,
        # fan-out and every agent's claims and acks of it (an idle wait adds almost nothing).
        cpu = proc_cpu_s(*router.pids()) - cpu0
        archived, queued = router.store_counts()
        check_load(res, w)
        res["agent"] = a
        res["router_latency"] = router.latency_split()
        res["ledger"] = {"router_accepted": accepted, "store_archived": archived,
                         "store_queued_after_drain": sum(queued.values()), "agents": agents,
                         "delivered_distinct": a["distinct"]}
        res.check("appended = archived", accepted == archived,
                  f"router accepted {accepted}, store archive {archived}")
        res.check("delivered = appended x agents", a["distinct"] == archived * agents,
                  f"{a['distinct']} vs {archived} x {agents}")
        agent_wall = max(1e-6, (a["end_us"] - a["welcomed_us"]) / 1e6)
        res.check("agent side not saturated", a["cpu_s"] / agent_wall < SATURATED,
                  f"agent cpu {a['cpu_s'] / agent_wall:.2f} of its core", speed=True)
        res["achieved_eps"] = w["eps"]
        res["value"] = a["lat_p99_us"] / 1000.0
        res["unit"] = "ms p99"
        res["p50_ms"] = a["lat_p50_us"] / 1000.0
        res["sut_cpu_us_per_event"] = cpu * 1e6 / max(1, archived)
        router.stop()
        res["durability"] = router.durability()
    finally:
        PROCS.stop(router.p)
    return res


def seed_sendgrid(env, router, prefix, total, batch=1000):
    """Commits `total` new events through SendGrid batches signed with the run's ECDSA key (the
    openssl CLI signs, as a provider would), before any agent connects. Returns the non-2xx
    count."""
    non2xx = 0
    conn = http.client.HTTPConnection("127.0.0.1", router.http, timeout=60)
    for start in range(0, total, batch):
        ts = str(int(time.time()))
        events = [{"email": f"rcpt{n}@example.org", "timestamp": int(ts), "event": "delivered",
                   "sg_event_id": f"{prefix}-{n}", "sg_message_id": f"m{n}.filter0001",
                   "smtp-id": f"<{n}@example.com>", "response": "250 OK",
                   "category": ["bench"]} for n in range(start, min(total, start + batch))]
        body = json.dumps(events).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", env.sendgrid_key],
                             input=ts.encode() + body, capture_output=True, check=True).stdout
        conn.request("POST", "/v1/webhooks/sendgrid", body, {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Timestamp": ts,
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode()})
        r = conn.getresponse()
        r.read()
        non2xx += r.status // 100 != 2
    conn.close()
    return non2xx


def run_s6_router(env, rep, args, agents):
    res = Result("S6", f"router-embedded {agents} agents", rep)
    names = names_for(agents)
    router = Router(env, f"s6-{agents}", agents=names)
    try:
        # Fill every queue first (no agent connected), then measure the drain alone.
        # The same number of deliveries whatever the fan-out: fewer events for more agents.
        total = (4000 if args.smoke else args.s6_deliveries) // agents
        non2xx = seed_sendgrid(env, router, f"s6-{rep}-{agents}", total)
        _, accepted, _ = router.settle()
        expect = accepted * agents
        cpu0 = proc_cpu_s(router.p.pid)
        agent = Agent(env, router.dir, f"127.0.0.1:{router.grpc}", names)
        a = agent.finish(expect=expect)
        cpu = proc_cpu_s(router.p.pid) - cpu0
        res["ledger"] = {"router_accepted": accepted, "agents": agents,
                         "delivered_distinct": a["distinct"], "seeded": total}
        res.check("seed requests 2xx", non2xx == 0, f"{non2xx} non-2xx")
        res.check("every seeded event appended", accepted == total, f"{accepted} of {total}")
        res.check("delivered = appended x agents", a["distinct"] == expect,
                  f"{a['distinct']} vs {accepted} x {agents}")
        wall = max(1e-6, (a["last_receipt_us"] - a["first_receipt_us"]) / 1e6)
        life = max(1e-6, (a["end_us"] - a["start_us"]) / 1e6)
        res.check("agent side not saturated", a["cpu_s"] / life < SATURATED,
                  f"agent cpu {a['cpu_s'] / life:.2f} of its core", speed=True)
        res["agent"] = a
        res["value"] = a["distinct"] / wall
        res["unit"] = "deliveries/s"
        res["sut_cpu_us_per_delivery"] = cpu * 1e6 / max(1, a["distinct"])
        router.stop()
        res["durability"] = router.durability()
    finally:
        PROCS.stop(router.p)
    return res, accepted


def run_s6_ceiling(env, rep, args, agents, events):
    res = Result("S6", f"grpc-ceiling {agents} agents", rep)
    d = env.dir(f"ceiling-{agents}")
    port_file = os.path.join(d, "port")
    cargs = [env.ceiling_bin, "--port-file", port_file, "--streams", str(agents), "--events",
             str(events)]
    env.record(["taskset", "-c", SUT_CPU] + cargs)
    log = open(os.path.join(d, "ceiling.log"), "w")
    p = PROCS.start(cargs, SUT_CPU, log)
    try:
        wait_for(lambda: os.path.exists(port_file), 10, "grpc ceiling")
        port = int(open(port_file).read())
        cpu0 = proc_cpu_s(p.pid)
        names = names_for(agents)
        agent = Agent(env, d, f"127.0.0.1:{port}", names)
        a = agent.finish(expect=events * agents)
        cpu = proc_cpu_s(p.pid) - cpu0
        wall = max(1e-6, (a["last_receipt_us"] - a["first_receipt_us"]) / 1e6)
        res.check("delivered = events x agents", a["distinct"] == events * agents,
                  f"{a['distinct']} vs {events} x {agents}")
        life = max(1e-6, (a["end_us"] - a["start_us"]) / 1e6)
        res.check("agent side not saturated", a["cpu_s"] / life < SATURATED,
                  f"agent cpu {a['cpu_s'] / life:.2f} of its core", speed=True)
        res["agent"] = a
        res["value"] = a["distinct"] / wall
        res["unit"] = "deliveries/s"
        res["sut_cpu_us_per_delivery"] = cpu * 1e6 / max(1, a["distinct"])
        res["durability"] = "none (no store)"
    finally:
        PROCS.stop(p)
    return res


def run_s7(env, rep, args, streams, hold_s):
    res = Result("S7", f"router-embedded {streams} idle streams", rep)
    router = Router(env, f"s7-{streams}")
    try:
        time.sleep(1.0)
        rss0 = proc_rss_kb(router.p.pid)
        agent = Agent(env, router.dir, f"127.0.0.1:{router.grpc}", ["audit"], mode="idle",
                      streams_per_name=streams, timeout_s=120)
        time.sleep(1.0)
        rss1 = proc_rss_kb(router.p.pid)
        samples = [rss1]
        for _ in range(3):
            time.sleep(hold_s / 3)
            samples.append(proc_rss_kb(router.p.pid))
        a = agent.finish()
        res["agent"] = a
        res["rss_kb"] = {"before": rss0, "connected": rss1, "over_time": samples}
        res.check("every stream welcomed", a["welcomed"] == streams,
                  f"{a['welcomed']} of {streams}")
        growth = (samples[-1] - samples[0]) / max(1, samples[0])
        res["rss_growth_while_idle"] = growth
        res.check("RSS flat while idle (<5% growth)", growth < 0.05, f"{growth * 100:.1f}%", speed=True)
        res["value"] = (max(samples) - rss0) / streams
        res["unit"] = "KB per stream"
        router.stop()
        res["durability"] = router.durability()
    finally:
        PROCS.stop(router.p)
    return res


def stdwh_request(prefix, n):
    """One signed Standard Webhooks request (the same shape as bench/wrk/webhook.lua)."""
    now = time.time()
    ts = str(int(now))
    wid = f"{prefix}-{n}"
    created = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    body = json.dumps({"type": "email.delivered", "created_at": created,
                       "data": {"email_id": wid, "from": "Bench <bench@example.com>",
                                "to": [f"rcpt{n}@example.org"], "subject": "Benchmark"}})
    mac = __import__("hmac").new(SECRET_BYTES, f"{wid}.{ts}.{body}".encode(), hashlib.sha256)
    sig = "v1," + base64.b64encode(mac.digest()).decode()
    headers = {"Content-Type": "application/json", "webhook-id": wid, "webhook-timestamp": ts,
               "webhook-signature": sig}
    event_id = hashlib.sha256(f"resend\0{wid}\0rcpt{n}@example.org".encode()).hexdigest()
    return body, headers, event_id


def run_s9(env, rep, args):
    """kill -9 during S1: every event answered 200 before the kill is in the store after it."""
    res = Result("S9", "router-embedded kill -9", rep)
    router = Router(env, "s9")
    acked, lock, stop = set(), threading.Lock(), threading.Event()
    counters = {"sent": 0, "errors": 0, "non200": 0}

    def client(t):
        n = 0
        conn = http.client.HTTPConnection("127.0.0.1", router.http, timeout=10)
        while not stop.is_set():
            body, headers, eid = stdwh_request(f"s9-{rep}-{t}", n)
            n += 1
            try:
                conn.request("POST", "/v1/webhooks/resend", body, headers)
                r = conn.getresponse()
                r.read()
                with lock:
                    counters["sent"] += 1
                    if r.status == 200:
                        acked.add(eid)
                    else:
                        counters["non200"] += 1
            except (OSError, http.client.HTTPException):
                with lock:
                    counters["errors"] += 1
                conn.close()
                if stop.wait(0.05):
                    break
                conn = http.client.HTTPConnection("127.0.0.1", router.http, timeout=10)

    threads = [threading.Thread(target=client, args=(t,)) for t in range(8)]
    try:
        for t in threads:
            t.start()
        time.sleep(args.s9_seconds)
        router.kill9()
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        router.start()  # recovery on the same database file
        router.stop()
        stored = router.archived_ids()
        lost = acked - stored
        res["ledger"] = {"acked_200": len(acked), "stored": len(stored), "lost": len(lost),
                         "client": counters}
        res.check("some events acknowledged before the kill", len(acked) > 0, f"{len(acked)}")
        res.check("no 200-acknowledged event lost", not lost,
                  f"{len(lost)} of {len(acked)} acknowledged events missing")
        res.check("no non-200 before the kill", counters["non200"] == 0, f"{counters}")
        res["value"] = len(lost)
        res["unit"] = "events lost"
        res["durability"] = router.durability()
    finally:
        stop.set()
        PROCS.stop(router.p)
    return res


def run_redis_benchmark(env, rep, args):
    """redis-benchmark with the per-event command mix of a webhook commit (SET NX PX + XADD in one
    EVAL), the ceiling of any Redis-backed receiver on this machine."""
    res = Result("S1", "redis-benchmark SET NX + XADD", rep)
    redis = Redis(env, "redis-bench")
    try:
        lua = ("if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then "
               "redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'event', ARGV[3]) return 1 end "
               "return 0")
        payload = "x" * 1500
        n = 20000 if args.smoke else 200000
        bargs = ["redis-benchmark", "-p", str(redis.port), "-c", str(args.connections), "-n",
                 str(n), "-r", "1000000000", "--csv", "EVAL", lua, "2", "dedupe:__rand_int__",
                 "queue:audit", "__rand_int__", "259200000", payload]
        env.record(["taskset", "-c", LOAD_CPU] + bargs[:-1] + ["<1500-byte payload>"])
        p = subprocess.Popen(["taskset", "-c", LOAD_CPU] + bargs, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        start = time.time()
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.time() - start
        rows = [row for row in csv.reader(out.splitlines()) if row and row[0].startswith("EVAL")]
        rps = float(rows[-1][1]) if rows else 0.0
        util = (ru.ru_utime + ru.ru_stime) / wall
        res.check("load generator not saturated", util < SATURATED, f"cpu {util:.2f}", speed=True)
        res.check("redis-benchmark ran", rps > 0, out[-300:])
        res["value"] = rps
        res["unit"] = "commits/s"
        res["durability"] = redis.durability()
    finally:
        redis.stop()
    return res


# ---------------------------------------------------------------------------------------------

def fingerprint(env):
    def version(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=10).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return None
    cpu = None
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip() != ""
    return {
        "cpu_model": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
        "memory_kb": int(open("/proc/meminfo").readline().split()[1]),
        "loadavg_start": loadavg(),
        "git": env.router_rev or (git + ("-dirty" if dirty else "")),
        "versions": {
            "wrk": version(["wrk", "--version"]) if shutil.which("wrk") else None,
            "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
            if shutil.which("nginx") else None,
            "node": version(["node", "--version"]) if shutil.which("node") else None,
            "redis": version(["redis-server", "--version"]),
            "sqlite": sqlite3.sqlite_version,
            "compiler": version(["c++", "--version"]),
        },
        "build_dir": repo_relative(env.build),
    }


def summarize(results):
    """Per scenario/subject: median, min, max over reps; void if any rep is."""
    groups = {}
    for r in results:
        groups.setdefault((r["scenario"], r["subject"]), []).append(r)
    rows = []
    for (scenario, subject), rs in groups.items():
        vals = [r["value"] for r in rs if "value" in r]
        row = {"scenario": scenario, "subject": subject, "unit": rs[0].get("unit"),
               "reps": len(rs), "values": vals,
               "median": statistics.median(vals) if vals else None,
               "min": min(vals) if vals else None, "max": max(vals) if vals else None,
               "void": sorted({v for r in rs for v in r["void"]}),
               "durability": rs[0].get("durability")}
        for extra in ("sut_cpu_us_per_event", "sut_cpu_us_per_delivery", "p50_ms",
                      "achieved_eps"):
            xs = [r[extra] for r in rs if extra in r]
            if xs:
                row[extra] = statistics.median(xs)
        rows.append(row)
    return rows


def ratios(rows):
    """Ratios computed per rep (same rep = same machine state), reported as median, min-max."""
    by = {(r["scenario"], r["subject"]): r for r in rows}
    out = []

    def add(name, num, den, target=None, higher_is_better=True):
        a, b = by.get(num), by.get(den)
        if not a or not b or not a["values"] or not b["values"]:
            return
        per_rep = [x / y for x, y in zip(a["values"], b["values"]) if y]
        if not per_rep:
            return
        med = statistics.median(per_rep)
        out.append({"ratio": name, "median": med, "min": min(per_rep), "max": max(per_rep),
                    "target": target,
                    "met": None if target is None else
                    (med >= target if higher_is_better else med <= target),
                    "void": bool(a["void"] or b["void"])})

    add("S1 embedded / nginx", ("S1", "router-embedded"), ("S1", "nginx"), 0.5)
    add("S1 embedded / node", ("S1", "router-embedded"), ("S1", "node"), 5.0)
    add("S1 redis / nginx", ("S1", "router-redis"), ("S1", "nginx"), 0.35)
    add("S1 redis / node", ("S1", "router-redis"), ("S1", "node"), 4.0)
    add("S1 redis / redis-benchmark commit mix", ("S1", "router-redis"),
        ("S1", "redis-benchmark SET NX + XADD"))
    for n in (1, 10, 100):
        add(f"S6 {n} agents / gRPC ceiling", ("S6", f"router-embedded {n} agents"),
            ("S6", f"grpc-ceiling {n} agents"), 0.8)
    return out


def absolute_targets(rows):
    by = {(r["scenario"], r["subject"]): r for r in rows}
    out = []

    def add(name, key, field, target, higher):
        r = by.get(key)
        if not r or r.get(field) is None:
            return
        v = r[field]
        out.append({"target": name, "value": v, "goal": target,
                    "met": v >= target if higher else v <= target, "void": bool(r["void"])})

    add("S2 1000/POST events/s", ("S2", "router-embedded batch=1000"), "median", 150000, True)
    add("S5 1k ev/s, 1 agent, p99 ms", ("S5", "router-embedded 1000 ev/s x 1 agents"), "median",
        2.0, False)
    add("S5 1k ev/s, 10 agents, p99 ms", ("S5", "router-embedded 1000 ev/s x 10 agents"),
        "median", 5.0, False)
    for n in (1, 10, 100):
        add(f"S6 {n} agents CPU µs/delivery", ("S6", f"router-embedded {n} agents"),
            "sut_cpu_us_per_delivery", 10.0, False)
    for n in (1000, 5000):
        add(f"S7 {n} streams KB/stream", ("S7", f"router-embedded {n} idle streams"), "median",
            50.0, False)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per load phase")
    ap.add_argument("--fsync-probe-s", type=float, default=None,
                    help="seconds of bench/fsync_probe.py in the store's directory at the start "
                         "and at the end of the run (default 5, 1 with --smoke; 0: none)")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--only", default="", help="comma-separated scenarios, e.g. S1,S6")
    ap.add_argument("--s9-seconds", type=float, default=3.0)
    ap.add_argument("--s2-batches", default="", help="S2 batch sizes, e.g. 1000 (default 10,100,1000)")
    ap.add_argument("--s6-agents", default="", help="S6 agent counts, e.g. 1,10 (default 1,10,100)")
    ap.add_argument("--s6-deliveries", type=int, default=60000,
                    help="S6 deliveries per drain, split over the agent names (default 60000; "
                         "more gives a longer drain, e.g. for A/B or a profile)")
    ap.add_argument("--s5-rates", default="", help="S5 rates in events/s, e.g. 1000 (default 1000,5000)")
    ap.add_argument("--s5-agents", default="", help="S5 agent counts, e.g. 1,10 (default 1,10,100)")
    ap.add_argument("--skip", default="",
                    help="comma-separated subjects left out: redis (the router on Redis), nginx, "
                         "node, redis-benchmark, ceiling (S6's bare gRPC peer); for A/B runs of "
                         "the embedded router alone (bench/ab.py)")
    ap.add_argument("--router-rev", default="",
                    help="what the router in --build was built from (default: this checkout's "
                         "git HEAD)")
    args = ap.parse_args()
    global SMOKE
    SMOKE = args.smoke
    if args.smoke:
        args.reps, args.duration, args.connections = 1, 1, 8
    only = set(filter(None, args.only.split(",")))

    def want(s):
        return not only or s in only

    skip = set(filter(None, args.skip.split(",")))

    def pick(text):
        return tuple(int(x) for x in text.split(",") if x)

    # S7 holds thousands of connections: raise the soft fd limit as far as the hard one allows.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    nofile = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
    work = tempfile.mkdtemp(prefix="switchboard-bench-")
    env = Env(args.build, work)
    env.router_rev = args.router_rev
    for binary in (env.router_bin, env.agent_bin, env.ceiling_bin):
        if not os.path.exists(binary):
            sys.exit(f"missing {binary}: build the switchboard, bench_agent and "
                     f"grpc_fanout_ceiling targets in {args.build}")
    # A SendGrid key pair for the run (S2 signs with it, the router verifies with it).
    key = os.path.join(work, "sendgrid-private.pem")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key],
                   check=True)
    env.sendgrid_key = key
    env.sendgrid_public = subprocess.run(["openssl", "ec", "-in", key, "-pubout"], check=True,
                                         capture_output=True, text=True).stdout
    started = datetime.datetime.now(datetime.timezone.utc)
    fp = fingerprint(env)
    probe_s = args.fsync_probe_s if args.fsync_probe_s is not None else (1 if args.smoke else 5)
    if probe_s > 0:
        fp["disk_sync_start"] = fsync_probe.probe(work, probe_s)
    results = []

    def run(fn, *a):
        name = fn.__name__
        t0 = time.time()
        try:
            r = fn(*a)
        except Exception as e:  # a broken scenario voids itself; the others still run
            r = Result(name, "error", a[1])
            r.check("scenario ran", False, f"{type(e).__name__}: {e}")
        for one in (r if isinstance(r, list) else [r]):
            one["loadavg_after"] = loadavg()
            one["seconds"] = round(time.time() - t0, 1)
            results.append(one.d)
            status = "VOID " + "; ".join(one.d["void"]) if one.d["void"] else "ok"
            print(f"[rep {one.d['rep']}] {one.d['scenario']} {one.d['subject']}: "
                  f"{one.d.get('value', '-')} {one.d.get('unit', '')} {status}", flush=True)

    s6_events = {}
    for rep in range(1, args.reps + 1):
        if want("S1"):
            run(run_s1_router, env, rep, args, "embedded")
            if "redis" not in skip:
                run(run_s1_router, env, rep, args, "redis")
            if not args.smoke:
                if "nginx" not in skip:
                    run(run_s1_nginx, env, rep, args)
                if "node" not in skip:
                    run(run_s1_node, env, rep, args)
                if "redis-benchmark" not in skip:
                    run(run_redis_benchmark, env, rep, args)
        if want("S2"):
            for batch in (pick(args.s2_batches) or ((10, 100) if args.smoke else (10, 100, 1000))):
                run(run_s2, env, rep, args, batch)
        if want("S3"):
            run(run_s3, env, rep, args)
        if want("S4"):
            run(run_s4, env, rep, args)
        if want("S5"):
            for rate in (pick(args.s5_rates) or ((1000,) if args.smoke else (1000, 5000))):
                for agents in (pick(args.s5_agents) or ((1, 10) if args.smoke else (1, 10, 100))):
                    run(run_s5, env, rep, args, rate, agents)
        if want("S6"):
            for agents in (pick(args.s6_agents) or ((1, 10) if args.smoke else (1, 10, 100))):
                def s6(env_, rep_, args_, agents_):
                    r, accepted = run_s6_router(env_, rep_, args_, agents_)
                    s6_events[agents_] = max(1, accepted)
                    if "ceiling" in skip:
                        return [r]
                    return [r, run_s6_ceiling(env_, rep_, args_, agents_, s6_events[agents_])]
                s6.__name__ = "run_s6"
                run(s6, env, rep, args, agents)
        if want("S7"):
            for streams in ((100,) if args.smoke else (1000, 5000)):
                run(run_s7, env, rep, args, streams, 2.0 if args.smoke else 15.0)
        if want("S9"):
            run(run_s9, env, rep, args)

    rows = summarize(results)
    doc = {
        "suite": "smoke" if args.smoke else ("full" if not only else
                                             "partial-" + "-".join(sorted(only))),
        "started": started.isoformat(), "finished": datetime.datetime.now(
            datetime.timezone.utc).isoformat(),
        "machine": fp, "loadavg_end": loadavg(),
        "disk_sync_end": fsync_probe.probe(work, probe_s) if probe_s > 0 else None,
        "cores": {"load_generator": LOAD_CPU, "system_under_test": SUT_CPU},
        "options": {"reps": args.reps, "duration_s": args.duration,
                    "connections": args.connections},
        "durability": sorted({r["durability"] for r in rows if r.get("durability")}),
        "commands": env.commands, "runs": results, "summary": rows, "ratios": ratios(rows),
        "targets": absolute_targets(rows),
        "void": sorted({f"{r['scenario']} {r['subject']}: {v}" for r in results
                        for v in r["void"]}),
    }
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"{started.strftime('%Y%m%dT%H%M%SZ')}-{doc['suite']}.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"results: {path}")
    shutil.rmtree(work, ignore_errors=True)
    if doc["void"]:
        print(f"VOID: {len(doc['void'])} failed checks", file=sys.stderr)
        for v in doc["void"]:
            print(f"  {v}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        PROCS.stop_all()
