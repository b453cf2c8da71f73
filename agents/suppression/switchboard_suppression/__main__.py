"""switchboard-suppression: the suppression agent and its lookup command.

  python -m switchboard_suppression run --db suppression.db [--targets host:port,...]
      subscribes as agent "suppression" (token: env SWITCHBOARD_AGENT_TOKEN) and keeps the list.
  python -m switchboard_suppression check --db suppression.db ADDRESS
      may I send to ADDRESS?  exit 0 "ok: ...", exit 1 "suppressed: ..." (one line per reason).
  python -m switchboard_suppression list --db suppression.db
"""
import argparse
import datetime
import logging
import os
import re
import sys

from switchboard import Agent, AgentError, event_type_name
from switchboard_suppression.suppression_list import SuppressionList

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> datetime.timedelta:
    """"90s", "30m", "72h", "7d", "1d12h" -> timedelta."""
    parts = re.fullmatch(r"(?:\d+[smhd])+", text or "")
    if not parts:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 72h, 7d, 30m)")
    seconds = sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhd])", text))
    if seconds <= 0:
        raise argparse.ArgumentTypeError("the duration must be positive")
    return datetime.timedelta(seconds=seconds)


def run(args) -> int:
    suppressions = SuppressionList(args.db, args.soft_bounce_limit, args.soft_bounce_window)
    agent = Agent(args.agent, args.targets, max_in_flight=args.max_in_flight)

    @agent.on("bounced")
    @agent.on("complained")
    @agent.on("unsubscribed")
    @agent.on("resubscribed")
    def on_event(event, ctx):
        outcome = suppressions.apply(event)
        logging.info("%s %s (event %s, attempt %d): %s", event_type_name(event.type),
                     event.recipient_key, event.id, ctx.attempt, outcome or "no change")

    agent.run_sync()
    suppressions.close()
    return 0


def _existing(db: str) -> str:
    # A mistyped path must not answer "ok, send": lookups never create the file.
    if not os.path.isfile(db):
        raise ValueError(f"no suppression list at {db}")
    return db


def check(args) -> int:
    _existing(args.db)
    suppressions = SuppressionList(args.db)
    found = suppressions.lookup(args.address)
    if not found:
        print(f"ok: {args.address} may be sent to")
        return 0
    for s in found:
        print(f"suppressed: {s.address} reason={s.reason} event={s.event_id} "
              f"since={s.occurred_at.isoformat()}")
    return 1


def list_all(args) -> int:
    for s in SuppressionList(_existing(args.db)).all():
        print(f"{s.address}\t{s.reason}\t{s.event_id}\t{s.occurred_at.isoformat()}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard-suppression", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="subscribe and keep the suppression list")
    p_run.add_argument("--db", required=True, help="SQLite file (created if missing)")
    p_run.add_argument("--targets", default=None,
                       help="router gRPC address(es), comma-separated (env SWITCHBOARD_TARGETS)")
    p_run.add_argument("--agent", default="suppression", help="agent name the rules target")
    p_run.add_argument("--max-in-flight", type=int, default=8)
    p_run.add_argument("--soft-bounce-limit", type=int, default=3,
                       help="soft bounces within the window that suppress (default 3)")
    p_run.add_argument("--soft-bounce-window", type=parse_duration, default="7d",
                       help="window for --soft-bounce-limit, e.g. 72h (default 7d)")
    p_run.set_defaults(func=run)
    p_check = sub.add_parser("check", help="may I send to ADDRESS? exit 0 yes, 1 no")
    p_check.add_argument("--db", required=True)
    p_check.add_argument("address")
    p_check.set_defaults(func=check)
    p_list = sub.add_parser("list", help="every suppressed address with its reasons")
    p_list.add_argument("--db", required=True)
    p_list.set_defaults(func=list_all)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, AgentError) as error:  # bad options, or the router refused the agent
        print(f"switchboard-suppression: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
