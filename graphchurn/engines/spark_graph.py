"""Graph algorithms and graph features as Spark DataFrame computations, on the executors.

The Spark engine (:mod:`graphchurn.engines.spark`) aggregates the log into a tie table per
cut-off on the executors and today collects it to the driver, where igraph runs. The functions
here compute the same quantities from the tie table without leaving Spark: each takes a Spark
DataFrame of undirected ties and returns a Spark DataFrame keyed by vertex, and nothing
vertex- or tie-sized is collected to the driver (only a few numbers per iteration: a vertex
count, a change in PageRank, a number of labels or core values that moved).

Input
-----
``ties``: one row per undirected pair, columns ``u``, ``v`` (vertex ids, ``u < v``, no
self-loops) and a weight column (``weight`` by default; ``weight_since`` for the exposure
features, as :func:`graphchurn.features.build.features_on_graph` reads it). Vertex ids are
integers (``int``/``long``): the codes :func:`graphchurn.engines.spark.cutoff_aggregates`
gives the ends of a tie, ranks in the sorted dictionary of the window's identifiers. String ids
go through the same code (nothing here does arithmetic on an id) but are not tested: the tests
and the benchmark use integer codes. Vertices without ties (customers active but silent) are
not in a tie table; pass them as ``vertices`` (a DataFrame with an ``id`` column) where the local
result counts them (PageRank's normalisation, a 0 row for the features).

Output
------
A DataFrame with the vertex id in column ``id`` and one column per quantity. Iterative
algorithms (:func:`pagerank`, :func:`label_propagation`, :func:`coreness`,
:func:`spreading_activation`) return a locally checkpointed
DataFrame (its lineage is cut; its blocks live on the executors, as with
``DataFrame.localCheckpoint``); the others return a plan that Spark runs when it is used.

Agreement with the local (igraph / numpy) functions is tested in tests/test_spark_graph.py and
measured on a generator world's tie graph (its 90-day log aggregated into pairs) in
experiments/results/bench_spark_graph.md.
"""

from __future__ import annotations

import logging

__all__ = [
    "clustering",
    "coreness",
    "exposure_before_onset",
    "exposure_shares",
    "khop_influence",
    "label_propagation",
    "pagerank",
    "spreading_activation",
    "strength_degree",
    "undirected_arcs",
]

log = logging.getLogger("graphchurn")

#: Label propagation compares the weight of candidate labels rounded to this many decimals:
#: Spark sums a label's weights in no fixed order, so two labels of equal weight may otherwise
#: differ in the last bit and the tie-break would depend on the partitioning.
_LABEL_WEIGHT_DECIMALS = 9


def _checkpointed(frame, **metrics):
    """``frame`` computed once and locally checkpointed, with aggregate ``metrics`` of it
    observed during that same job (a dict of floats).

    Each iteration's result is cut from its lineage: the next iteration reads the frame twice
    (its join and its previous values), so a chain of uncut plans would double in size with
    every iteration. The metrics ride along the checkpoint job (``DataFrame.observe``) rather
    than cost a second pass.
    """
    from pyspark.sql import Observation

    observation = Observation()
    frame = frame.observe(observation, *[expr.alias(name) for name, expr in metrics.items()])
    frame = frame.localCheckpoint(eager=True)
    return frame, observation.get


def _functions():
    from pyspark.sql import functions as F
    return F


def undirected_arcs(ties, weight="weight"):
    """Both directions of each undirected tie: columns ``src``, ``dst``, ``w``.

    Parameters
    ----------
    ties : pyspark.sql.DataFrame
        One row per pair: ``u``, ``v`` and the column ``weight``.
    weight : str, default "weight"
        Column of tie strengths.

    Returns
    -------
    pyspark.sql.DataFrame
        Two rows per tie, ``src -> dst`` and ``dst -> src``, both with the tie's weight.

    Examples
    --------
    >>> undirected_arcs(spark.createDataFrame([(0, 1, 2.0)], ["u", "v", "weight"])).count()
    ... # doctest: +SKIP
    2
    """
    F = _functions()
    w = F.col(weight).cast("double").alias("w")
    return (ties.select(F.col("u").alias("src"), F.col("v").alias("dst"), w)
            .unionByName(ties.select(F.col("v").alias("src"), F.col("u").alias("dst"), w)))


def _vertex_ids(ties, vertices=None):
    """Distinct ids of the ties' ends, and of ``vertices`` when given (column ``id``)."""
    F = _functions()
    ids = ties.select(F.col("u").alias("id")).unionByName(ties.select(F.col("v").alias("id")))
    if vertices is not None:
        ids = ids.unionByName(vertices.select(F.col("id").cast(ids.schema["id"].dataType)))
    return ids.distinct()


def _per_vertex(table, ties, vertices, zeros):
    """``table`` (keyed by ``id``) with a row of ``zeros`` for each vertex of ``vertices``
    that has none."""
    if vertices is None:
        return table
    ids = _vertex_ids(ties, vertices)
    return ids.join(table, "id", "left").fillna(zeros)


def strength_degree(ties, weight="weight", *, vertices=None):
    """Degree and strength (sum of tie weights) of every vertex.

    Parameters
    ----------
    ties : pyspark.sql.DataFrame
        Undirected ties, one row per pair: ``u``, ``v`` (``u < v``) and ``weight``.
    weight : str, default "weight"
        Column of tie strengths.
    vertices : pyspark.sql.DataFrame, optional
        Column ``id``: vertices to report even without ties (degree 0, strength 0).

    Returns
    -------
    pyspark.sql.DataFrame
        Columns ``id``, ``degree`` (long: number of ties) and ``strength`` (double).

    Examples
    --------
    >>> ties = spark.createDataFrame([(0, 1, 3.0), (0, 2, 1.0)],
    ...                              ["u", "v", "weight"])  # doctest: +SKIP
    >>> sorted(strength_degree(ties).collect())  # doctest: +SKIP
    [Row(id=0, degree=2, strength=4.0), Row(id=1, degree=1, strength=3.0),
     Row(id=2, degree=1, strength=1.0)]

    References
    ----------
    A. Barrat, M. Barthelemy, R. Pastor-Satorras, A. Vespignani, "The architecture of complex
    weighted networks", PNAS 101(11), 2004 (vertex strength).

    See Also
    --------
    graphchurn.social.roles.influencer_scores : ``strength`` and ``degree`` on igraph.
    """
    F = _functions()
    table = (undirected_arcs(ties, weight).groupBy(F.col("src").alias("id"))
             .agg(F.count(F.lit(1)).alias("degree"), F.sum("w").alias("strength")))
    return _per_vertex(table, ties, vertices, {"degree": 0, "strength": 0.0})


