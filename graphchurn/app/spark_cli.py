"""``graphchurn analyze --engine spark``: the command line's side of the Spark engine.

The options are parsed here (the library names parameters, not flags); reading, validation,
aggregation and scoring run in :mod:`graphchurn.engines.spark`.
"""

from __future__ import annotations

import os
import time

from graphchurn.engines.spark import (analyze_spark, read_customers, read_interactions,
                                      spark_session)
from graphchurn.errors import InputError

__all__ = ["analyze_cli"]


def _spark_conf(pairs) -> dict:
    conf = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"expected key=value, got {pair!r}", file="--spark-conf")
        conf[key.strip()] = value.strip()
    return conf


def analyze_cli(args, make_config):
    """``graphchurn analyze --engine spark``: the analysis and the seconds spent reading.

    ``make_config(args, as_of)`` is the command line's own AnalyzeConfig builder.
    """
    from graphchurn.io.readers import (CUSTOMER_KEYS, INTERACTION_KEYS, parse_column_mapping,
                                       parse_date_option)

    as_of = parse_date_option(args.as_of, "--as-of") if args.as_of else None
    log_columns = parse_column_mapping(args.columns, option="--columns", keys=INTERACTION_KEYS)
    customer_columns = parse_column_mapping(args.customer_columns, option="--customer-columns",
                                            keys=CUSTOMER_KEYS)
    if customer_columns and not args.customers:
        raise InputError("given without --customers", file="--customer-columns")
    conf = _spark_conf(args.spark_conf)
    # Under spark-submit (a JVM is already there) the master is spark-submit's.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ or "SPARK_ENV_LOADED" in os.environ
    spark = spark_session(args.spark_master or (None if submitted else "local[*]"), conf)
    start = time.perf_counter()
    slog = read_interactions(spark, args.interactions, log_columns)
    customers = (read_customers(spark, args.customers, customer_columns) if args.customers
                 else None)
    read_s = time.perf_counter() - start
    analysis = analyze_spark(slog, customers, make_config(args, as_of), spark=spark)
    return analysis, read_s
