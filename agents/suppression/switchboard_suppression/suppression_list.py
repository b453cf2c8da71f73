"""The suppression list: addresses not to send to, with why (reason + the source event id), in one
SQLite file, and the policy that turns email events into list changes.

Policy (apply()):
- BOUNCED, hard: suppressed, reason "hard_bounce". A bounce the provider did not classify counts
  as hard when its SMTP status is permanent (RFC 3463 enhanced status 5.x.x, or reply code 5xx).
- BOUNCED otherwise (soft, block, undetermined): counted; `soft_bounce_limit` of them whose
  occurred_at lie within `soft_bounce_window` suppress, reason "repeated_soft_bounce".
- COMPLAINED: reason "complaint". UNSUBSCRIBED: reason "unsubscribe".
- RESUBSCRIBED: lifts "unsubscribe" and "complaint" entries that occurred no later than the
  resubscribe, and makes older unsubscribes/complaints that arrive afterwards (deliveries are not
  ordered) no-ops. It never lifts a bounce suppression: the address itself does not work.

An address may be suppressed for several reasons at once; it may be sent to when it has none.
Every change is keyed by the event id, so a redelivered event (at-least-once) changes nothing.
Addresses are matched by their lower-cased bare form (EmailEvent.recipient_key).

Thread safety: one SuppressionList may be used from several threads (a lock serializes them).
Several processes may share the file (SQLite WAL; the check command reads while the agent writes).
"""
from __future__ import annotations

import dataclasses
import datetime
import re
import sqlite3
import threading
from typing import List, Optional

from switchboard import BounceClass, EmailEvent, EventType