def pagerank(ties, damping=0.85, max_iter=100, tol=1e-7, *, weight="weight", vertices=None):
    r"""Weighted PageRank of an undirected graph, by power iteration on Spark.

    The same quantity as igraph's ``graph.pagerank(directed=False, weights=w)`` (PRPACK), as
    :func:`graphchurn.social.roles.influencer_scores` computes it: each tie is two arcs,
    a vertex passes its rank to its neighbours in proportion to tie weight, a vertex of
    strength 0 (no ties, or ties of weight 0) spreads its rank uniformly over all ``n``
    vertices, and the ranks sum to 1:

    .. math::

        x_v \leftarrow \frac{1 - d}{n} + d \sum_u \frac{w_{uv}}{s_u} x_u
                      + \frac{d}{n} \sum_{s_u = 0} x_u .

    Each iteration is a join of the arcs with the ranks and an aggregation by head; its result
    is locally checkpointed (``localCheckpoint``), so the plan does not grow with the
    iterations. The iteration starts from ``(1 - d) / n + d s_v / S`` (the fixed point of a
    graph without teleport is proportional to strength) and stops when the L1 change of an
    iteration is below ``tol``.

    Parameters
    ----------
    ties : pyspark.sql.DataFrame
        Undirected ties, one row per pair: ``u``, ``v`` (``u < v``) and ``weight`` (>= 0).
    damping : float, default 0.85
        Probability of following a tie rather than jumping to a random vertex.
    max_iter : int, default 100
        Most iterations; the result after the last is returned even if not converged (a
        warning is logged).
    tol : float, default 1e-7
        Stop when ``sum_v |x_v - x_v'|`` of one iteration is below this. The distance to
        the fixed point is then at most ``tol * d / (1 - d)`` in L1 (5.7e-7 with the
        defaults), so every vertex is within that of igraph's value. The error shrinks by at
        least ``d`` an iteration (exactly ``d`` on a bipartite piece such as a star), so a
        tenfold smaller ``tol`` costs about 14 more iterations at ``d = 0.85``.
    weight : str, default "weight"
        Column of tie strengths.
    vertices : pyspark.sql.DataFrame, optional
        Column ``id``: vertices of the graph without ties. They count in ``n`` (as the
        isolated vertices of an igraph graph do) and get a rank.

    Returns
    -------
    pyspark.sql.DataFrame
        Columns ``id`` and ``pagerank`` (double), summing to 1; locally checkpointed.

    Examples
    --------
    >>> ties = spark.createDataFrame([(0, 1, 1.0), (1, 2, 1.0)],
    ...                              ["u", "v", "weight"])  # doctest: +SKIP
    >>> {r.id: round(r.pagerank, 4) for r in pagerank(ties).collect()}  # doctest: +SKIP
    {0: 0.2568, 1: 0.4865, 2: 0.2568}

    References
    ----------
    S. Brin, L. Page, "The anatomy of a large-scale hypertextual Web search engine", 1998.
    D. F. Gleich, "PageRank beyond the web", SIAM Review 57(3), 2015 (dangling vertices,
    power iteration and its error bound).

    See Also
    --------
    graphchurn.social.roles.influencer_scores : the igraph PageRank this reproduces.
    """
    from pyspark import StorageLevel

    F = _functions()
    if not 0.0 <= damping < 1.0:
        raise ValueError("damping must be in [0, 1)")
    strength = strength_degree(ties, weight, vertices=vertices).select("id", "strength")
    strength = strength.persist(StorageLevel.MEMORY_AND_DISK)
    n, total = strength.agg(F.count(F.lit(1)), F.sum("strength")).first()
    if not n:
        strength.unpersist()
        return strength.select("id", F.lit(0.0).alias("pagerank")).limit(0)
    total = float(total or 0.0)
    teleport = (1.0 - damping) / n
    # The arcs with the share of their tail's strength they carry: computed once, reused by
    # every iteration.
    arcs = (undirected_arcs(ties, weight)
            .join(strength.select(F.col("id").alias("src"), "strength"), "src")
            .where(F.col("strength") > 0)
            .select("src", "dst", (F.col("w") / F.col("strength")).alias("p"))
            .persist(StorageLevel.MEMORY_AND_DISK))
    start = (F.lit(teleport) + F.lit(damping) * F.col("strength") / F.lit(total)
             if total > 0 else F.lit(1.0 / n))
    dangling = F.sum(F.when(F.col("dangling"), F.col("pr")))
    ranks, seen = _checkpointed(
        strength.select("id", (F.col("strength") <= 0).alias("dangling"), start.alias("pr")),
        dangling=dangling, mass=F.sum("pr"))
    change = float("inf")
    for iterations in range(1, max_iter + 1):
        inflow = (arcs.join(ranks.select(F.col("id").alias("src"), "pr"), "src")
                  .groupBy(F.col("dst").alias("id")).agg(F.sum(F.col("p") * F.col("pr"))
                                                         .alias("inflow")))
        base = teleport + damping * float(seen["dangling"] or 0.0) / n
        new = (F.lit(base) + F.lit(damping) * F.coalesce("inflow", F.lit(0.0))).alias("pr")
        ranks, seen = _checkpointed(
            ranks.join(inflow, "id", "left").select("id", "dangling", new,
                                                    F.col("pr").alias("previous")),
            change=F.sum(F.abs(F.col("pr") - F.col("previous"))), dangling=dangling,
            mass=F.sum("pr"))
        change = float(seen["change"])
        if change < tol:
            log.info("pagerank: %d iterations, last L1 change %.3g", iterations, change)
            break
    else:
        log.warning(
            "pagerank: %d iterations without converging (last L1 change %.3g)", max_iter,
            change)
    mass = float(seen["mass"])
    arcs.unpersist()
    strength.unpersist()
    # Rounding drifts the total away from 1 by a few ulps an iteration; igraph's is 1.
    return ranks.select("id", (F.col("pr") / F.lit(mass)).alias("pagerank"))


