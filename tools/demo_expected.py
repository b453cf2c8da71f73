#!/usr/bin/env python3
"""Computes, independently of the router, the event ids the demo's samples must produce, and checks
the audit agent's output against them.

Event id contract (router/providers/event_id.h): lowercase hex SHA-256 of
    source + "\\0" + provider_event_key + "\\0" + recipient_key
where recipient_key is the bare address lower-cased. Provider event keys: Standard Webhooks
(Resend) -> the webhook-id header the demo sends; SendGrid -> sg_event_id.

usage: demo_expected.py plan FIXTURES_DIR            -> JSON list of sends with expected ids
       demo_expected.py check PLAN_JSON AUDIT_JSONL  -> prints the events, exits 1 on a mismatch
"""
import hashlib
import json
import os
import re
import sys

RESEND_SAMPLES = [
    "email.sent.json", "email.delivered.json", "email.delivery_delayed.json",
    "email.bounced.json", "email.bounced.suppressed.json", "email.complained.json",
    "email.opened.json", "email.clicked.json", "email.received.json",
]


def event_id(source, key, address):
    m = re.search(r"<([^>]+)>", address)
    bare = (m.group(1) if m else address).strip().lower()
    return hashlib.sha256(f"{source}\0{key}\0{bare}".encode()).hexdigest()


def plan(fixtures):
    sends = []
    for name in RESEND_SAMPLES:
        path = os.path.join(fixtures, "resend_svix", name)
        body = json.load(open(path, encoding="utf-8"))
        msg_id = "msg_demo_" + name[: -len(".json")].replace(".", "_")
        ids = [event_id("resend", msg_id, to) for to in body["data"]["to"]]
        sends.append({"source": "resend", "file": path, "id": msg_id, "expected": ids})
    path = os.path.join(fixtures, "sendgrid", "all-events.batch.json")
    batch = json.load(open(path, encoding="utf-8"))
    ids = [event_id("sendgrid", e["sg_event_id"], e["email"]) for e in batch]
    sends.append({"source": "sendgrid", "file": path, "id": "", "expected": ids})
    return sends


def check(plan_path, audit_path):
    sends = json.load(open(plan_path, encoding="utf-8"))
    expected = {i for s in sends for i in s["expected"]}
    got = []
    with open(audit_path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                got.append(json.loads(line))
    print(f"{'source':<9} {'type':<22} {'recipient':<28} {'occurred_at':<28} id")
    for d in got:
        e = d["event"]
        print(f"{e.get('source',''):<9} {e.get('type',''):<22} {e.get('recipient',''):<28} "
              f"{e.get('occurred_at', e.get('occurredAt','')):<28} {e.get('id','')[:16]}…")
    ids = [d["event"].get("id", "") for d in got]
    missing = expected - set(ids)
    extra = set(ids) - expected
    dupes = len(ids) - len(set(ids))
    print(f"\nagent received {len(ids)} events; expected {len(expected)} distinct ids "
          f"computed from the samples")
    if missing or extra or dupes:
        print(f"MISMATCH: {len(missing)} missing, {len(extra)} unexpected, {dupes} duplicated")
        return 1
    print("OK: the agent received exactly the ids computed from the samples")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "plan":
        print(json.dumps(plan(sys.argv[2]), indent=1))
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
