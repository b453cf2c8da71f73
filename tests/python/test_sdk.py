"""The Python SDK against a real router: receive, ack, nack/redelivery, Retry(after), lease
extension, max_in_flight, graceful stop, refused tokens, several router addresses, and router
restarts (SIGTERM and kill -9) with nothing lost and duplicates only of unacked deliveries."""
import asyncio
import datetime
import threading
import time

import grpc
import pytest

from harness import event_id, free_port, new_token, wait_until
from switchboard import Agent, AgentError, EventType, Retry

RULES = ["{ name: sdk-all, match: {}, agents: [sdk] }"]


class AgentThread:
    """Runs Agent.run() on its own event loop in a thread, as an application would."""

    def __init__(self, agent: Agent):
        self.agent = agent
        self.error = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()

    def _main(self):
        try:
            asyncio.run(self.agent.run())
        except BaseException as error:  # reported by stop()
            self.error = error

    def stop(self, timeout: float = 20.0) -> float:
        """agent.stop(), then waits for run() to return; returns how long that took."""
        started = time.monotonic()
        self.agent.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "Agent.run() did not return after stop()"
        if self.error is not None:
            raise self.error
        return time.monotonic() - started


class Recorder:
    """Thread-safe list of (event, context, monotonic time) a handler saw."""

    def __init__(self):
        self._lock = threading.Lock()
        self.calls = []

    def add(self, event, ctx):
        with self._lock:
            self.calls.append((event, ctx, time.monotonic()))

    def snapshot(self):
        with self._lock:
            return list(self.calls)

    def count(self):
        with self._lock:
            return len(self.calls)


def new_agent(router, token, **options):
    options.setdefault("reconnect_backoff_max", 1.0)
    return Agent("sdk", router.target, token=token, **options)


def assert_nothing_comes_back(router, token, message="an acked event came back"):
    """A fresh agent of the same name sees nothing for 3 s, past a 2 s lease: every event was
    acked (an unacked delivery would be back by then)."""
    again = Recorder()
    agent = new_agent(router, token)
    agent.on("*")(again.add)
    runner = AgentThread(agent)
    time.sleep(3)
    runner.stop()
    assert again.count() == 0, message


def test_handler_receives_the_typed_event_and_a_return_acks_it(make_router):
    token = new_token()
    router = make_router({"sdk": token}, RULES, ack_deadline="2s")
    seen = Recorder()
    agent = new_agent(router, token)
    agent.on("bounced")(seen.add)  # a plain function: runs on a worker thread
    runner = AgentThread(agent)

    router.send("resend", event="bounced", to="Jane.Doe@Example.COM", msg_id="msg_sdk_receive")
    wait_until(lambda: seen.count() == 1, 10, "the bounce")
    event, ctx, _ = seen.snapshot()[0]
    assert event.type == EventType.EVENT_TYPE_BOUNCED
    assert event.source == "resend" and event.provider == "resend"
    assert event.provider_event_key == "msg_sdk_receive"
    assert event.recipient_key == "jane.doe@example.com"
    assert event.id == event_id("resend", "msg_sdk_receive", "jane.doe@example.com")
    assert ctx.attempt == 1
    assert ctx.matched_rules == ("sdk-all",)
    assert ctx.router == router.target
    assert ctx.delivery_id
    now = datetime.datetime.now(datetime.timezone.utc)
    assert now - datetime.timedelta(seconds=5) < ctx.lease_expires_at < now + datetime.timedelta(
        seconds=5)
    assert agent.ack_deadline == 2.0 and agent.welcomes == 1

    # Acked: not delivered again, although two whole ack deadlines pass.
    time.sleep(4.5)
    assert seen.count() == 1
    runner.stop()

    # And not to the next instance either.
    assert_nothing_comes_back(router, token)


def test_event_without_a_handler_is_acked(make_router):
    token = new_token()
    router = make_router({"sdk": token}, RULES, ack_deadline="2s")
    bounces = Recorder()
    agent = new_agent(router, token)
    agent.on("bounced")(bounces.add)
    runner = AgentThread(agent)
    router.send("resend", event="delivered", to="a@example.com", msg_id="msg_no_handler")
    router.send("resend", event="bounced", to="b@example.com", msg_id="msg_with_handler")
    wait_until(lambda: bounces.count() == 1, 10, "the bounce")
    runner.stop()

    assert_nothing_comes_back(router, token, "the event without a handler was not acked")


def test_an_exception_nacks_and_the_event_comes_back_as_attempt_2(make_router):
    token = new_token()
    # A 30 s lease: a redelivery within seconds can only come from the Nack.
    router = make_router({"sdk": token}, RULES, ack_deadline="30s")
    seen = Recorder()
    agent = new_agent(router, token)

    @agent.on("complained")
    async def complained(event, ctx):
        seen.add(event, ctx)
        if ctx.attempt == 1:
            raise RuntimeError("downstream unavailable")

    runner = AgentThread(agent)
    router.send("resend", event="complained", to="c@example.com", msg_id="msg_sdk_nack")
    wait_until(lambda: seen.count() >= 2, 10, "the redelivery")
    time.sleep(1)
    runner.stop()
    calls = seen.snapshot()
    assert [ctx.attempt for _, ctx, _ in calls] == [1, 2]
    expected = event_id("resend", "msg_sdk_nack", "c@example.com")
    assert [e.id for e, _, _ in calls] == [expected, expected]
    assert calls[0][1].delivery_id != calls[1][1].delivery_id