def label_propagation(ties, max_iter=50, seed=0, *, weight="weight", vertices=None,
                      update_fraction=0.5):
    """Communities by weighted label propagation, on Spark.

    Every vertex starts with its own id as its label. In each round every vertex weighs the
    labels of its neighbours (the sum of the weights of its ties to the neighbours holding each
    label) and picks the heaviest; a vertex whose current label is among the heaviest keeps it
    (the guard against labels swapping back and forth). Among several heaviest labels, none
    its own, it takes the one with the highest ``xxhash64(seed, label)``: a priority drawn at
    random per label by the seed rather than the smallest id, so that which label wins a tie
    does not depend on how the ids sort, only on their value and the seed (the ids are hashed
    with the seed; relabelling the vertices changes the draws, as a new seed does). Weights
    are compared after rounding to 9 decimals so that the order in which Spark sums them does
    not decide a tie.

    Updates are synchronous (every vertex reads the labels of the previous round), but in
    each round only a pseudo-random share ``update_fraction`` of the vertices that would
    change do change (drawn by ``xxhash64(seed, round, id)``): two neighbours that are each
    other's heaviest tie would otherwise swap labels in every round forever, the classic
    oscillation of synchronous label propagation on bipartite pieces (Raghavan et al. 2007;
    Cordasco and Gargano 2010 use a colouring for the same purpose). ``update_fraction=1``
    is plain synchronous propagation. The iteration stops when no vertex would change its
    label (every vertex holds one of its heaviest labels: a stable labelling), or after
    ``max_iter`` rounds.

    Parameters
    ----------
    ties : pyspark.sql.DataFrame
        Undirected ties, one row per pair: ``u``, ``v`` (``u < v``) and ``weight``.
    max_iter : int, default 50
        Most rounds (a warning is logged if labels still move then).
    seed : int, default 0
        Seed of the tie-break priorities and of the vertices that update each round; the same
        ties and seed give the same communities.
    weight : str, default "weight"
        Column of tie strengths.
    vertices : pyspark.sql.DataFrame, optional
        Column ``id``: vertices without ties, each then its own community.
    update_fraction : float in (0, 1], default 0.5
        Share of the vertices that would change which do change in a round.

    Returns
    -------
    pyspark.sql.DataFrame
        Columns ``id`` and ``community`` (the id of a vertex of the community whose label
        won; not numbered 0..k-1, which would need a global sort); locally checkpointed.

    Examples
    --------
    Two triangles joined by a weak tie:

    >>> ties = spark.createDataFrame([(0, 1, 1.0), (0, 2, 1.0), (1, 2, 1.0), (3, 4, 1.0),
    ...                               (3, 5, 1.0), (4, 5, 1.0), (2, 3, 0.1)],
    ...                              ["u", "v", "weight"])  # doctest: +SKIP
    >>> groups = label_propagation(ties).toPandas()  # doctest: +SKIP
    >>> groups.groupby("community")["id"].apply(sorted).tolist()  # doctest: +SKIP
    [[0, 1, 2], [3, 4, 5]]

    References
    ----------
    U. N. Raghavan, R. Albert, S. Kumara, "Near linear time algorithm to detect community
    structures in large-scale networks", Phys. Rev. E 76, 036106, 2007.
    G. Cordasco, L. Gargano, "Community detection via semi-synchronous label propagation
    algorithms", IEEE BASNA 2010.

    See Also
    --------
    graphchurn.social.communities.detect_communities : Leiden on igraph (the local engine's
        communities); ``method="label_propagation"`` is igraph's asynchronous version.
    """
    from pyspark import StorageLevel

    F = _functions()
    if not 0.0 < update_fraction <= 1.0:
        raise ValueError("update_fraction must be in (0, 1]")
    seed = int(seed)
    arcs = undirected_arcs(ties, weight).persist(StorageLevel.MEMORY_AND_DISK)
    labels = (_vertex_ids(ties, vertices).select("id", F.col("id").alias("label"))
              .localCheckpoint(eager=True))
    threshold = int(update_fraction * 1_000_000)
    moved = None
    for round_ in range(max_iter):
        heard = (arcs.join(labels.select(F.col("id").alias("dst"), "label"), "dst")
                 .select(F.col("src").alias("id"), "label", "w", F.lit(False).alias("own")))
        # Each vertex also hears its own label, with weight 0: that makes "the current label
        # is among the heaviest" one comparison below, and keeps vertices without ties.
        own = labels.select("id", "label", F.lit(0.0).alias("w"), F.lit(True).alias("own"))
        weighed = (heard.unionByName(own).groupBy("id", "label")
                   .agg(F.round(F.sum("w"), _LABEL_WEIGHT_DECIMALS).alias("lw"),
                        F.max("own").alias("own")))
        # The largest (weight, own, priority, label) is the heaviest label, the vertex's own
        # among equally heavy ones, then the highest priority: one aggregation picks it and
        # tells whether the vertex keeps its label; the current label rides along.
        priority = F.xxhash64(F.lit(seed), F.col("label"))
        chosen = weighed.groupBy("id").agg(
            F.max(F.struct("lw", "own", priority.alias("priority"), "label")).alias("pick"),
            F.max(F.when(F.col("own"), F.col("label"))).alias("current"))
        draws = F.pmod(F.xxhash64(F.lit(seed), F.lit(round_), F.col("id")), F.lit(1_000_000))
        keeps = F.col("pick.own")
        labels, seen = _checkpointed(
            chosen.select("id", F.when(keeps | (draws >= threshold), F.col("current"))
                          .otherwise(F.col("pick.label")).alias("label"),
                          keeps.alias("keeps")),
            moved=F.sum(F.when(F.col("keeps"), 0).otherwise(1)))
        moved = int(seen["moved"] or 0)
        if moved == 0:
            log.info("label_propagation: stable after %d rounds", round_ + 1)
            break
    else:
        log.warning(
            "label_propagation: %d rounds and %d vertices still without one of their "
            "heaviest labels", max_iter, moved)
    arcs.unpersist()
    return labels.select("id", F.col("label").alias("community"))


