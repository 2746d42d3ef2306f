"""Social structure: communities, influencers, leaders and followers, susceptibility."""

from graphchurn.social.communities import COMMUNITY_METHODS, detect_communities, group_summary
from graphchurn.social.roles import (
    INFLUENCER_SCORE_COMPONENTS,
    influencer_scores,
    leaders_and_followers,
    reverse_reachable_sets,
    select_seed_set,
    susceptibility,
)

__all__ = [
    "COMMUNITY_METHODS",
    "detect_communities",
    "group_summary",
    "INFLUENCER_SCORE_COMPONENTS",
    "influencer_scores",
    "leaders_and_followers",
    "reverse_reachable_sets",
    "select_seed_set",
    "susceptibility",
]
