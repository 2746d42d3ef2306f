"""A cut-off's per-customer feature table computed on the executors, for graphs the driver
should not hold.

:class:`graphchurn.engines.spark.SparkPipeline` collects each cut-off's tie table and builds
the igraph graph on the driver, which then needs memory in proportion to the ties
(``DRIVER_BYTES_PER_TIE``). :func:`cutoff_features` computes the same feature columns as
:func:`graphchurn.features.build.features_on_graph` without a graph on the driver: the window's
ties and activity stay Spark DataFrames (:func:`graphchurn.engines.spark.window_frames`) and
every graph quantity comes from :mod:`graphchurn.engines.spark_graph`. What the driver sends is
per customer (the departures, the active ids, the customer ids); what it gets back is the
feature table, or a sample of it.

One column differs by design: ``influencer_score`` ranks the influence spread within
``influence_hops`` hops computed without sampling (:func:`spark_graph.khop_influence`), where
the local engine estimates the whole spread from RR sets (reverse influence sampling has no
DataFrame form that does not move every set through a shuffle). The other columns are those
of ``features_on_graph`` (checked in tests/test_spark_features.py on a generated world, with
the local engine's influence within two hops there as well).

Communities are not computed here (the churn model does not read them; the scoring cut-off's
groups are an output, computed apart).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from graphchurn.engines import spark_graph
from graphchurn.features.build import (ACTIVITY_FEATURES, EXPOSURE_FEATURES,
                                       STRUCTURE_FEATURES, WINDOW_TOTALS, _MAY_BE_MISSING,
                                       _Steps, attributes_at)
from graphchurn.features.exposure import LONGER_EXPOSURE_WINDOWS
from graphchurn.graph.customer_graph import FADE_DAYS
from graphchurn.social.roles import INFLUENCER_SCORE_COMPONENTS

__all__ = [
    "FEATURE_COLUMNS",
    "cutoff_features",
    "derived_activity",
    "feature_table",
    "percentile_rank",
]

log = logging.getLogger("graphchurn")

#: Columns of the vertex feature table, in the order of ``features_on_graph``'s.
FEATURE_COLUMNS = ACTIVITY_FEATURES + [
    "distinct_contacts", "strength", "pagerank", "coreness", "clustering", "influencer_score",
    "share_to_departed", "n_departed_contacts", "departed_influencer_contact",
    "max_tie_share_departed", "spreading_activation_energy", "share_to_departed_longer",
    "share_to_departed_before_onset",
]

_US_PER_DAY = 86_400_000_000


def derived_activity(raw, window_days: float):
    """The activity columns of :func:`graphchurn.graph.aggregates.graph_from_aggregates` from
    the raw sums, as Spark expressions (a missing raw row means no traffic).

    Parameters
    ----------
    raw : pyspark.sql.DataFrame
        Column ``id`` and the raw activity (:func:`graphchurn.engines.spark.window_frames`),
        nulls for vertices without traffic.
    window_days : float
        Length of the window in days (``out_week_ratio`` and ``in_week_ratio`` scale the window
        totals to a week).

    Returns
    -------
    pyspark.sql.DataFrame
        Column ``id`` and :data:`graphchurn.features.build.ACTIVITY_FEATURES`; ratios of nothing
        are null (NaN locally).

    Examples
    --------
    >>> raw = spark.createDataFrame([("a", 2, 0, 1.5)], ["id", "n_out", "n_in", "min_age_out"])
    ... # doctest: +SKIP
    >>> derived_activity(raw, 28.0).first()["days_since_last_out"]  # doctest: +SKIP
    1.0
    """
    from pyspark.sql import functions as F

    def col(name, fill=0.0):
        if name not in raw.columns:
            return F.lit(fill).cast("double")
        return F.coalesce(F.col(name).cast("double"), F.lit(fill).cast("double"))

    def maybe(name):
        return F.col(name).cast("double") if name in raw.columns else F.lit(None).cast("double")

    def ratio(num, den, where):
        return F.when(where, num / den)

    n_out, n_in = col("n_out"), col("n_in")
    recent, previous = col("out_recent"), col("out_previous")
    total = recent + previous
    weeks = float(window_days) / 7.0
    out_last_week, in_last_week = col("out_last_week"), col("in_last_week")
    both = n_out + n_in
    return raw.select(
        "id",
        n_out.cast("long").alias("n_out"),
        n_in.cast("long").alias("n_in"),
        col("duration_out").alias("duration_out"),
        col("duration_in").alias("duration_in"),
        F.floor(maybe("min_age_out")).cast("double").alias("days_since_last_out"),
        F.floor(maybe("min_age_any")).cast("double").alias("days_since_last_any"),
        col("active_days_out").cast("long").alias("active_days_out"),
        recent.cast("long").alias("out_recent"),
        previous.cast("long").alias("out_previous"),
        F.when(total > 0, (recent - previous) / total).otherwise(0.0).alias("activity_trend"),
        out_last_week.cast("long").alias("out_last_week"),
        ratio(out_last_week, n_out / weeks, n_out > 0).alias("out_week_ratio"),
        ratio(in_last_week, n_in / weeks, n_in > 0).alias("in_week_ratio"),
        ratio(n_out, both, both > 0).alias("out_share"),
        col("fade_out_evidence").alias("fade_out_evidence"),
    )


def percentile_rank(frame, column: str, out: str):
    """``frame`` with ``out``: the percentile rank of ``column`` in (0, 1], ties sharing their
    average rank, values compared at 9 significant digits of the largest magnitude, as
    :func:`graphchurn.social.roles.percentile_rank`.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
    column, out : str

    Returns
    -------
    pyspark.sql.DataFrame

    Notes
    -----
    The distinct rounded values (not the rows) are ordered in one partition: a cumulative
    count over them gives each value the number of rows below it.

    Examples
    --------
    >>> f = spark.createDataFrame([(0, 1.0), (1, 2.0), (2, 2.0)], ["id", "x"])  # doctest: +SKIP
    >>> sorted(r["r"] for r in percentile_rank(f, "x", "r").collect())  # doctest: +SKIP
    [0.3333333333333333, 0.8333333333333334, 0.8333333333333334]
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    stats = frame.agg(F.count(F.lit(1)).alias("n"),
                      F.max(F.abs(F.col(column))).alias("scale")).first()
    n, scale = stats["n"], stats["scale"]
    if not n:
        return frame.withColumn(out, F.lit(None).cast("double"))
    key = F.col(column).cast("double")
    if scale:
        key = F.bround(key / F.lit(float(scale)), 9)
    keyed = frame.withColumn("_key", key)
    counts = keyed.groupBy("_key").agg(F.count(F.lit(1)).alias("_n"))
    below = F.sum("_n").over(Window.orderBy("_key").rowsBetween(Window.unboundedPreceding, -1))
    ranks = counts.select(
        "_key", ((F.coalesce(below, F.lit(0)) + (F.col("_n") + 1) / 2.0) / F.lit(float(n)))
        .alias(out))
    return keyed.join(ranks, "_key").drop("_key")