def test_retry_after_delays_the_redelivery(make_router):
    token = new_token()
    router = make_router({"sdk": token}, RULES, ack_deadline="30s")
    seen = Recorder()
    agent = new_agent(router, token)

    @agent.on("deferred")
    async def deferred(event, ctx):
        seen.add(event, ctx)
        if ctx.attempt == 1:
            raise Retry(after=datetime.timedelta(seconds=2), reason="rate limited")

    runner = AgentThread(agent)
    router.send("resend", event="deferred", to="d@example.com", msg_id="msg_sdk_retry")
    wait_until(lambda: seen.count() >= 2, 15, "the redelivery after Retry(after=2s)")
    runner.stop()
    (first, ctx1, t1), (second, ctx2, t2) = seen.snapshot()
    assert (ctx1.attempt, ctx2.attempt) == (1, 2)
    assert first.id == second.id
    assert t2 - t1 >= 1.9, f"redelivered after {t2 - t1:.2f}s, asked for 2s"


def test_retry_refuses_negative_delays():
    with pytest.raises(ValueError):
        Retry(after=-1)
    with pytest.raises(ValueError):
        Retry(after=float("nan"))
    assert Retry(after=datetime.timedelta(milliseconds=1500)).after == 1.5


def test_a_handler_running_past_the_deadline_keeps_its_lease(make_router):
    token = new_token()
    router = make_router({"sdk": token}, RULES, ack_deadline="2s")
    seen = Recorder()
    finished = threading.Event()
    agent = new_agent(router, token)

    @agent.on("bounced")
    async def slow(event, ctx):
        seen.add(event, ctx)
        await asyncio.sleep(5)  # 2.5 ack deadlines: an LLM call
        finished.set()

    runner = AgentThread(agent)
    router.send("resend", event="bounced", to="slow@example.com", msg_id="msg_sdk_slow")
    wait_until(finished.is_set, 15, "the slow handler")
    time.sleep(3)  # past the last extension: an unacked delivery would be back
    runner.stop()
    assert [ctx.attempt for _, ctx, _ in seen.snapshot()] == [1]


def test_max_in_flight_bounds_the_handlers_running_at_once(make_router):
    token = new_token()
    router = make_router({"sdk": token}, RULES)
    seen = Recorder()
    lock = threading.Lock()
    running = [0, 0]  # now, most
    agent = new_agent(router, token, max_in_flight=3)

    @agent.on("delivered")
    async def delivered(event, ctx):
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        await asyncio.sleep(0.4)
        with lock:
            running[0] -= 1
        seen.add(event, ctx)

    for i in range(8):  # queued before the agent connects
        router.send("resend", event="delivered", to=f"w{i}@example.com", msg_id=f"msg_w{i}")
    runner = AgentThread(agent)
    wait_until(lambda: seen.count() == 8, 20, "8 events")
    runner.stop()
    assert running[1] == 3
    assert len({e.id for e, _, _ in seen.snapshot()}) == 8


def test_a_backlog_arrives_in_batches_and_every_coalesced_ack_counts(make_router):
    # 60 events queued before the agent connects reach it in DeliveryBatch frames; handlers
    # finishing together ack in one Ack (more_delivery_ids). Every id must count: nothing may
    # come back after the 2 s lease, to this agent or the next.
    token = new_token()
    router = make_router({"sdk": token}, RULES, ack_deadline="2s")
    seen = Recorder()
    agent = new_agent(router, token, max_in_flight=32)

    @agent.on("delivered")
    async def delivered(event, ctx):
        await asyncio.sleep(0.01)
        seen.add(event, ctx)

    for i in range(60):
        router.send("resend", event="delivered", to=f"b{i}@example.com", msg_id=f"msg_b{i}")
    runner = AgentThread(agent)
    wait_until(lambda: seen.count() == 60, 20, "60 events")
    assert "agent sdk subscribed (instance" in router.log()
    assert "batches on)" in router.log(), "the SDK did not ask for batches"
    time.sleep(4.5)  # two leases: an unacked delivery would be back by now
    runner.stop()
    assert seen.count() == 60
    assert len({e.id for e, _, _ in seen.snapshot()}) == 60
    assert all(ctx.attempt == 1 for _, ctx, _ in seen.snapshot())

    assert_nothing_comes_back(router, token)