def _departed_frame(spark, departed, id_type):
    """``departed`` as a one-column DataFrame ``id`` of distinct ids."""
    from pyspark.sql import DataFrame

    F = _functions()
    if isinstance(departed, DataFrame):
        frame = departed.select(F.col(departed.columns[0] if "id" not in departed.columns
                                      else "id").cast(id_type).alias("id"))
    else:
        from pyspark.sql.types import StructField, StructType
        values = [(v.item() if hasattr(v, "item") else v,) for v in departed]
        frame = spark.createDataFrame(values, StructType([StructField("id", id_type)]))
    return frame.distinct()


def exposure_shares(ties, departed, weight="weight", *, vertices=None, influencers=None):
    """How strongly each vertex is tied to departed vertices, on Spark.

    The exposure features of :func:`graphchurn.features.exposure.exposure`, with the same
    definitions: each tie is seen from both ends; a vertex's strength is the sum of its tie
    weights; departed vertices get their exposure to *other* departed vertices like anyone.

    Parameters
    ----------
    ties : pyspark.sql.DataFrame
        Undirected ties, one row per pair: ``u``, ``v`` (``u < v``) and ``weight``.
    departed : pyspark.sql.DataFrame or collection
        Ids of the departed vertices: a DataFrame (column ``id``, or its only column) or, for a
        few ids, a Python collection.
    weight : str, default "weight"
        Column of tie strengths (the feature code reads ``weight_since``, the longer window).
    vertices : pyspark.sql.DataFrame, optional
        Column ``id``: vertices without ties, reported with zeros.
    influencers : pyspark.sql.DataFrame or collection, optional
        Ids of the influencers; without it ``departed_influencer_contact`` is all False.

    Returns
    -------
    pyspark.sql.DataFrame
        Columns ``id`` and

        - ``share_to_departed``: weight of ties to departed neighbours / strength (0 for a
          vertex of strength 0),
        - ``n_departed_contacts`` (long): number of departed neighbours,
        - ``departed_influencer_contact`` (bool): whether a departed neighbour is an
          influencer,
        - ``max_tie_share_departed``: the largest single tie to a departed neighbour as a share
          of strength (0 for a vertex of strength 0).

    Examples
    --------
    >>> ties = spark.createDataFrame([(0, 1, 3.0), (0, 2, 1.0)],
    ...                              ["u", "v", "weight"])  # doctest: +SKIP
    >>> exposure_shares(ties, [1]).where("id = 0").first().share_to_departed  # doctest: +SKIP
    0.75

    References
    ----------
    I. Nitzan, B. Libai, "Social effects on customer retention", Journal of Marketing 75(6),
    24-38, 2011.

    See Also
    --------
    graphchurn.features.exposure.exposure : the local function this reproduces.
    """
    F = _functions()
    id_type = ties.schema["u"].dataType
    spark = ties.sparkSession
    gone = _departed_frame(spark, departed, id_type).select(
        F.col("id").alias("dst"), F.lit(True).alias("gone"))
    # A collection of ids is small: broadcast it rather than shuffle the arcs for it.
    arcs = undirected_arcs(ties, weight).join(gone if _is_frame(departed) else F.broadcast(gone),
                                              "dst", "left")
    if influencers is not None:
        star = _departed_frame(spark, influencers, id_type).select(
            F.col("id").alias("dst"), F.lit(True).alias("star"))
        arcs = arcs.join(star, "dst", "left")
        star_contact = F.max(F.coalesce(F.col("gone") & F.col("star"), F.lit(False)))
    else:
        star_contact = F.lit(False)
    gone_w = F.when(F.col("gone"), F.col("w"))
    table = (arcs.groupBy(F.col("src").alias("id"))
             .agg(F.sum("w").alias("strength"), F.sum(gone_w).alias("to_departed"),
                  F.count(gone_w).alias("n_departed_contacts"),
                  F.max(gone_w).alias("largest"), star_contact.alias("star_contact")))
    positive = F.col("strength") > 0
    table = table.select(
        "id",
        F.when(positive, F.coalesce(F.col("to_departed"), F.lit(0.0)) / F.col("strength"))
        .otherwise(0.0).alias("share_to_departed"),
        "n_departed_contacts",
        F.col("star_contact").alias("departed_influencer_contact"),
        F.when(positive, F.coalesce(F.col("largest"), F.lit(0.0)) / F.col("strength"))
        .otherwise(0.0).alias("max_tie_share_departed"))
    return _per_vertex(table, ties, vertices,
                       {"share_to_departed": 0.0, "n_departed_contacts": 0,
                        "departed_influencer_contact": False, "max_tie_share_departed": 0.0})


def _is_frame(obj):
    from pyspark.sql import DataFrame
    return isinstance(obj, DataFrame)


