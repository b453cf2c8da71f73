"""agents/suppression: the policy on hand-made events, the check command, and end to end: the
providers' published sample webhooks (SendGrid, Resend) through the real router into the agent
process, then `python -m switchboard_suppression check` answering may-I-send."""
import datetime
import subprocess
import sys

import pytest

from harness import FIXTURES, AgentProcess, event_id, new_token, wait_until
from switchboard import BounceClass, EmailEvent, EventType
from switchboard_suppression import SuppressionList, normalize_address

T0 = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)


def make_event(type_, address, id_, at=T0, bounce_class=None, enhanced_status="",
               smtp_code=""):
    event = EmailEvent(id=id_, type=type_, recipient=address, recipient_key=address.lower())
    event.occurred_at.FromDatetime(at)
    if bounce_class is not None:
        event.bounce.bounce_class = bounce_class
        event.bounce.enhanced_status = enhanced_status
        event.bounce.smtp_code = smtp_code
    return event


def bounce(address, id_, cls, at=T0, **kw):
    return make_event(EventType.EVENT_TYPE_BOUNCED, address, id_, at, cls, **kw)


@pytest.fixture
def suppressions(tmp_path):
    s = SuppressionList(str(tmp_path / "s.db"), soft_bounce_limit=3,
                        soft_bounce_window=datetime.timedelta(hours=24))
    yield s
    s.close()


def reasons(s, address):
    return [(x.reason, x.event_id) for x in s.lookup(address)]


def test_hard_bounce_suppresses_with_reason_and_source_event(suppressions):
    assert suppressions.apply(bounce("a@x.com", "e1", BounceClass.BOUNCE_CLASS_HARD)) == \
        "suppressed:hard_bounce"
    assert reasons(suppressions, "A@X.com") == [("hard_bounce", "e1")]
    assert suppressions.lookup("a@x.com")[0].occurred_at == T0


def test_unclassified_bounce_with_a_permanent_status_is_hard(suppressions):
    suppressions.apply(bounce("a@x.com", "e1", BounceClass.BOUNCE_CLASS_UNDETERMINED,
                              enhanced_status="5.1.1"))
    suppressions.apply(bounce("b@x.com", "e2", BounceClass.BOUNCE_CLASS_UNSPECIFIED,
                              smtp_code="550"))
    suppressions.apply(bounce("c@x.com", "e3", BounceClass.BOUNCE_CLASS_UNDETERMINED,
                              enhanced_status="4.2.2"))
    assert reasons(suppressions, "a@x.com") == [("hard_bounce", "e1")]
    assert reasons(suppressions, "b@x.com") == [("hard_bounce", "e2")]
    assert reasons(suppressions, "c@x.com") == []


def test_soft_bounces_suppress_at_the_limit_within_the_window(suppressions):
    hour = datetime.timedelta(hours=1)
    assert suppressions.apply(bounce("s@x.com", "s1", BounceClass.BOUNCE_CLASS_SOFT)) == "counted"
    assert suppressions.apply(
        bounce("s@x.com", "s2", BounceClass.BOUNCE_CLASS_BLOCK, T0 + hour)) == "counted"
    assert reasons(suppressions, "s@x.com") == []
    assert suppressions.apply(bounce("s@x.com", "s3", BounceClass.BOUNCE_CLASS_SOFT,
                                     T0 + 2 * hour)) == "suppressed:repeated_soft_bounce"
    assert reasons(suppressions, "s@x.com") == [("repeated_soft_bounce", "s3")]


def test_soft_bounces_spread_beyond_the_window_do_not_suppress(suppressions):
    day = datetime.timedelta(hours=24, seconds=1)
    for i in range(3):
        suppressions.apply(bounce("w@x.com", f"w{i}", BounceClass.BOUNCE_CLASS_SOFT, T0 + i * day))
    assert reasons(suppressions, "w@x.com") == []


