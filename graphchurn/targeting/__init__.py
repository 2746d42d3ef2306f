"""Retention targeting: contact lists under a budget, network- and uplift-aware value, next
best action."""

from graphchurn.targeting.contact_list import (
    Channel,
    DEFAULT_CHANNELS,
    DEFAULT_HORIZON_MONTHS,
    contact_list,
    CONTACT_COLUMNS,
)
from graphchurn.targeting.network import (
    FollowerEffects,
    NETWORK_COLUMNS,
    follower_effects,
    network_contact_list,
)

__all__ = [
    "Channel",
    "DEFAULT_CHANNELS",
    "DEFAULT_HORIZON_MONTHS",
    "contact_list",
    "CONTACT_COLUMNS",
    "FollowerEffects",
    "NETWORK_COLUMNS",
    "follower_effects",
    "network_contact_list",
]