def _departures_frame(spark, departures: pd.Series, cutoff: pd.Timestamp):
    """Known departures before ``cutoff`` as (``id``, ``departure_age_days``)."""
    dates = pd.to_datetime(pd.Series(departures)).dropna()
    age = ((cutoff - dates) / pd.Timedelta(days=1)).to_numpy(dtype=np.float64)
    keep = age >= 0  # departed after the cut-off: unknown then
    table = pd.DataFrame({"id": dates.index.astype(str)[keep], "departure_age_days": age[keep]})
    return spark.createDataFrame(table, "id string, departure_age_days double")


def _ids_frame(spark, ids):
    return spark.createDataFrame(pd.DataFrame({"id": np.asarray([str(x) for x in ids],
                                                                dtype=object)}), "id string")


def cutoff_features(spark, slog, cutoff, *, start, tie_start, departures: pd.Series, active,
                    customers: pd.DataFrame | None = None, covered_share: float = 1.0,
                    recent_departure_days: int = 30, influencer_quantile: float = 0.95,
                    max_degree: int | None = None, influence_hops: int = 2, step=None):
    """One cut-off's vertex features on the executors: the columns of
    :func:`graphchurn.features.build.features_on_graph` (communities aside) for every vertex.

    Parameters
    ----------
    spark : SparkSession
    slog : graphchurn.engines.spark.SparkLog
    cutoff, start, tie_start : Timestamp
        The cut-off, the start of the graph's window and of the longer tie window, as the
        Spark engine's ``_features`` computes them.
    departures : pandas.Series
        :func:`graphchurn.windows.known_departures` at the cut-off (departure time by id).
    active : index of str
        The customers the table is for (:func:`graphchurn.windows.active_at`).
    customers : DataFrame or None
        The customer table: its ids are vertices even without traffic (they count in
        PageRank's normalisation and the influencer cut, as on the driver).
    covered_share : float
        Share of a full window the log covers; window totals are scaled by its inverse.
    recent_departure_days, influencer_quantile, max_degree
        As in :func:`graphchurn.features.build.build_features`.
    influence_hops : {1, 2}
        Longest path of the influence spread in ``influencer_score``.
    step : callable, optional
        Step timer (``graphchurn.features.build._Steps``): the seconds of each Spark job here
        (the window's ties, PageRank, coreness, the influencer score, and the rest with the
        table) go into its ``timings``.

    Returns
    -------
    pyspark.sql.DataFrame
        Column ``customer_id`` (every vertex: the window's identifiers, the customer table's
        and ``active``) and :data:`FEATURE_COLUMNS`, locally checkpointed.

    See Also
    --------
    feature_table : the rows of the active customers, on the driver, as ``FeatureSet.table``.
    """
    from pyspark.sql import functions as F

    from graphchurn.engines.spark import window_frames

    cutoff, start = pd.Timestamp(cutoff), pd.Timestamp(start)
    if step is None:
        step = _Steps(cutoff)
    gone = _departures_frame(spark, departures, cutoff).cache()
    ties, raw = window_frames(spark, slog, start=start, end=cutoff, tie_start=tie_start,
                              departed=departures.index)
    ids = [raw.select("id"), _ids_frame(spark, active)]
    if customers is not None:
        ids.append(_ids_frame(spark, customers["customer_id"].astype(str)))
    vertices = ids[0]
    for more in ids[1:]:
        vertices = vertices.unionByName(more)
    vertices = vertices.distinct()

    # Hubs: distinct contacts over every tie; their ties leave the graph (the driver's rule).
    degree_all = spark_graph.strength_degree(ties, vertices=vertices).select(
        "id", F.col("degree").alias("distinct_contacts"))
    if max_degree is not None:
        hubs = degree_all.where(F.col("distinct_contacts") > int(max_degree)).select("id")
        ties = (ties.join(hubs.withColumnRenamed("id", "u"), "u", "left_anti")
                .join(hubs.withColumnRenamed("id", "v"), "v", "left_anti"))
    with step("ties (spark)"):
        ties, observed = spark_graph._checkpointed(
            ties.select("u", "v", "weight", "weight_since"), n=F.count(F.lit(1)))
    log.info("%s: %d ties on the executors", cutoff.date(), int(observed["n"]))

    window_days = max((cutoff - start) / pd.Timedelta(days=1), 1.0)
    table = vertices.join(derived_activity(raw, window_days), "id", "left")
    table = table.join(degree_all, "id", "left")
    strength = spark_graph.strength_degree(ties, vertices=vertices).select("id", "strength")
    with step("pagerank (spark)"):
        pagerank = spark_graph.pagerank(ties, vertices=vertices)
    with step("coreness (spark)"):
        core = spark_graph.coreness(ties, vertices=vertices)
    spread = spark_graph.khop_influence(ties, hops=influence_hops, vertices=vertices)
    with step("influence spread and score (spark)"):
        joined = strength.join(pagerank, "id").join(core, "id").join(spread, "id")
        influence, _ = spark_graph._checkpointed(joined, n=F.count(F.lit(1)))
        for c in INFLUENCER_SCORE_COMPONENTS:
            ranked = percentile_rank(influence.select("id", c), c, f"_rank_{c}").drop(c)
            influence = influence.join(ranked, "id")
        influence = influence.withColumn(
            "influencer_score",
            sum(F.col(f"_rank_{c}") for c in INFLUENCER_SCORE_COMPONENTS)
            / F.lit(float(len(INFLUENCER_SCORE_COMPONENTS))))
        influence, _ = spark_graph._checkpointed(influence.select(
            "id", "strength", "pagerank", "coreness", "influencer_score"), n=F.count(F.lit(1)))
        # np.quantile's linear interpolation is Spark's exact percentile's.
        cut = influence.agg(F.percentile("influencer_score", float(influencer_quantile))
                            .alias("q")).first()["q"]
    influencers = influence.where(F.col("influencer_score") >= F.lit(cut)).select("id")

    recent = gone.where(F.col("departure_age_days") <= recent_departure_days).select("id")
    earlier = gone.where(F.col("departure_age_days")
                         <= LONGER_EXPOSURE_WINDOWS * recent_departure_days).select("id")
    exposed = spark_graph.exposure_shares(ties, recent, weight="weight_since",
                                          vertices=vertices, influencers=influencers)
    longer = spark_graph.exposure_shares(ties, earlier, weight="weight_since",
                                         vertices=vertices).select(
        "id", F.col("share_to_departed").alias("share_to_departed_longer"))
    onset = spark_graph.exposure_before_onset(
        ties, gone, recent_days=recent_departure_days, onset_days=FADE_DAYS[1],
        weight="weight_since", vertices=vertices)
    energy = spark_graph.spreading_activation(ties, recent, vertices=vertices)
    clustering = spark_graph.clustering(ties, vertices=vertices)

    for part in (influence, exposed, longer, onset, energy, clustering):
        table = table.join(part, "id", "left")
    table = table.withColumn("departed_influencer_contact",
                             F.col("departed_influencer_contact").cast("int"))
    if covered_share < 1.0:
        # Totals over a short window extrapolated to a full one (as on the driver).
        for c in WINDOW_TOTALS:
            table = table.withColumn(c, F.col(c) / F.lit(float(covered_share)))
    table = table.select(F.col("id").alias("customer_id"), *FEATURE_COLUMNS)
    with step("exposure, clustering and the table (spark)"):
        table, _ = spark_graph._checkpointed(table, n=F.count(F.lit(1)))
    gone.unpersist()
    return table


def feature_table(vertex_features, active, customers: pd.DataFrame | None, cutoff):
    """The rows of ``active`` of a vertex feature table with the customer attributes: the
    driver-side ``FeatureSet.table`` of :func:`graphchurn.features.build.features_on_graph`.

    Parameters
    ----------
    vertex_features : pyspark.sql.DataFrame or pandas.DataFrame
        :func:`cutoff_features`' result (collected here; pass a sample to bound the driver).
    active : index of str
    customers : DataFrame or None
    cutoff : Timestamp

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` in ``active``'s order.
    """
    if not isinstance(vertex_features, pd.DataFrame):
        vertex_features = vertex_features.toPandas()
    frame = vertex_features.set_index("customer_id")
    frame["departed_influencer_contact"] = frame["departed_influencer_contact"].astype(np.int8)
    table = frame.reindex(pd.Index([str(x) for x in active], name="customer_id"))
    if customers is not None:
        table = table.join(attributes_at(customers, pd.Timestamp(cutoff)), how="left")
    count_like = [c for c in ACTIVITY_FEATURES + STRUCTURE_FEATURES + EXPOSURE_FEATURES
                  if c in frame.columns and c not in _MAY_BE_MISSING]
    table[count_like] = table[count_like].fillna(0)
    return table