def khop_influence(ties, hops=2, weight="weight", activation="weighted_cascade", *,
                   vertices=None, n_vertices=None):
    r"""Expected customers an independent cascade reaches within ``hops`` hops, on Spark.

    The estimate of :func:`graphchurn.social.roles.khop_influence_spread` (read its docstring
    for the model), as joins: with arc ``u -> v`` live with probability :math:`p_{uv}`
    (``w_uv / s_v`` under the weighted cascade, 0 where ``s_v = 0``),
    :math:`a_u = \sum_v p_{uv}`,

    .. math::

        \sigma_1(u) = 1 + a_u, \qquad
        \sigma_2(u) = \sigma_1(u) + \sum_v p_{uv} (a_v - p_{vu}),

    capped at ``n``. The tie table has one row per pair, so the graph is simple and the walk
    back ``u -> v -> u`` is the arc's own reverse.

    Parameters
    ----------
    ties : pyspark.sql.DataFrame
        Undirected ties, one row per pair: ``u``, ``v`` (``u < v``) and ``weight``.
    hops : {1, 2}, default 2
        Longest path counted.
    weight : str, default "weight"
        Column of tie strengths.
    activation : "weighted_cascade" or float
        Arc ``u -> v`` live with probability ``w_uv / s_v``, or every arc with this one.
    vertices : pyspark.sql.DataFrame, optional
        Column ``id``: vertices without ties (spread 1), counted in ``n``.
    n_vertices : int, optional
        ``n`` for the cap; by default the number of vertices (a count on Spark).

    Returns
    -------
    pyspark.sql.DataFrame
        Columns ``id`` and ``influence_spread`` (double, in ``[1, n]``).

    Examples
    --------
    On the path 0 - 1 - 2 with unit weights:

    >>> ties = spark.createDataFrame([(0, 1, 1.0), (1, 2, 1.0)],
    ...                              ["u", "v", "weight"])  # doctest: +SKIP
    >>> sorted(khop_influence(ties).collect())  # doctest: +SKIP
    [Row(id=0, influence_spread=2.0), Row(id=1, influence_spread=3.0),
     Row(id=2, influence_spread=2.0)]

    References
    ----------
    J. Tang, X. Tang, J. Yuan, "An efficient and effective hop-based approach for influence
    maximization in social networks", The VLDB Journal 27, 2018.
    D. Kempe, J. Kleinberg, E. Tardos, "Maximizing the spread of influence through a social
    network", KDD 2003 (independent cascade, weighted cascade).

    See Also
    --------
    graphchurn.social.roles.khop_influence_spread : the local function this reproduces.
    """
    F = _functions()
    if hops not in (1, 2):
        raise ValueError("hops must be 1 or 2")
    w = F.col(weight).cast("double")
    if isinstance(activation, str):
        if activation != "weighted_cascade":
            raise ValueError("activation must be 'weighted_cascade' or a probability in [0, 1]")
        # Each tie with its two ends' strengths gives both arcs and, on each, the probability
        # of its reverse (the walk u -> v -> u the second hop leaves out) without a self-join.
        strength = strength_degree(ties, weight).select("id", "strength")
        ends = (ties.select("u", "v", w.alias("w"))
                .join(strength.select(F.col("id").alias("u"), F.col("strength").alias("s_u")),
                      "u")
                .join(strength.select(F.col("id").alias("v"), F.col("strength").alias("s_v")),
                      "v"))

        def share(s):
            return F.when(F.col(s) > 0, F.col("w") / F.col(s)).otherwise(0.0)
        to_v, to_u = share("s_v"), share("s_u")
    else:
        p = float(activation)
        if not 0.0 <= p <= 1.0:
            raise ValueError("activation probability must be in [0, 1]")
        ends = ties.select("u", "v")
        to_v = to_u = F.lit(p)
    arcs = (ends.select(F.col("u").alias("src"), F.col("v").alias("dst"), to_v.alias("p"),
                        to_u.alias("p_back"))
            .unionByName(ends.select(F.col("v").alias("src"), F.col("u").alias("dst"),
                                     to_u.alias("p"), to_v.alias("p_back"))))
    reach = arcs.groupBy(F.col("src").alias("id")).agg(F.sum("p").alias("a"))
    if hops == 2:
        second = (arcs.join(reach.select(F.col("id").alias("dst"), F.col("a").alias("a_head")),
                            "dst")
                  .groupBy(F.col("src").alias("id"))
                  .agg(F.sum(F.col("p") * (F.col("a_head") - F.col("p_back"))).alias("b")))
        table = reach.join(second, "id", "left").select(
            "id", (F.lit(1.0) + F.col("a") + F.coalesce("b", F.lit(0.0))).alias("spread"))
    else:
        table = reach.select("id", (F.lit(1.0) + F.col("a")).alias("spread"))
    if vertices is not None:
        table = _vertex_ids(ties, vertices).join(table, "id", "left").fillna({"spread": 1.0})
    if n_vertices is None:
        n_vertices = _vertex_ids(ties, vertices).count()
    return table.select("id", F.least(F.col("spread"), F.lit(float(n_vertices)))
                        .alias("influence_spread"))


