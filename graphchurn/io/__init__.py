"""Reading and validating interaction logs and customer tables; writing output sets atomically."""

from graphchurn.io.readers import (
    INTERACTION_KEYS,
    CUSTOMER_KEYS,
    KINDS,
    parse_column_mapping,
    load_interactions,
    load_customers,
    check_customers_match,
    parse_date_option,
    check_positive_int,
    pseudonymise,
)
from graphchurn.io.atomic import (
    atomic_write,
    atomic_write_text,
    atomic_output_set,
    remove_abandoned_staging,
    write_csv,
    write_json,
    csv_text,
    json_value,
    SIGNIFICANT_DIGITS,
)

__all__ = [
    "INTERACTION_KEYS",
    "CUSTOMER_KEYS",
    "KINDS",
    "parse_column_mapping",
    "load_interactions",
    "load_customers",
    "check_customers_match",
    "parse_date_option",
    "check_positive_int",
    "pseudonymise",
    "atomic_write",
    "atomic_write_text",
    "atomic_output_set",
    "remove_abandoned_staging",
    "write_csv",
    "write_json",
    "csv_text",
    "json_value",
    "SIGNIFICANT_DIGITS",
]
