"""Execution engines: the same pipeline stages, run in this process or on Apache Spark.

``local`` (the default) reads the log into this process (pandas/Arrow) and runs every stage
here: :class:`graphchurn.pipeline.ChurnPipeline`. ``spark`` (:mod:`graphchurn.engines.spark`,
needs the ``spark`` extra and Java 17+) reads, validates and aggregates the raw log on Spark
and brings only per-pair tie tables and per-customer activity to the driver, where the same
graph, community, role, exposure and model code runs (see docs/spark.md).
"""

ENGINES = ("local", "spark")

__all__ = ["ENGINES"]