def spreading_activation(ties, departed, spread_factor=0.8, iterations=5, *, weight="weight",
                         energy=None, vertices=None):
    r"""Energy received by each vertex when energy spreads out of the departed, on Spark.

    The quantity of :func:`graphchurn.features.exposure.spreading_activation` (the feature
    ``spreading_activation_energy``; :func:`graphchurn.features.build.features_on_graph`
    calls it with energy 1 on the recently departed and the graph's ``weight``). Energy
    :math:`e_v` starts on the departed; in each of ``iterations`` rounds every vertex of
    strength :math:`s_u > 0` keeps :math:`1 - \lambda` of its energy and passes
    :math:`\lambda` of it to its neighbours in proportion to tie weight (a vertex of strength
    0 keeps it all), and what a vertex receives is summed over the rounds:

    .. math::

        t_v = \lambda \sum_u \frac{w_{uv}}{s_u} e_u, \qquad
        e_v \leftarrow (1 - \lambda [s_v > 0]) e_v + t_v, \qquad
        r_v \leftarrow r_v + t_v .

    A vertex's own initial energy is not counted as received; energy flowing back to a
    departed vertex is. Each round is a join of the arcs with the vertices that hold energy
    and an aggregation by head, locally checkpointed; the total energy is conserved and
    logged.

    Parameters
    ----------
    ties : pyspark.sql.DataFrame
        Undirected ties, one row per pair: ``u``, ``v`` (``u < v``) and ``weight`` (>= 0).
    departed : pyspark.sql.DataFrame or collection
        Where the energy starts: a DataFrame (column ``id``, or its only column; one row per
        id) or, for a few ids, a Python collection. Each gets energy 1 unless ``energy``
        names a column of the DataFrame holding its starting energy.
    spread_factor : float in [0, 1], default 0.8
        Share :math:`\lambda` of its energy a vertex passes on in a round.
    iterations : int, default 5
        Rounds; energy travels at most this many hops.
    weight : str, default "weight"
        Column of tie strengths (the feature uses the tie window's ``weight``).
    energy : str, optional
        Column of ``departed`` with the starting energy (default: 1 for every row).
    vertices : pyspark.sql.DataFrame, optional
        Column ``id``: vertices without ties, reported with 0.

    Returns
    -------
    pyspark.sql.DataFrame
        Columns ``id`` and ``spreading_activation_energy`` (double); locally checkpointed.

    Examples
    --------
    On the path 0 - 1 - 2, one round at half strength from vertex 0:

    >>> ties = spark.createDataFrame([(0, 1, 1.0), (1, 2, 1.0)],
    ...                              ["u", "v", "weight"])  # doctest: +SKIP
    >>> sorted(spreading_activation(ties, [0], spread_factor=0.5, iterations=1).collect())
    ... # doctest: +SKIP
    [Row(id=0, spreading_activation_energy=0.0), Row(id=1, spreading_activation_energy=0.5),
     Row(id=2, spreading_activation_energy=0.0)]

    References
    ----------
    K. Dasgupta, R. Singh, B. Viswanathan, D. Chakraborty, S. Mukherjea, A. A. Nanavati,
    A. Joshi, "Social ties and their relevance to churn in mobile telecom networks", EDBT 2008,
    668-677.

    See Also
    --------
    graphchurn.features.exposure.spreading_activation : the local function this reproduces.
    """
    from pyspark import StorageLevel

    F = _functions()
    if not 0.0 <= spread_factor <= 1.0:
        raise ValueError("spread_factor must be in [0, 1]")
    if iterations < 0:
        raise ValueError("iterations must be >= 0")
    id_type = ties.schema["u"].dataType
    if energy is not None:
        start = departed.select(F.col("id").cast(id_type).alias("id"),
                                F.col(energy).cast("double").alias("start"))
    else:
        start = _departed_frame(ties.sparkSession, departed, id_type).select(
            "id", F.lit(1.0).alias("start"))
    strength = strength_degree(ties, weight).select("id", "strength")
    # Each arc with the share of its tail's strength it carries, reused by every round; a tail
    # of strength 0 sends nothing (and keeps its energy, below).
    arcs = (undirected_arcs(ties, weight)
            .join(strength.select(F.col("id").alias("src"), "strength"), "src")
            .where(F.col("strength") > 0)
            .select("src", "dst", (F.col("w") / F.col("strength")).alias("p"))
            .persist(StorageLevel.MEMORY_AND_DISK))
    keep = F.when(F.col("strength") > 0, F.lit(1.0 - spread_factor)).otherwise(F.lit(1.0))
    # Only vertices with ties take part: a departed vertex outside the tie table can neither
    # send nor receive, and its received energy is 0 as in the local function.
    state, seen = _checkpointed(
        strength.join(start, "id", "left").select(
            "id", keep.alias("keep"), F.coalesce("start", F.lit(0.0)).alias("e"),
            F.lit(0.0).alias("received")),
        mass=F.sum("e"))
    for round_ in range(iterations):
        inflow = (arcs.join(state.where(F.col("e") != 0).select(F.col("id").alias("src"), "e"),
                            "src")
                  .groupBy(F.col("dst").alias("id"))
                  .agg((F.lit(spread_factor) * F.sum(F.col("p") * F.col("e"))).alias("t")))
        t = F.coalesce("t", F.lit(0.0))
        state, seen = _checkpointed(
            state.join(inflow, "id", "left").select(
                "id", "keep", (F.col("keep") * F.col("e") + t).alias("e"),
                (F.col("received") + t).alias("received")),
            mass=F.sum("e"))
    log.info("spreading_activation: %d rounds, total energy %.6g", iterations,
             float(seen["mass"] or 0.0))
    arcs.unpersist()
    return _per_vertex(state.select("id", F.col("received").alias("spreading_activation_energy")),
                       ties, vertices, {"spreading_activation_energy": 0.0})


