"""Features at a cut-off (activity, structure, exposure, attributes) and reasons in words."""

from graphchurn.features.exposure import (
    LONGER_EXPOSURE_WINDOWS,
    spreading_activation,
    EXPOSURE_COLUMNS,
    exposure,
    exposure_before_onset,
    departure_ages,
)
from graphchurn.features.build import (
    FeatureSet,
    build_features,
    attributes_at,
    known_customers,
    RFM_FEATURES,
    ACTIVITY_FEATURES,
    STRUCTURE_FEATURES,
    EXPOSURE_FEATURES,
    COMMUNITY_FEATURES,
    WINDOW_TOTALS,
    NON_FEATURE_COLUMNS,
    check_finite_features,
)
from graphchurn.features.reasons import (
    NO_REASON_TEXT,
    plain_number,
    typical_values,
    reason_texts,
    describe_reasons,
)

__all__ = [
    "LONGER_EXPOSURE_WINDOWS",
    "spreading_activation",
    "EXPOSURE_COLUMNS",
    "exposure",
    "exposure_before_onset",
    "departure_ages",
    "FeatureSet",
    "build_features",
    "check_finite_features",
    "attributes_at",
    "known_customers",
    "RFM_FEATURES",
    "ACTIVITY_FEATURES",
    "STRUCTURE_FEATURES",
    "EXPOSURE_FEATURES",
    "COMMUNITY_FEATURES",
    "WINDOW_TOTALS",
    "NON_FEATURE_COLUMNS",
    "NO_REASON_TEXT",
    "plain_number",
    "typical_values",
    "reason_texts",
    "describe_reasons",
]
