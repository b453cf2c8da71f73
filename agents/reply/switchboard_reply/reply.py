"""From an inbound (RECEIVED) EmailEvent to a Reply: the new text, who, and which thread.

Threading follows RFC 5322 section 3.6.4: a reply's References lists its thread's message ids,
oldest (the thread root) first; In-Reply-To names the parent. The thread id is the root: the
first References id, else In-Reply-To, else the message's own id (a new thread).
"""
from __future__ import annotations

import dataclasses
import json
from typing import List

from switchboard import EmailEvent
from switchboard_reply.extract import extract_reply, html_to_text


@dataclasses.dataclass(frozen=True)
class Reply:
    event_id: str
    source: str
    sender: str              # the From header as given
    to: List[str]
    subject: str
    message_id: str
    in_reply_to: str
    references: List[str]
    thread_id: str
    is_reply: bool           # the mail answers an earlier one (In-Reply-To or References)
    text: str                # the new text: no quoted history, no signature

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False, sort_keys=True)


def thread_id(message_id: str, in_reply_to: str, references: List[str]) -> str:
    for candidate in (*references, in_reply_to, message_id):
        if candidate.strip():
            return candidate.strip()
    return ""


def to_reply(event: EmailEvent) -> Reply:
    inbound = event.inbound
    body = inbound.text if inbound.text.strip() else html_to_text(inbound.html)
    references = [r for r in inbound.references if r.strip()]
    return Reply(
        event_id=event.id,
        source=event.source,
        sender=getattr(inbound, "from") or event.sender,
        to=list(inbound.to) or [event.recipient],
        subject=inbound.subject or event.subject,
        message_id=event.message_id,
        in_reply_to=inbound.in_reply_to,
        references=references,
        thread_id=thread_id(event.message_id, inbound.in_reply_to, references),
        is_reply=bool(inbound.in_reply_to.strip() or references),
        text=extract_reply(body),
    )
