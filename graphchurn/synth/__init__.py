"""Synthetic worlds with planted truth (communities, influencers, contagion, churn) and a
campaign simulator (planted responders, past randomised campaigns)."""

from graphchurn.synth.world import World, generate_world, write_world

__all__ = [
    "World",
    "generate_world",
    "write_world",
]
