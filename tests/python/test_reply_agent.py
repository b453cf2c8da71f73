"""agents/reply: the reply extractor on the quoting styles of the common clients, threading, and
end to end: AgentMail's published message.received sample (and a reply built on it) through the
real router into `python -m switchboard_reply run`, whose default handler prints JSON lines."""
import json

from harness import FIXTURES, AgentProcess, event_id, new_token, wait_until
from switchboard import EmailEvent, EventType
from switchboard_reply import extract_reply, html_to_text, thread_id, to_reply


def test_gmail_attribution_cuts_the_quoted_history():
    text = ("Thanks, Tuesday works for me.\r\n\r\n"
            "On Mon, Mar 4, 2024 at 9:12 AM Support <support@example.com> wrote:\r\n"
            "> Would Tuesday at 10 work?\r\n> \r\n> Best,\r\n> Support\r\n")
    assert extract_reply(text) == "Thanks, Tuesday works for me."


def test_attribution_wrapped_over_two_lines():
    text = ("Yes please.\n\nOn Mon, Mar 4, 2024 at 9:12 AM Very Long Name Support Team <\n"
            "support@example.com> wrote:\n\n> Shall we?\n")
    assert extract_reply(text) == "Yes please."


def test_french_and_german_attributions():
    assert extract_reply("Oui.\n\nLe lun. 4 mars 2024 à 09:12, Support <s@x.fr> a écrit :\n> Q\n") \
        == "Oui."
    assert extract_reply("Ja.\n\nAm Mo., 4. März 2024 um 09:12 Uhr schrieb Support <s@x.de>:\n"
                         "> Frage\n") == "Ja."


def test_outlook_header_block_cuts_everything_after_it():
    text = ("Please cancel my order.\n\n"
            "________________________________\n"
            "From: Shop <orders@shop.example>\n"
            "Sent: Monday, March 4, 2024 9:12 AM\n"
            "To: Jane <jane@example.com>\n"
            "Subject: Your order\n\n"
            "Your order has shipped.\n")
    assert extract_reply(text) == "Please cancel my order."
    assert extract_reply("Fine.\n\n-----Original Message-----\nFrom: a\nold text\n") == "Fine."


def test_a_from_line_in_the_reply_itself_is_kept():
    text = "From: the top of my head, no.\nRegards"
    assert extract_reply(text) == text


def test_interleaved_answers_keep_the_unquoted_lines():
    text = "> Do you want A?\nYes.\n> And B?\nNo.\n"
    assert extract_reply(text) == "Yes.\nNo."


def test_signature_separator_and_mobile_signature():
    assert extract_reply("Sounds good.\n\n-- \nJane Doe\nCEO, Example Inc.\n") == "Sounds good."
    assert extract_reply("Sounds good.\n--\nJane\n") == "Sounds good."
    assert extract_reply("On my way.\n\nSent from my iPhone\n") == "On my way."
    # A dash line that is not exactly the separator stays.
    assert extract_reply("a -- b\n---\nc") == "a -- b\n---\nc"


def test_plain_text_without_quotes_is_unchanged():
    assert extract_reply("  The full text body of the email.  \n\n") == \
        "The full text body of the email."
    assert extract_reply("") == ""


def test_html_only_mail_drops_blockquotes():
    markup = ("<html><head><style>p{}</style></head><body><div>Works for me &amp; Bob.</div>"
              "<div><br></div><div class=gmail_quote>On Mon wrote:<blockquote>old "
              "<b>stuff</b></blockquote></div></body></html>")
    assert html_to_text(markup) == "Works for me & Bob.\n\nOn Mon wrote:"
    assert extract_reply(html_to_text(markup)) == "Works for me & Bob."


def test_thread_id_is_the_root_of_references_else_in_reply_to_else_own():
    assert thread_id("<c@x>", "<b@x>", ["<a@x>", "<b@x>"]) == "<a@x>"
    assert thread_id("<c@x>", "<b@x>", []) == "<b@x>"
    assert thread_id("<c@x>", "", []) == "<c@x>"