def test_a_redelivered_soft_bounce_counts_once(suppressions):
    for _ in range(3):  # at-least-once: the same event three times
        suppressions.apply(bounce("r@x.com", "same", BounceClass.BOUNCE_CLASS_SOFT))
    assert reasons(suppressions, "r@x.com") == []


def test_resubscribe_lifts_unsubscribe_and_complaint_but_not_a_bounce(suppressions):
    suppressions.apply(make_event(EventType.EVENT_TYPE_UNSUBSCRIBED, "u@x.com", "u1"))
    suppressions.apply(make_event(EventType.EVENT_TYPE_COMPLAINED, "u@x.com", "c1"))
    suppressions.apply(bounce("u@x.com", "b1", BounceClass.BOUNCE_CLASS_HARD))
    assert sorted(reasons(suppressions, "u@x.com")) == [
        ("complaint", "c1"), ("hard_bounce", "b1"), ("unsubscribe", "u1")]
    later = T0 + datetime.timedelta(minutes=5)
    assert suppressions.apply(
        make_event(EventType.EVENT_TYPE_RESUBSCRIBED, "u@x.com", "r1", later)) == "lifted"
    assert reasons(suppressions, "u@x.com") == [("hard_bounce", "b1")]


def test_an_unsubscribe_older_than_a_resubscribe_changes_nothing(suppressions):
    later = T0 + datetime.timedelta(minutes=5)
    suppressions.apply(make_event(EventType.EVENT_TYPE_RESUBSCRIBED, "o@x.com", "r1", later))
    # Delivered after the resubscribe, but it happened before it.
    assert suppressions.apply(make_event(EventType.EVENT_TYPE_UNSUBSCRIBED, "o@x.com", "u1")) \
        is None
    assert reasons(suppressions, "o@x.com") == []
    # A newer one counts again.
    suppressions.apply(make_event(EventType.EVENT_TYPE_UNSUBSCRIBED, "o@x.com", "u2",
                                  later + datetime.timedelta(seconds=1)))
    assert reasons(suppressions, "o@x.com") == [("unsubscribe", "u2")]


def test_other_event_types_change_nothing(suppressions):
    for t in (EventType.EVENT_TYPE_DELIVERED, EventType.EVENT_TYPE_DROPPED,
              EventType.EVENT_TYPE_OPENED, EventType.EVENT_TYPE_UNKNOWN):
        assert suppressions.apply(make_event(t, "n@x.com", f"n{t}")) is None
    assert suppressions.all() == []


def test_normalize_address():
    assert normalize_address("Jane Doe <Jane@Example.COM>") == "jane@example.com"
    assert normalize_address("  bob@x.com ") == "bob@x.com"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "switchboard_suppression", *args],
                          capture_output=True, text=True, timeout=30)


def test_check_command_exit_codes(tmp_path):
    db = str(tmp_path / "s.db")
    s = SuppressionList(db)
    s.apply(make_event(EventType.EVENT_TYPE_COMPLAINED, "spam@x.com", "c1"))
    s.close()
    no = run_cli("check", "--db", db, "Spam@X.com")
    assert no.returncode == 1
    assert no.stdout.startswith("suppressed: spam@x.com reason=complaint event=c1 since=2024-05-01")
    yes = run_cli("check", "--db", db, "fine@x.com")
    assert (yes.returncode, yes.stdout) == (0, "ok: fine@x.com may be sent to\n")
    missing = run_cli("check", "--db", str(tmp_path / "typo.db"), "fine@x.com")
    assert missing.returncode == 2 and "no suppression list" in missing.stderr
    assert not (tmp_path / "typo.db").exists()


SUPPRESSION_RULES = [
    "{ name: suppression, match: { types: [bounced, complained, unsubscribed, resubscribed] }, "
    "agents: [suppression] }",
]