def test_stop_lets_a_running_handler_finish_and_ack(make_router):
    token = new_token()
    router = make_router({"sdk": token}, RULES, ack_deadline="2s")
    started, done = threading.Event(), threading.Event()
    agent = new_agent(router, token)

    @agent.on("bounced")
    async def bounced(event, ctx):
        started.set()
        await asyncio.sleep(1.5)
        done.set()

    runner = AgentThread(agent)
    router.send("resend", event="bounced", to="s@example.com", msg_id="msg_sdk_stop")
    wait_until(started.is_set, 10, "the handler to start")
    took = runner.stop()
    assert done.is_set(), "stop() returned before the running handler finished"
    assert took >= 1.0

    assert_nothing_comes_back(router, token, "the handler's ack was lost on stop()")


@pytest.mark.parametrize("which", ["bad token", "another agent's token"])
def test_a_refused_token_ends_run_without_retrying(make_router, which):
    token, other = new_token(), new_token()
    router = make_router({"sdk": token, "other": other},
                         RULES + ["{ name: other-all, match: {}, agents: [other] }"])
    agent = new_agent(router, "wrong-" + token if which == "bad token" else other)
    started = time.monotonic()
    with pytest.raises(AgentError) as raised:
        asyncio.run(asyncio.wait_for(agent.run(), timeout=10))
    assert time.monotonic() - started < 5
    assert raised.value.code == (grpc.StatusCode.UNAUTHENTICATED if which == "bad token"
                                 else grpc.StatusCode.PERMISSION_DENIED)


def test_token_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_AGENT_TOKEN", "from-env")
    monkeypatch.setenv("SWITCHBOARD_TARGETS", "a:1, b:2")
    agent = Agent("sdk")
    assert agent._token == "from-env" and agent._targets == ["a:1", "b:2"]
    monkeypatch.delenv("SWITCHBOARD_AGENT_TOKEN")
    with pytest.raises(ValueError):
        Agent("sdk", "a:1")
    with pytest.raises(ValueError):
        Agent("sdk", "a:1", token="t").on("bouncedd")


def test_moves_on_to_the_next_router_address(make_router):
    token = new_token()
    router = make_router({"sdk": token}, RULES)
    seen = Recorder()
    dead = f"127.0.0.1:{free_port()}"  # nothing listens here
    agent = Agent("sdk", [dead, router.target], token=token, reconnect_backoff_min=0.05,
                  reconnect_backoff_max=0.5)
    agent.on("*")(seen.add)
    runner = AgentThread(agent)
    router.send("resend", event="opened", to="o@example.com", msg_id="msg_sdk_targets")
    wait_until(lambda: seen.count() == 1, 10, "the event via the second address")
    runner.stop()
    assert seen.snapshot()[0][1].router == router.target


@pytest.mark.parametrize("how", ["SIGTERM", "kill -9"])
def test_router_restart_loses_nothing_and_redelivers_only_unacked(make_router, how):
    token = new_token()
    # A 30 s lease: within this test, redeliveries can only come from the restart.
    router = make_router({"sdk": token}, RULES, ack_deadline="30s")
    seen = Recorder()
    release = threading.Event()
    agent = new_agent(router, token, max_in_flight=16, reconnect_backoff_min=0.05)

    @agent.on("*")
    async def handle(event, ctx):
        seen.add(event, ctx)
        # First deliveries to hold-* stay unacked across the restart.
        while event.recipient_key.startswith("hold") and ctx.attempt == 1 and not release.is_set():
            await asyncio.sleep(0.05)

    runner = AgentThread(agent)
    sent = {}
    for name in ["ack0", "ack1", "ack2", "ack3", "ack4", "hold0", "hold1"]:
        router.send("resend", event="delivered", to=f"{name}@example.com", msg_id=f"msg_{name}")
        sent[name] = event_id("resend", f"msg_{name}", f"{name}@example.com")
    wait_until(lambda: seen.count() == 7, 15, "the first 7 deliveries")
    # The acks of ack* were sent when their handlers returned; give the store's group commit a
    # moment so they are durable before the crash (an ack lost in a crash would rightly be
    # redelivered, which is not what this test is about).
    time.sleep(1.0)

    if how == "SIGTERM":
        assert router.terminate() == 0
    else:
        router.kill()
    router.start()
    wait_until(lambda: agent.welcomes >= 2, 15, "the agent to reconnect")
    for name in ["after0", "after1", "after2"]:
        router.send("resend", event="delivered", to=f"{name}@example.com", msg_id=f"msg_{name}")
        sent[name] = event_id("resend", f"msg_{name}", f"{name}@example.com")
    wait_until(lambda: seen.count() >= 12, 20, "the redeliveries and the new events")
    time.sleep(1.5)  # room for an unexpected extra delivery to show up
    release.set()
    runner.stop()

    calls = seen.snapshot()
    by_id = {}
    for event, ctx, _ in calls:
        by_id.setdefault(event.id, []).append(ctx.attempt)
    assert set(by_id) == set(sent.values()), "an event was lost (or one nobody sent appeared)"
    for name, eid in sent.items():
        if name.startswith("hold"):
            attempts = by_id[eid]
            assert len(attempts) == 2 and attempts[0] == 1 and attempts[1] >= 2, (name, attempts)
        else:
            assert by_id[eid] == [1], f"{name} was acked before the restart, yet: {by_id[eid]}"
