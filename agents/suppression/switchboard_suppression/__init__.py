"""Switchboard example agent: a suppression list fed by bounces, complaints and unsubscribes."""
from switchboard_suppression.suppression_list import (Suppression, SuppressionList,
                                                      normalize_address)

__all__ = ["Suppression", "SuppressionList", "normalize_address"]
