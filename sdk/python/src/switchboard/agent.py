"""The asyncio agent client of proto/switchboard/v1/agent.proto.

An Agent subscribes to a router's AgentService under an agent name, runs the handler registered
for each delivered event's type, and answers the router by the handler's outcome:

- the handler returns          -> Ack
- the handler raises Retry     -> Nack with retry_after = Retry.after
- the handler raises otherwise -> Nack (retry_after 0, reason = the exception)

Delivery is at-least-once: a handler may see an event again (attempt > 1), so it should be
idempotent (EmailEvent.id is the idempotency key).

Thread safety: an Agent belongs to the event loop that runs Agent.run(); only Agent.stop() may be
called from any thread (or a signal handler, or a handler). Synchronous handlers run on a thread
pool of max_in_flight threads; async handlers run on the loop.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import datetime
import inspect
import logging
import os
import random
import signal
import threading
from typing import Any, Awaitable, Callable, List, Optional, Sequence, Union

import grpc
from google.protobuf import duration_pb2

from switchboard.v1 import agent_pb2, agent_pb2_grpc, email_event_pb2

__all__ = [
    "Agent", "AgentError", "DeliveryContext", "Retry", "event_type", "event_type_name",
]

log = logging.getLogger("switchboard")

EmailEvent = email_event_pb2.EmailEvent

# The router's verdicts that retrying cannot change (agent.proto): Run() raises AgentError.
_FATAL_CODES = (
    grpc.StatusCode.UNAUTHENTICATED,     # bad token or unknown agent
    grpc.StatusCode.PERMISSION_DENIED,   # the token belongs to another agent
    grpc.StatusCode.INVALID_ARGUMENT,    # protocol violation
)
_WELCOME_TIMEOUT_S = 15.0      # the router answers Hello at once; this bounds a hung connect
_CLOSE_TIMEOUT_S = 5.0         # after our half-close, how long the router may take to end the stream
_TYPE_PREFIX = "EVENT_TYPE_"


def event_type(name: str) -> int:
    """The EventType value of a lowercase name as in the router's config ("bounced").

    Raises ValueError for an unknown name (UNSPECIFIED is not a name)."""
    if not isinstance(name, str) or name != name.lower() or name in ("", "unspecified"):
        raise ValueError(f"unknown event type {name!r} (lowercase, e.g. 'bounced')")
    try:
        return email_event_pb2.EventType.Value(_TYPE_PREFIX + name.upper())
    except ValueError:
        raise ValueError(f"unknown event type {name!r} (lowercase, e.g. 'bounced')") from None


def event_type_name(value: int) -> str:
    """The lowercase name of an EventType value ("bounced"); "unknown" for values this SDK
    version does not know (a newer router)."""
    try:
        return email_event_pb2.EventType.Name(value)[len(_TYPE_PREFIX):].lower()
    except ValueError:
        return "unknown"


class Retry(Exception):
    """Raised by a handler: nack the delivery and have the router deliver it again no earlier
    than `after` (seconds, or a timedelta) from now. `reason` is shown to operators."""

    def __init__(self, after: Union[float, datetime.timedelta] = 0.0, reason: str = ""):
        seconds = after.total_seconds() if isinstance(after, datetime.timedelta) else float(after)
        if not seconds >= 0.0:  # also refuses NaN
            raise ValueError(f"Retry(after=...) must be >= 0, got {after!r}")
        super().__init__(reason or f"retry after {seconds:g}s")
        self.after = seconds
        self.reason = reason or str(self)


class AgentError(Exception):
    """The router refused this agent for a reason retrying cannot fix (bad token, unknown agent,
    another agent's token, protocol violation). `code` is the grpc.StatusCode."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


@dataclasses.dataclass(frozen=True)
class DeliveryContext:
    """About one delivery: one attempt of one event."""
    delivery_id: str                       # opaque, unique per attempt
    attempt: int                           # 1 for the first delivery
    matched_rules: tuple                   # names of the routing rules that selected this agent
    lease_expires_at: datetime.datetime    # UTC, as the router set it when it sent the delivery
    router: str                            # the address of the router this came from


Handler = Callable[[EmailEvent, DeliveryContext], Union[None, Awaitable[None]]]


class _Stream:
    """One Subscribe call's write side: one write at a time; after the call broke, writes are
    dropped (their deliveries return to the router's queue when the stream ends).

    With `batches` (the router's Welcome.batches), acks made while a write is in progress wait
    and leave together in one Ack (delivery_id plus more_delivery_ids)."""

    def __init__(self, call):
        self._call = call
        self._lock = asyncio.Lock()
        self._open = True
        self.batches = False
        self._pending_acks: List[str] = []

    async def send(self, request: agent_pb2.SubscribeRequest) -> bool:
        async with self._lock:
            return await self._write_locked(request)

    async def ack(self, delivery_id: str) -> bool:
        if not self.batches:
            return await self.send(agent_pb2.SubscribeRequest(
                ack=agent_pb2.Ack(delivery_id=delivery_id)))
        self._pending_acks.append(delivery_id)
        async with self._lock:
            ids, self._pending_acks = self._pending_acks, []
            if not ids:
                return True  # a write before ours took it along
            return await self._write_locked(agent_pb2.SubscribeRequest(
                ack=agent_pb2.Ack(delivery_id=ids[0], more_delivery_ids=ids[1:])))

    async def _write_locked(self, request: agent_pb2.SubscribeRequest) -> bool:
        if not self._open:
            return False
        try:
            await self._call.write(request)
            return True
        except Exception as error:  # AioRpcError, or InvalidStateError once the call is done
            self._open = False
            log.debug("switchboard: stream closed, dropping %s: %s",
                      request.WhichOneof("kind"), error)
            return False

    async def done_writing(self) -> None:
        async with self._lock:
            if self._open:
                self._open = False
                try:
                    await self._call.done_writing()
                except Exception as error:
                    log.debug("switchboard: half-close failed: %s", error)


def _duration(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromTimedelta(datetime.timedelta(seconds=seconds))
    return d


class Agent:
    """A subscription of one agent process.

        agent = Agent("suppression")   # token from SWITCHBOARD_AGENT_TOKEN

        @agent.on("bounced")
        async def bounced(event, ctx):
            ...                         # return: ack; raise Retry(after=30): nack, retry later

        agent.run_sync()                # or: await agent.run()

    targets: "host:port" or a list of them (or a comma-separated string); connects to one at a
    time, moving to the next after a failure. Default: env SWITCHBOARD_TARGETS, else
    "localhost:50051". The channel is plaintext; the token goes as `authorization: Bearer` call
    metadata, which gRPC sends on plaintext channels too.
    max_in_flight: handlers running at once, and the window asked of the router in Hello.
    reconnect_backoff_min/_max (seconds): exponential backoff with jitter between reconnects,
    reset after each Welcome.
    """

    def __init__(self, name: str, targets: Union[None, str, Sequence[str]] = None, *,
                 token: Optional[str] = None, max_in_flight: int = 8, instance: str = "",
                 reconnect_backoff_min: float = 0.1, reconnect_backoff_max: float = 10.0,
                 channel_options: Sequence[tuple] = ()):
        if not name:
            raise ValueError("Agent needs the agent name that routing rules target")
        if targets is None:
            targets = os.environ.get("SWITCHBOARD_TARGETS", "localhost:50051")
        if isinstance(targets, str):
            targets = targets.split(",")
        self._targets = [t.strip() for t in targets if t and t.strip()]
        if not self._targets:
            raise ValueError("Agent needs at least one router address (host:port)")
        self._token = token if token is not None else os.environ.get("SWITCHBOARD_AGENT_TOKEN", "")
        if not self._token:
            raise ValueError("no token: pass token= or set SWITCHBOARD_AGENT_TOKEN")
        if int(max_in_flight) < 1:
            raise ValueError("max_in_flight must be >= 1")
        if not 0 < reconnect_backoff_min <= reconnect_backoff_max:
            raise ValueError("need 0 < reconnect_backoff_min <= reconnect_backoff_max")
        self.name = name
        self._max_in_flight = int(max_in_flight)
        self._instance = instance
        self._backoff_min = float(reconnect_backoff_min)
        self._backoff_max = float(reconnect_backoff_max)
        self._channel_options = list(channel_options)
        self._handlers: dict = {}
        self._default: Optional[Handler] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stopping: Optional[asyncio.Event] = None
        self._stop_requested = False
        self._started = False
        self._tasks: set = set()
        self._welcomes = 0
        self._ack_deadline: Optional[float] = None

    # -- registration -------------------------------------------------------------------------

    def on(self, type_name: str) -> Callable[[Handler], Handler]:
        """Decorator: the handler for one event type ("bounced", as in the router's config), or
        "*" for every type without a handler of its own. Replaces an earlier one for the type.
        Raises ValueError for an unknown type name. The handler may be `async def` (runs on the
        loop) or plain `def` (runs on a worker thread)."""
        key = None if type_name == "*" else event_type(type_name)

        def register(handler: Handler) -> Handler:
            if not callable(handler):
                raise TypeError("a handler must be callable(event, context)")
            if key is None:
                self._default = handler
            else:
                self._handlers[key] = handler
            return handler

        return register

    # -- state, for operators and tests -------------------------------------------------------

    @property
    def welcomes(self) -> int:
        """How many times a router has welcomed this agent (1 after the first connect)."""
        return self._welcomes

    @property
    def ack_deadline(self) -> Optional[float]:
        """The router's ack deadline in seconds, from the last Welcome (None before one)."""
        return self._ack_deadline

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connects, subscribes and handles deliveries until stop(); reconnects after any
        failure. Returns after stop() once every running handler has finished and its answer
        was sent. Raises AgentError when the router refuses the agent (not retried).
        An Agent runs once."""
        if self._started:
            raise RuntimeError("an Agent runs once")
        self._started = True
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if self._stop_requested:
            self._stopping.set()
        self._slots = asyncio.Semaphore(self._max_in_flight)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._max_in_flight, thread_name_prefix=f"switchboard-{self.name}")
        failures = 0
        index = 0
        try:
            while not self._stopping.is_set():
                target = self._targets[index % len(self._targets)]
                index += 1
                if await self._session(target):
                    failures = 0
                if self._stopping.is_set():
                    break
                delay = self._backoff(failures)
                failures += 1
                log.info("switchboard: reconnecting in %.2fs (next router %s)", delay,
                         self._targets[index % len(self._targets)])
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                except asyncio.TimeoutError:
                    pass
        finally:
            # Handlers of streams that broke still run; let them finish (their answers are
            # dropped: the router already put those deliveries back).
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            self._executor.shutdown(wait=True)

    def stop(self) -> None:
        """Makes run() return: stops taking deliveries, lets running handlers finish and their
        answers go out, then closes the stream (deliveries not started go back to the queue).
        Callable from any thread, a signal handler or a handler; idempotent."""
        self._stop_requested = True
        loop, stopping = self._loop, self._stopping
        if loop is None or stopping is None:
            return  # run() has not started; it will return at once
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            stopping.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)

    def run_sync(self, handle_signals: bool = True) -> None:
        """The synchronous entry point: runs the agent on a new event loop until stop(), or
        (handle_signals, main thread only) SIGINT/SIGTERM, which stop it gracefully."""
        async def main():
            if handle_signals and threading.current_thread() is threading.main_thread():
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, self.stop)
            await self.run()

        asyncio.run(main())

    # -- internals ----------------------------------------------------------------------------

    def _backoff(self, failures: int) -> float:
        # Exponential, capped, with "equal jitter": half fixed, half random, so that agents
        # restarted together do not reconnect in lockstep.
        ceiling = min(self._backoff_max, self._backoff_min * (2 ** min(failures, 30)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    async def _session(self, target: str) -> bool:
        """One Subscribe stream to `target`; True if the router welcomed us."""
        welcomed = False
        metadata = (("authorization", f"Bearer {self._token}"),)
        async with grpc.aio.insecure_channel(target, options=self._channel_options) as channel:
            call = agent_pb2_grpc.AgentServiceStub(channel).Subscribe(metadata=metadata)
            stream = _Stream(call)
            try:
                hello = agent_pb2.Hello(agent=self.name, max_in_flight=self._max_in_flight,
                                        instance=self._instance, batches=True)
                await stream.send(agent_pb2.SubscribeRequest(hello=hello))
                first = await asyncio.wait_for(call.read(), timeout=_WELCOME_TIMEOUT_S)
                if first is grpc.aio.EOF or not first.HasField("welcome"):
                    log.warning("switchboard: %s did not answer Hello with Welcome", target)
                    return False
                welcomed = True
                stream.batches = first.welcome.batches
                self._welcomes += 1
                deadline = first.welcome.ack_deadline.ToTimedelta().total_seconds()
                self._ack_deadline = deadline
                log.info("switchboard: agent %s subscribed to %s (window %d, ack deadline %gs)",
                         self.name, target, first.welcome.max_in_flight, deadline)
                await self._serve(call, stream, deadline, target)
            except grpc.aio.AioRpcError as error:
                if error.code() in _FATAL_CODES:
                    raise AgentError(error.code(), error.details() or "") from None
                log.warning("switchboard: stream to %s ended: %s %s", target,
                            error.code().name, error.details())
            except asyncio.TimeoutError:
                log.warning("switchboard: no Welcome from %s within %gs", target,
                            _WELCOME_TIMEOUT_S)
            except Exception:  # anything else from the channel: log, back off, reconnect
                log.exception("switchboard: stream to %s failed", target)
            finally:
                if not call.done():
                    call.cancel()
        return welcomed

    async def _serve(self, call, stream: _Stream, deadline: float, target: str) -> None:
        session_tasks: set = set()
        reader = asyncio.ensure_future(self._read(call, stream, deadline, target, session_tasks))
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if reader.done():
            reader.result()  # EOF returns; a broken stream raises AioRpcError
            return
        # Graceful stop: the reader starts nothing new; wait for the running handlers (which
        # send their answers), then half-close so the router ends the stream and puts back
        # what was sent to us but not started.
        while session_tasks:
            await asyncio.wait(set(session_tasks))
        await stream.done_writing()
        try:
            await asyncio.wait_for(asyncio.shield(reader), timeout=_CLOSE_TIMEOUT_S)
        except asyncio.TimeoutError:
            reader.cancel()
        except grpc.aio.AioRpcError:
            pass  # the router ended the stream with an error after our half-close: we are done

    async def _read(self, call, stream: _Stream, deadline: float, target: str,
                    session_tasks: set) -> None:
        while True:
            response = await call.read()
            if response is grpc.aio.EOF:
                return
            kind = response.WhichOneof("kind")
            if kind == "delivery":
                deliveries = [response.delivery]
            elif kind == "deliveries":
                deliveries = list(response.deliveries.deliveries)
            else:
                continue  # unknown kinds come from a newer router
            for delivery in deliveries:
                if self._stopping.is_set():
                    break  # after stop we start nothing; the router puts them back
                await self._slots.acquire()
                if self._stopping.is_set():
                    self._slots.release()
                    break
                task = asyncio.ensure_future(self._handle(delivery, stream, deadline, target))
                session_tasks.add(task)
                self._tasks.add(task)

                def done(t, session_tasks=session_tasks):
                    session_tasks.discard(t)
                    self._tasks.discard(t)
                    self._slots.release()

                task.add_done_callback(done)

    async def _handle(self, delivery, stream: _Stream, deadline: float, target: str) -> None:
        event = delivery.event
        context = DeliveryContext(
            delivery_id=delivery.delivery_id,
            attempt=delivery.attempt,
            matched_rules=tuple(delivery.matched_rules),
            lease_expires_at=delivery.lease_expires_at.ToDatetime(tzinfo=datetime.timezone.utc),
            router=target)
        handler = self._handlers.get(event.type, self._default)
        nack = None
        if handler is not None:
            extender = None
            if deadline > 0:
                extender = asyncio.ensure_future(
                    self._extend(stream, delivery.delivery_id, deadline))
            try:
                await self._call(handler, event, context)
            except Retry as retry:
                nack = agent_pb2.Nack(delivery_id=delivery.delivery_id,
                                      retry_after=_duration(retry.after), reason=retry.reason)
            except Exception as error:  # a handler's failure nacks; it never ends the agent
                log.exception("switchboard: handler for %s (event %s, attempt %d) failed",
                              event_type_name(event.type), event.id, delivery.attempt)
                nack = agent_pb2.Nack(delivery_id=delivery.delivery_id,
                                      reason=f"{type(error).__name__}: {error}"[:1024])
            finally:
                if extender is not None:
                    extender.cancel()
        if nack is None:
            await stream.ack(delivery.delivery_id)
        else:
            await stream.send(agent_pb2.SubscribeRequest(nack=nack))

    async def _call(self, handler: Handler, event: EmailEvent, context: DeliveryContext) -> Any:
        if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
                getattr(handler, "__call__", None)):
            return await handler(event, context)
        result = await self._loop.run_in_executor(self._executor, handler, event, context)
        if inspect.isawaitable(result):  # a plain function that returned a coroutine
            return await result
        return result

    async def _extend(self, stream: _Stream, delivery_id: str, deadline: float) -> None:
        # Past half the lease, renew it for a whole ack deadline, and again every half deadline,
        # so a slow handler (an LLM call) is not redelivered while it runs.
        extend = agent_pb2.SubscribeRequest(extend=agent_pb2.Extend(
            delivery_id=delivery_id, extension=_duration(deadline)))
        while True:
            await asyncio.sleep(deadline / 2)
            if not await stream.send(extend):
                return
