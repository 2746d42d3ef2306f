"""``graphchurn analyze --engine spark``: the command line's side of the Spark engine.

The options are parsed here (the library names parameters, not flags); the analysis is the
library's own entry, :func:`graphchurn.pipeline.analyze` with ``engine="spark"``, which reads,
validates, aggregates and scores on Spark (:mod:`graphchurn.engines.spark`).
"""

from __future__ import annotations

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
    from graphchurn.app.cli import _formats
    from graphchurn.io.readers import (CUSTOMER_KEYS, INTERACTION_KEYS, parse_column_mapping,
                                       parse_date_option)
    from graphchurn.pipeline import analyze

    as_of = parse_date_option(args.as_of, "--as-of") if args.as_of else None
    log_columns = parse_column_mapping(args.columns, option="--columns", keys=INTERACTION_KEYS)
    customer_columns = parse_column_mapping(args.customer_columns, option="--customer-columns",
                                            keys=CUSTOMER_KEYS)
    if customer_columns and not args.customers:
        raise InputError("given without --customers", file="--customer-columns")
    conf = _spark_conf(args.spark_conf)
    # The master defaults to local[*], or to spark-submit's under spark-submit.
    # The local reader's format options (--decimal, --epoch-unit read on Spark; --dayfirst,
    # --date-format, --encoding refused in one line before Spark starts).
    analysis = analyze(args.interactions, args.customers, make_config(args, as_of),
                       master=args.spark_master, conf=conf, columns=log_columns,
                       customer_columns=customer_columns, read_format=_formats(args),
                       features_on=args.spark_features)
    read_s = analysis.metrics["spark_timings_s"]["read and validate (spark)"]
    return analysis, read_s
