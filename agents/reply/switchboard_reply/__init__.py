"""Switchboard example agent: inbound replies, without quoted history or signature, threaded."""
from switchboard_reply.extract import extract_reply, html_to_text
from switchboard_reply.reply import Reply, thread_id, to_reply

__all__ = ["Reply", "extract_reply", "html_to_text", "thread_id", "to_reply"]
