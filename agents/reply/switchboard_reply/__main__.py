"""switchboard-reply: hands each inbound reply (RECEIVED event) to a handler.

  python -m switchboard_reply run [--targets host:port,...] [--handler module:function]

Subscribes as agent "reply" (token: env SWITCHBOARD_AGENT_TOKEN). The handler is called with a
switchboard_reply.Reply, on the SDK's thread pool (several calls may run at once); the default
prints it as one JSON line on stdout. A handler that raises gets the event delivered again
(switchboard.Retry(after=...) to choose when).
"""
import argparse
import importlib
import logging
import sys
import threading
from typing import Callable

from switchboard import Agent, AgentError
from switchboard_reply.reply import Reply, to_reply


_stdout_lock = threading.Lock()


def print_reply(reply: Reply) -> None:
    """Writes the reply as one JSON line. The SDK runs plain handlers on a thread pool, several at
    once, and print() writes the text and its newline separately: two replies printed together
    could share a line. One write of the whole line, under a lock, keeps every line whole."""
    line = reply.to_json() + "\n"
    with _stdout_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def load_handler(spec: str) -> Callable[[Reply], None]:
    """"package.module:function" -> the function."""
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"--handler must be module:function, got {spec!r}")
    handler = getattr(importlib.import_module(module), name, None)
    if not callable(handler):
        raise ValueError(f"{spec} is not a function")
    return handler


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard-reply", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="subscribe and handle inbound replies")
    p_run.add_argument("--targets", default=None,
                       help="router gRPC address(es), comma-separated (env SWITCHBOARD_TARGETS)")
    p_run.add_argument("--agent", default="reply", help="agent name the rules target")
    p_run.add_argument("--handler", default=None,
                       help="module:function called with each Reply (default: print JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        handler = load_handler(args.handler) if args.handler else print_reply
        agent = Agent(args.agent, args.targets)

        @agent.on("received")
        def on_received(event, ctx):
            handler(to_reply(event))

        agent.run_sync()
    except (ValueError, ImportError, AgentError) as error:
        print(f"switchboard-reply: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