HARD_BOUNCE = "hard_bounce"
REPEATED_SOFT_BOUNCE = "repeated_soft_bounce"
COMPLAINT = "complaint"
UNSUBSCRIBE = "unsubscribe"
_LIFTED_BY_RESUBSCRIBE = (UNSUBSCRIBE, COMPLAINT)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS suppressions (
  address      TEXT NOT NULL,      -- lower-cased bare address
  reason       TEXT NOT NULL,
  event_id     TEXT NOT NULL,      -- the EmailEvent.id that caused it
  occurred_at  REAL NOT NULL,      -- that event's occurred_at, Unix seconds
  PRIMARY KEY (address, reason)
);
CREATE TABLE IF NOT EXISTS soft_bounces (
  event_id     TEXT PRIMARY KEY,
  address      TEXT NOT NULL,
  occurred_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS soft_bounces_by_address ON soft_bounces (address, occurred_at);
CREATE TABLE IF NOT EXISTS resubscribes (
  address      TEXT PRIMARY KEY,
  occurred_at  REAL NOT NULL      -- the latest resubscribe seen
);
"""


@dataclasses.dataclass(frozen=True)
class Suppression:
    address: str
    reason: str
    event_id: str
    occurred_at: datetime.datetime


def normalize_address(address: str) -> str:
    """"Jane <Jane@Example.COM>" -> "jane@example.com" (the router's recipient_key form)."""
    match = re.search(r"<([^<>]+)>", address)
    return (match.group(1) if match else address).strip().lower()


def _is_permanent(event: EmailEvent) -> bool:
    bounce = event.bounce
    if bounce.bounce_class == BounceClass.BOUNCE_CLASS_HARD:
        return True
    if bounce.bounce_class in (BounceClass.BOUNCE_CLASS_UNDETERMINED,
                               BounceClass.BOUNCE_CLASS_UNSPECIFIED):
        return bounce.enhanced_status.startswith("5.") or bounce.smtp_code.startswith("5")
    return False


class SuppressionList:
    def __init__(self, path: str, soft_bounce_limit: int = 3,
                 soft_bounce_window: datetime.timedelta = datetime.timedelta(days=7)):
        if soft_bounce_limit < 1:
            raise ValueError("soft_bounce_limit must be >= 1")
        if soft_bounce_window <= datetime.timedelta(0):
            raise ValueError("soft_bounce_window must be positive")
        self._limit = soft_bounce_limit
        self._window = soft_bounce_window.total_seconds()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                   timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- the policy ---------------------------------------------------------------------------

    def apply(self, event: EmailEvent) -> Optional[str]:
        """Applies one event; returns what it did ("suppressed:<reason>", "lifted", "counted",
        or None when the event changes nothing). Idempotent per event id."""
        address = event.recipient_key or normalize_address(event.recipient)
        if not address:
            return None
        at = event.occurred_at.ToDatetime(tzinfo=datetime.timezone.utc).timestamp()
        with self._lock, self._transaction():
            if event.type == EventType.EVENT_TYPE_BOUNCED:
                if _is_permanent(event):
                    return self._suppress(address, HARD_BOUNCE, event.id, at)
                self._db.execute(
                    "INSERT OR IGNORE INTO soft_bounces (event_id, address, occurred_at) "
                    "VALUES (?, ?, ?)", (event.id, address, at))
                (count,) = self._db.execute(
                    "SELECT COUNT(*) FROM soft_bounces WHERE address = ? AND occurred_at "
                    "BETWEEN ? AND ?", (address, at - self._window, at)).fetchone()
                if count >= self._limit:
                    return self._suppress(address, REPEATED_SOFT_BOUNCE, event.id, at)
                return "counted"
            if event.type in (EventType.EVENT_TYPE_COMPLAINED, EventType.EVENT_TYPE_UNSUBSCRIBED):
                reason = COMPLAINT if event.type == EventType.EVENT_TYPE_COMPLAINED else UNSUBSCRIBE
                row = self._db.execute("SELECT occurred_at FROM resubscribes WHERE address = ?",
                                       (address,)).fetchone()
                if row is not None and at < row[0]:
                    return None  # the address resubscribed after this
                return self._suppress(address, reason, event.id, at)
            if event.type == EventType.EVENT_TYPE_RESUBSCRIBED:
                self._db.execute(
                    "INSERT INTO resubscribes (address, occurred_at) VALUES (?, ?) "
                    "ON CONFLICT (address) DO UPDATE SET occurred_at = "
                    "MAX(occurred_at, excluded.occurred_at)", (address, at))
                lifted = self._db.execute(
                    f"DELETE FROM suppressions WHERE address = ? AND occurred_at <= ? AND reason "
                    f"IN ({','.join('?' * len(_LIFTED_BY_RESUBSCRIBE))})",
                    (address, at, *_LIFTED_BY_RESUBSCRIBE)).rowcount
                return "lifted" if lifted else None
        return None

    def _suppress(self, address: str, reason: str, event_id: str, at: float) -> str:
        # The first event that suppressed for a reason stays the recorded source.
        self._db.execute(
            "INSERT OR IGNORE INTO suppressions (address, reason, event_id, occurred_at) "
            "VALUES (?, ?, ?, ?)", (address, reason, event_id, at))
        return f"suppressed:{reason}"

    # -- lookups ------------------------------------------------------------------------------

    def lookup(self, address: str) -> List[Suppression]:
        """Why `address` is suppressed; empty: it may be sent to."""
        with self._lock:
            rows = self._db.execute(
                "SELECT address, reason, event_id, occurred_at FROM suppressions "
                "WHERE address = ? ORDER BY occurred_at, reason",
                (normalize_address(address),)).fetchall()
        return [Suppression(a, r, e, datetime.datetime.fromtimestamp(t, datetime.timezone.utc))
                for a, r, e, t in rows]

    def all(self) -> List[Suppression]:
        with self._lock:
            rows = self._db.execute(
                "SELECT address, reason, event_id, occurred_at FROM suppressions "
                "ORDER BY address, reason").fetchall()
        return [Suppression(a, r, e, datetime.datetime.fromtimestamp(t, datetime.timezone.utc))
                for a, r, e, t in rows]

    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind, value, tb):
                db.execute("COMMIT" if kind is None else "ROLLBACK")
                return False

        return _Tx()
