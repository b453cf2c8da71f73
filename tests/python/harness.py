"""Real processes for the Python tests: a `switchboard` router on a temporary config, signed
webhooks through `switchboardctl send`, and the example agents as subprocesses.

Ports are picked free up front and written into the config (not port 0), so that a restarted
router listens where the agents reconnect to.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = SOURCE_DIR / "tests" / "testdata" / "fixtures"


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range (ip_local_port_range), which port-0
    binds and outgoing connections draw from: other tests running meanwhile take ports from
    that range, so one picked there is more likely gone by the time the router binds it."""
    try:
        low = int(pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.SystemRandom()
    for _ in range(100):
        port = rng.randrange(10000, max(low, 10001))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_free_ports() -> "tuple[int, int]":
    """Two different free_port()s."""
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


def event_id(source: str, provider_event_key: str, address: str) -> str:
    """The idempotency key as README.md defines it, computed independently of the router:
    hex SHA-256 of source + NUL + provider event key + NUL + lower-cased bare address."""
    m = re.search(r"<([^>]+)>", address)
    bare = (m.group(1) if m else address).strip().lower()
    return hashlib.sha256(f"{source}\0{provider_event_key}\0{bare}".encode()).hexdigest()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Router:
    """A `switchboard` process in `workdir` with sources resend, agentmail (one Standard Webhooks
    secret) and sendgrid (a key pair from `switchboardctl dev-keys`), the given agents (name ->
    token) and rules (YAML flow mappings)."""

    def __init__(self, binary: str, ctl: str, workdir: pathlib.Path, agents: Dict[str, str],
                 rules: List[str], ack_deadline: str = "30s", max_attempts: int = 10):
        self.binary, self.ctl, self.dir = binary, ctl, pathlib.Path(workdir)
        self.http_port, self.grpc_port = two_free_ports()
        self.proc: Optional[subprocess.Popen] = None
        self.launches = 0
        subprocess.run([ctl, "dev-keys", "--out", str(self.dir / "keys")], check=True,
                       capture_output=True)
        agent_lines = []
        for name, token in agents.items():
            (self.dir / "keys" / f"{name}.token").write_text(token + "\n")
            agent_lines.append(f"  - {{ name: {name}, tokens_file: keys/{name}.token }}")
        self.config = self.dir / "switchboard.yaml"
        self._config_rest = [
            'store: { kind: embedded, path: "./data/switchboard.db", sync: full }',
            "dedupe: { window: 72h }",
            f"delivery: {{ ack_deadline: {ack_deadline}, max_attempts: {max_attempts}, "
            "max_in_flight: 64 }",
            "sources:",
            "  - { name: resend, provider: standard-webhooks, vendor: resend, "
            "secrets_file: keys/standard-webhooks.secret }",
            "  - { name: agentmail, provider: standard-webhooks, vendor: agentmail, "
            "secrets_file: keys/standard-webhooks.secret }",
            "  - { name: sendgrid, provider: sendgrid, public_key_file: keys/sendgrid-public.txt }",
            "agents:", *agent_lines,
            "rules:", *[f"  - {rule}" for rule in rules],
        ]
        self._write_config()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def _write_config(self) -> None:
        self.config.write_text("\n".join([
            f'http:  {{ listen: "127.0.0.1:{self.http_port}", max_body: 10MiB }}',
            f'grpc:  {{ listen: "127.0.0.1:{self.grpc_port}" }}',
            *self._config_rest]) + "\n")

    def start(self) -> "Router":
        """Starts the router and waits for its ready file. The ports were picked free up front,
        so another process may have taken one meanwhile: the first start then tries again on
        new ones (a restart keeps its ports, which the agents reconnect to)."""
        retries_left = 2 if self.launches == 0 else 0
        while True:
            try:
                return self._launch()
            except AssertionError as error:
                port_taken = ("Address already in use" in str(error)
                              or "cannot bind" in str(error))
                if not port_taken or retries_left == 0:
                    raise
                retries_left -= 1
                self.http_port, self.grpc_port = two_free_ports()
                self._write_config()

    def _launch(self) -> "Router":
        assert self.proc is None, "already running"
        self.launches += 1
        ready = self.dir / "ready.json"
        ready.unlink(missing_ok=True)
        log = open(self.dir / f"router.{self.launches}.log", "wb")
        self.proc = subprocess.Popen(
            [self.binary, "--config", str(self.config), "--ready-file", str(ready)],
            cwd=self.dir, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code, self.proc = self.proc.returncode, None
                raise AssertionError(f"router exited at start ({code}):\n{self.log()}")
            try:
                ports = json.loads(ready.read_text())
                if ports.get("grpc") == self.grpc_port and ports.get("http") == self.http_port:
                    return self
            except (FileNotFoundError, json.JSONDecodeError):
                pass
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"router not ready in 20 s:\n{self.log()}")

    def terminate(self) -> int:
        """SIGTERM (graceful shutdown); returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL: a crash."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def log(self) -> str:
        path = self.dir / f"router.{self.launches}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def send(self, source: str, *, event: Optional[str] = None, file: Optional[str] = None,
             to: Optional[str] = None, msg_id: Optional[str] = None) -> str:
        """Posts a correctly signed webhook (switchboardctl send); asserts HTTP 200."""
        args = [self.ctl, "send", "--config", str(self.config), "--source", source,
                "--url", f"http://127.0.0.1:{self.http_port}"]
        if event:
            args += ["--event", event]
        if file:
            args += ["--file", str(file)]
        if to:
            args += ["--to", to]
        if msg_id:
            args += ["--id", msg_id]
        if source == "sendgrid":
            args += ["--private-key", str(self.dir / "keys" / "sendgrid-private.pem")]
        out = subprocess.run(args, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and out.stdout.startswith("HTTP 200"), (
            f"send failed ({out.returncode}): {out.stdout} {out.stderr}\n{self.log()}")
        return out.stdout


def new_token() -> str:
    return secrets.token_urlsafe(24)


class AgentProcess:
    """An example agent run as its users run it: `python -m <module> run ...`."""

    def __init__(self, module: str, args: List[str], token: str, workdir: pathlib.Path,
                 name: str):
        env = dict(os.environ, SWITCHBOARD_AGENT_TOKEN=token, PYTHONUNBUFFERED="1")
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", module, "run", *args],
                                         cwd=workdir, env=env, stdout=out, stderr=err)

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM: the agent finishes running handlers and exits 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"agent did not stop on SIGTERM:\n{self.stderr()}")
