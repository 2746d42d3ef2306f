"""Retention targeting: contact lists under a budget and channels."""

from graphchurn.targeting.contact_list import (
    Channel,
    DEFAULT_CHANNELS,
    DEFAULT_HORIZON_MONTHS,
    contact_list,
    CONTACT_COLUMNS,
)

__all__ = [
    "Channel",
    "DEFAULT_CHANNELS",
    "DEFAULT_HORIZON_MONTHS",
    "contact_list",
    "CONTACT_COLUMNS",
]