def exposure_before_onset(ties, departures, recent_days=30, onset_days=28, *,
                          weight="weight_since", age="departure_age_days", vertices=None):
    r"""Share of tie strength to contacts who had left before a fade's onset, on Spark.

    The feature ``share_to_departed_before_onset`` of
    :func:`graphchurn.features.exposure.exposure_before_onset`, with the same definition (read
    its docstring for the reasoning): a contact who left :math:`k` whole days before the
    cut-off weighs the share of the onset days :math:`d = 1, \dots, D` (``onset_days``) at
    which its departure was recent (at most ``recent_days`` :math:`R` old),

    .. math::

        a(k) = \frac{\max(0,\ \min(D, k) - \max(1, k - R) + 1)}{D}, \qquad
        x_v = \frac{\sum_u w_{uv}\, a(k_u)}{s_v}

    (0 for a vertex of strength 0), with :math:`k = \lfloor \text{age} \rfloor`. A join of the
    arcs with the departed and one aggregation by tail.

    Parameters
    ----------
    ties : pyspark.sql.DataFrame
        Undirected ties, one row per pair: ``u``, ``v`` (``u < v``) and ``weight``.
    departures : pyspark.sql.DataFrame
        The departed: column ``id`` and the column ``age``, days from the departure to the
        cut-off (a float, as :func:`graphchurn.features.exposure.departure_ages` gives), one
        row per id. Rows with a null, NaN or negative age (not departed, or departed after
        the cut-off) count as not departed.
    recent_days : int, default 30
        How long a departure counts as recent (``recent_departure_days`` of the features).
    onset_days : int, default 28
        The earliest onset considered, in days before the cut-off (the features pass
        ``FADE_DAYS[1]``, 28).
    weight : str, default "weight_since"
        Column of tie strengths: the features read the longer tie window's strengths, which
        ``cutoff_aggregates`` names ``weight_since``.
    age : str, default "departure_age_days"
        Column of ``departures`` with the age of the departure in days.
    vertices : pyspark.sql.DataFrame, optional
        Column ``id``: vertices without ties, reported with 0.

    Returns
    -------
    pyspark.sql.DataFrame
        Columns ``id`` and ``share_to_departed_before_onset`` (double, in [0, 1]).

    Examples
    --------
    Two equal ties, to contacts who left 1 and 10 days ago; onsets up to 4 days back:

    >>> ties = spark.createDataFrame([(0, 1, 1.0), (0, 2, 1.0)],
    ...                              ["u", "v", "weight_since"])  # doctest: +SKIP
    >>> gone = spark.createDataFrame([(1, 1.0), (2, 10.0)],
    ...                              ["id", "departure_age_days"])  # doctest: +SKIP
    >>> exposure_before_onset(ties, gone, onset_days=4).where("id = 0").first()[1]
    ... # doctest: +SKIP
    0.625

    References
    ----------
    I. Nitzan, B. Libai, "Social effects on customer retention", Journal of Marketing 75(6),
    24-38, 2011.

    See Also
    --------
    graphchurn.features.exposure.exposure_before_onset : the local function this reproduces.
    graphchurn.features.exposure.departure_ages : the ages, from departure dates.
    """
    F = _functions()
    if int(onset_days) < 1 or int(recent_days) < 0:
        raise ValueError("onset_days must be >= 1 and recent_days >= 0")
    id_type = ties.schema["u"].dataType
    a = F.col(age).cast("double")
    # Spark orders NaN above every number, so "age >= 0" alone would keep a NaN age.
    k = F.floor(a).cast("double")
    first = F.greatest(F.lit(1.0), k - F.lit(float(recent_days)))
    last = F.least(F.lit(float(onset_days)), k)
    gone = (departures.where(a.isNotNull() & ~F.isnan(a) & (a >= 0))
            .select(F.col("id").cast(id_type).alias("dst"),
                    (F.greatest(last - first + F.lit(1.0), F.lit(0.0))
                     / F.lit(float(onset_days))).alias("a")))
    table = (undirected_arcs(ties, weight).join(gone, "dst", "left")
             .groupBy(F.col("src").alias("id"))
             .agg(F.sum("w").alias("strength"),
                  F.sum(F.col("w") * F.coalesce("a", F.lit(0.0))).alias("to_departed")))
    table = table.select("id", F.when(F.col("strength") > 0,
                                      F.col("to_departed") / F.col("strength"))
                         .otherwise(0.0).alias("share_to_departed_before_onset"))
    return _per_vertex(table, ties, vertices, {"share_to_departed_before_onset": 0.0})


def coreness(ties, *, vertices=None, max_iter=None):
    r"""k-core number of every vertex (unweighted), by the h-index iteration on Spark.

    The same as igraph's ``graph.coreness()`` (as
    :func:`graphchurn.social.roles.influencer_scores` computes the feature ``coreness``): the
    largest :math:`k` such that the vertex belongs to a subgraph in which every vertex has at
    least :math:`k` ties. Lü, Zhou, Zhang and Stanley (2016) show that iterating the
    h-index operator from the degrees,

    .. math::

        c_v^{(0)} = d_v, \qquad
        c_v^{(t+1)} = \mathcal{H}\left(c_u^{(t)} : u \in N(v)\right), \qquad
        \mathcal{H}(x_1, \dots, x_d) = \max\{h : \#\{i : x_i \ge h\} \ge h\},

    gives non-increasing values that reach the coreness after finitely many rounds (it is a
    fixed point, and the first one from the degrees). Each round ranks every vertex's
    neighbour values in decreasing order (a window by vertex): the h-index is the largest
    rank ``r`` whose value is at least ``r``. The result is locally checkpointed; the number
    of vertices that changed rides along, and the iteration stops at the first round where
    none did.

    Parameters
    ----------
    ties : pyspark.sql.DataFrame
        Undirected ties, one row per pair: ``u``, ``v`` (``u < v``); weights are not read.
    vertices : pyspark.sql.DataFrame, optional
        Column ``id``: vertices without ties (coreness 0).
    max_iter : int, optional
        Most rounds; by default until nothing changes (guaranteed: the values are integers
        that only decrease). A result cut off by ``max_iter`` is an upper bound of the
        coreness, and a warning is logged.

    Returns
    -------
    pyspark.sql.DataFrame
        Columns ``id`` and ``coreness`` (long); locally checkpointed.

    Examples
    --------
    A triangle with a tail 2 - 3:

    >>> ties = spark.createDataFrame([(0, 1), (0, 2), (1, 2), (2, 3)],
    ...                              ["u", "v"])  # doctest: +SKIP
    >>> sorted(coreness(ties).collect())  # doctest: +SKIP
    [Row(id=0, coreness=2), Row(id=1, coreness=2), Row(id=2, coreness=2),
     Row(id=3, coreness=1)]

    References
    ----------
    L. Lü, T. Zhou, Q.-M. Zhang, H. E. Stanley, "The H-index of a network node and its
    relation to degree and coreness", Nature Communications 7, 10168, 2016.
    V. Batagelj, M. Zaversnik, "An O(m) algorithm for cores decomposition of networks", 2003
    (igraph's algorithm).
    M. Kitsak et al., "Identification of influential spreaders in complex networks", Nature
    Physics 6, 2010 (coreness as a spreader score).

    See Also
    --------
    graphchurn.social.roles.influencer_scores : ``coreness`` on igraph.
    """
    from pyspark import StorageLevel
    from pyspark.sql import Window

    F = _functions()
    arcs = (ties.select(F.col("u").alias("src"), F.col("v").alias("dst"))
            .unionByName(ties.select(F.col("v").alias("src"), F.col("u").alias("dst")))
            .persist(StorageLevel.MEMORY_AND_DISK))
    values = (arcs.groupBy(F.col("src").alias("id")).agg(F.count(F.lit(1)).alias("c"))
              .localCheckpoint(eager=True))
    by_value = Window.partitionBy("src").orderBy(F.col("c").desc())
    rounds = 0
    while max_iter is None or rounds < max_iter:
        rounds += 1
        ranked = (arcs.join(values.select(F.col("id").alias("dst"), "c"), "dst")
                  .select("src", "c", F.row_number().over(by_value).alias("r")))
        h = (ranked.groupBy(F.col("src").alias("id"))
             .agg(F.max(F.when(F.col("c") >= F.col("r"), F.col("r"))).alias("h")))
        # Every vertex here has a tie, and its neighbours' values stay >= 1, so h >= 1.
        values, seen = _checkpointed(
            values.join(h, "id").select("id", F.col("h").cast("long").alias("c"),
                                        (F.col("h") != F.col("c")).alias("moved")),
            moved=F.sum(F.col("moved").cast("long")))
        values = values.select("id", "c")
        if not int(seen["moved"] or 0):
            log.info("coreness: fixed point after %d rounds", rounds)
            break
    else:
        log.warning("coreness: %d rounds without reaching the fixed point (values are upper "
                    "bounds of the coreness)", max_iter)
    arcs.unpersist()
    return _per_vertex(values.select("id", F.col("c").alias("coreness")), ties, vertices,
                       {"coreness": 0})