def test_end_to_end_with_published_sample_webhooks(make_router, tmp_path):
    token = new_token()
    router = make_router({"suppression": token}, SUPPRESSION_RULES)
    db = str(tmp_path / "suppression.db")
    agent = AgentProcess("switchboard_suppression",
                         ["--db", db, "--targets", router.target, "--soft-bounce-limit", "3",
                          "--soft-bounce-window", "72h"],
                         token, tmp_path, "suppression")
    sendgrid = FIXTURES / "sendgrid"
    resend = FIXTURES / "resend_svix"
    sg = "example@test.com"  # the address in every SendGrid sample

    def check(address):
        out = run_cli("check", "--db", db, address)
        return out.returncode, out.stdout

    def wait_check(address, code, text, what):
        wait_until(lambda: check(address) == (code, text), 20, what, interval=0.2)

    try:
        wait_until(lambda: (tmp_path / "suppression.db").exists(), 20, "the agent to start")
        # SendGrid's unsubscribe sample, then its group_resubscribe sample (same timestamp).
        router.send("sendgrid", file=sendgrid / "unsubscribe.json")
        unsub = event_id("sendgrid", "zz_BjPgU_5pS-J8vlfB1sg==", sg)
        wait_check(sg, 1, f"suppressed: {sg} reason=unsubscribe event={unsub} "
                   "since=2017-12-15T00:59:29+00:00\n", "the unsubscribe")
        router.send("sendgrid", file=sendgrid / "group_resubscribe.json")
        wait_check(sg, 0, f"ok: {sg} may be sent to\n", "the resubscribe to lift it")
        # The spam report, then the hard bounce ("type": "bounce"): two reasons.
        router.send("sendgrid", file=sendgrid / "spamreport.json")
        router.send("sendgrid", file=sendgrid / "bounce.json")
        complaint = event_id("sendgrid", "37nvH5QBz858KGVYCM4uOA==", sg)
        hard = event_id("sendgrid", "6g4ZI7SA-xmRDv57GoPIPw==", sg)
        wait_check(sg, 1, f"suppressed: {sg} reason=complaint event={complaint} "
                   "since=2017-12-15T00:59:29+00:00\n"
                   f"suppressed: {sg} reason=hard_bounce event={hard} "
                   "since=2017-12-15T00:59:29+00:00\n", "the complaint and the hard bounce")

        # Resend's complaint sample.
        router.send("resend", file=resend / "email.complained.json", msg_id="msg_e2e_complaint")
        c = event_id("resend", "msg_e2e_complaint", "complained@resend.dev")
        wait_check("complained@resend.dev", 1,
                   f"suppressed: complained@resend.dev reason=complaint event={c} "
                   "since=2023-10-02T18:10:03.690000+00:00\n", "the Resend complaint")

        # Resend's bounce sample carries no bounce type (class undetermined) and no SMTP status:
        # it counts as a soft bounce. Three distinct webhooks of it (three webhook-ids) reach the
        # limit of 3; a retry of one of them (same webhook-id) is a duplicate and never counts.
        bounced = resend / "email.bounced.json"
        router.send("resend", file=bounced, msg_id="msg_e2e_bounce_1")
        router.send("resend", file=bounced, msg_id="msg_e2e_bounce_1")  # provider retry
        router.send("resend", file=bounced, msg_id="msg_e2e_bounce_2")
        ok = f"ok: bounced@resend.dev may be sent to\n"
        wait_until(lambda: "bounced@resend.dev" in agent.stderr() and
                   agent.stderr().count("bounced bounced@resend.dev") == 2, 20,
                   "two soft bounces counted")
        assert check("bounced@resend.dev") == (0, ok)
        router.send("resend", file=bounced, msg_id="msg_e2e_bounce_3")
        third = event_id("resend", "msg_e2e_bounce_3", "bounced@resend.dev")
        wait_check("bounced@resend.dev", 1,
                   f"suppressed: bounced@resend.dev reason=repeated_soft_bounce event={third} "
                   "since=2023-10-02T18:11:26.101000+00:00\n", "the third soft bounce")
        # An address no event named.
        assert check("someone.else@test.com") == (0, "ok: someone.else@test.com may be sent to\n")
    finally:
        code = agent.stop()
    assert code == 0, agent.stderr()
