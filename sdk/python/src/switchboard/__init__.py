"""Switchboard agent SDK: receive normalized email events from a Switchboard router.

    from switchboard import Agent, Retry

    agent = Agent("suppression", "localhost:50051")   # token: env SWITCHBOARD_AGENT_TOKEN

    @agent.on("bounced")
    async def on_bounce(event, ctx):   # event: switchboard.v1.email_event_pb2.EmailEvent
        ...                            # return -> ack; raise Retry(after=30) -> redelivered later

    agent.run_sync()
"""
from switchboard.agent import (Agent, AgentError, DeliveryContext, Retry, event_type,
                               event_type_name)
from switchboard.v1.email_event_pb2 import BounceClass, EmailEvent, EventType

__all__ = [
    "Agent", "AgentError", "BounceClass", "DeliveryContext", "EmailEvent", "EventType", "Retry",
    "event_type", "event_type_name",
]
__version__ = "0.1.0"