def clustering(ties, *, vertices=None):
    r"""Local clustering coefficient of every vertex (unweighted), by triangle counting.

    The same as igraph's ``graph.transitivity_local_undirected(mode="zero")`` as
    :func:`graphchurn.features.build.features_on_graph` computes the feature ``clustering``:

    .. math::

        C_v = \frac{2 T_v}{d_v (d_v - 1)}  \quad (d_v \ge 2), \qquad C_v = 0 \quad (d_v < 2),

    with :math:`T_v` the triangles through :math:`v`. Each tie is oriented from the end that
    comes first in the order (degree, id) to the other; every triangle then has exactly one
    vertex with both other vertices as out-neighbours, so the pairs of out-neighbours of a
    vertex joined with the oriented ties list each triangle once. The pairs are at most
    :math:`O(m^{3/2})` (an out-degree is below :math:`\sqrt{2m}` under this order), against
    :math:`\sum_v d_v^2` for unoriented wedges, which a hub makes quadratic.

    Parameters
    ----------
    ties : pyspark.sql.DataFrame
        Undirected ties, one row per pair: ``u``, ``v`` (``u < v``); weights are not read.
    vertices : pyspark.sql.DataFrame, optional
        Column ``id``: vertices without ties (clustering 0).

    Returns
    -------
    pyspark.sql.DataFrame
        Columns ``id``, ``triangles`` (long) and ``clustering`` (double, in [0, 1]).

    Examples
    --------
    A triangle with a tail 2 - 3:

    >>> ties = spark.createDataFrame([(0, 1), (0, 2), (1, 2), (2, 3)],
    ...                              ["u", "v"])  # doctest: +SKIP
    >>> {r.id: r.clustering for r in clustering(ties).orderBy("id").collect()}
    ... # doctest: +SKIP
    {0: 1.0, 1: 1.0, 2: 0.3333333333333333, 3: 0.0}

    References
    ----------
    D. J. Watts, S. H. Strogatz, "Collective dynamics of 'small-world' networks", Nature 393,
    1998 (local clustering).
    S. Suri, S. Vassilvitskii, "Counting triangles and the curse of the last reducer",
    WWW 2011 (triangles on MapReduce, ties oriented by degree).

    See Also
    --------
    graphchurn.features.build.features_on_graph : the igraph call this reproduces.
    """
    F = _functions()
    degree = (ties.select(F.col("u").alias("id")).unionByName(ties.select(F.col("v").alias("id")))
              .groupBy("id").agg(F.count(F.lit(1)).alias("d")))
    ends = (ties.select("u", "v")
            .join(degree.select(F.col("id").alias("u"), F.col("d").alias("du")), "u")
            .join(degree.select(F.col("id").alias("v"), F.col("d").alias("dv")), "v"))
    u_first = (F.col("du") < F.col("dv")) | ((F.col("du") == F.col("dv"))
                                             & (F.col("u") < F.col("v")))
    # Oriented ties a -> b, with the rank (degree) of the head for ordering the pairs below.
    out = ends.select(F.when(u_first, F.col("u")).otherwise(F.col("v")).alias("a"),
                      F.when(u_first, F.col("v")).otherwise(F.col("u")).alias("b"),
                      F.when(u_first, F.col("dv")).otherwise(F.col("du")).alias("db"))
    first = out.select("a", "b", "db")
    second = out.select("a", F.col("b").alias("c"), F.col("db").alias("dc"))
    # Pairs b, c of out-neighbours of a, with b before c in the order, so that the tie
    # between them, if any, is oriented b -> c.
    pairs = first.join(second, "a").where(
        (F.col("db") < F.col("dc")) | ((F.col("db") == F.col("dc")) & (F.col("b") < F.col("c"))))
    closing = out.select(F.col("a").alias("b"), F.col("b").alias("c"))
    triangles = pairs.join(closing, ["b", "c"]).select("a", "b", "c")
    per_vertex = (triangles.select(F.explode(F.array("a", "b", "c")).alias("id"))
                  .groupBy("id").agg(F.count(F.lit(1)).alias("triangles")))
    table = degree.join(per_vertex, "id", "left").select(
        "id", F.coalesce("triangles", F.lit(0)).cast("long").alias("triangles"),
        F.when(F.col("d") >= 2, 2.0 * F.coalesce("triangles", F.lit(0))
               / (F.col("d") * (F.col("d") - 1))).otherwise(0.0).alias("clustering"))
    return _per_vertex(table, ties, vertices, {"triangles": 0, "clustering": 0.0})