def test_to_reply_from_an_event():
    event = EmailEvent(id="e1", source="agentmail", type=EventType.EVENT_TYPE_RECEIVED,
                       message_id="<c@x>", recipient="bot@x.com")
    inbound = event.inbound
    setattr(inbound, "from", "Jane <jane@x.com>")
    inbound.to.append("bot@x.com")
    inbound.subject = "Re: hello"
    inbound.text = "Hi!\n\nOn Sun, Jan 1, 2023, Bot <bot@x.com> wrote:\n> hello\n"
    inbound.in_reply_to = "<b@x>"
    inbound.references.extend(["<a@x>", "<b@x>"])
    reply = to_reply(event)
    assert (reply.text, reply.thread_id, reply.is_reply, reply.sender) == (
        "Hi!", "<a@x>", True, "Jane <jane@x.com>")
    assert json.loads(reply.to_json())["references"] == ["<a@x>", "<b@x>"]


REPLY_RULES = ["{ name: inbound, match: { types: [received] }, agents: [reply] }"]


def test_end_to_end_with_the_agentmail_received_sample(make_router, tmp_path):
    token = new_token()
    router = make_router({"reply": token}, REPLY_RULES)
    agent = AgentProcess("switchboard_reply", ["--targets", router.target], token, tmp_path,
                         "reply")

    def lines():
        # Whole lines only: the agent may be writing the next one while the test reads the file.
        # Two replies sharing a line still fail to parse, as they must.
        whole = agent.stdout().split("\n")[:-1]
        return [json.loads(line) for line in whole if line.strip()]

    sample = FIXTURES / "agentmail" / "message.received.json"
    # The same inbound mail, as a reply that quotes the agent's earlier message and signs off.
    body = json.loads(sample.read_text())
    body["event_id"] = "evt_reply_quoted"
    body["message"]["message_id"] = "<reply456@example.com>"
    body["message"]["text"] = (
        "Yes, please close the account.\n\nJane\n-- \nJane Doe | Example Corp\n\n"
        "On Fri, Oct 27, 2023 at 9:00 AM Support Agent <support@agentmail.to> wrote:\n"
        "> Do you want us to close the account?\n")
    quoted = tmp_path / "message.received.reply.json"
    quoted.write_text(json.dumps(body))
    try:
        router.send("agentmail", file=sample, msg_id="msg_e2e_received")
        # The spam-filtered sample is routed as UNKNOWN, so the reply agent never sees it.
        router.send("agentmail", file=FIXTURES / "agentmail" / "message.received.spam.json",
                    msg_id="msg_e2e_spam")
        router.send("agentmail", file=quoted, msg_id="msg_e2e_quoted")
        wait_until(lambda: len(lines()) >= 2, 20, "two replies printed")
    finally:
        code = agent.stop()
    assert code == 0, agent.stderr()
    got = lines()
    assert len(got) == 2, got
    first, second = sorted(got, key=lambda r: r["message_id"])
    assert first == {
        "event_id": event_id("agentmail", "msg_e2e_received", "support@agentmail.to"),
        "source": "agentmail",
        "sender": "Jane Doe <jane@example.com>",
        "to": ["Support Agent <support@agentmail.to>"],  # as the sample gives it
        "subject": "Question about my account",
        "message_id": "<abc123@agentmail.to>",
        "in_reply_to": "",
        "references": [],
        "thread_id": "<abc123@agentmail.to>",
        "is_reply": False,
        "text": "The full text body of the email.",
    }
    assert second["event_id"] == event_id("agentmail", "msg_e2e_quoted", "support@agentmail.to")
    assert second["message_id"] == "<reply456@example.com>"
    assert second["text"] == "Yes, please close the account.\n\nJane"
