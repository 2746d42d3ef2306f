"""The Spark engine: the raw log is read, validated and aggregated on Apache Spark.

What runs where
---------------
On the executors (work proportional to the log's rows): reading CSV / CSV.gz / Parquet from any
path Spark reads (local, HDFS, S3 URIs); validation, counted by Spark (the same one-line
messages as :func:`graphchurn.io.load_interactions`, with the number of bad rows instead of
the first row's number); per cut-off, the aggregation of the window into ties (one row per
pair: weight, count, duration, and the weight over the longer tie window) and into activity
per customer (counts, durations, recency, active days, trends); the per-day counts of the last
four weeks and the fade-out evidence computed from them (:func:`graphchurn.graph.
fade_out_evidence` in ``mapInPandas``); per customer the last outgoing interaction before and
the first after each cut-off (what labels, departures and the active population read); and
the scoring of every customer with the fitted model (``mapInPandas``).

On the driver: the aggregated tables only (pairs and customers, never rows; the pairs as
integer codes into one dictionary of identifiers), from which
:func:`graphchurn.graph.aggregates.graph_from_aggregates` builds the same CustomerGraph as the
local engine, and graphchurn's own code runs communities, roles, exposure, features and the
model (:func:`graphchurn.features.build.features_on_graph`). igraph holds a cut-off's tie graph
in the driver's memory while its features are built; a training cut-off's graph is released
then, the scoring cut-off's is kept for groups, influencers and the report. An analysis needs
about :data:`DRIVER_BYTES_PER_TIE` bytes a tie of the scoring graph (:data:`MAX_DRIVER_TIES`
by default, refused beyond with a message; see docs/spark.md).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd

from graphchurn.errors import InputError
from graphchurn.features.build import FeatureSet, _Steps, features_on_graph, known_customers
from graphchurn.graph.aggregates import graph_from_aggregates
from graphchurn.graph.customer_graph import FADE_DAYS, fade_out_evidence
from graphchurn.pipeline import (AnalyzeConfig, ChurnPipeline, labelled_cutoffs, stray_edge_rows,
                                 stray_from_ends)
from graphchurn.windows.labels import active_at, before, known_departures

__all__ = ["spark_session", "default_master", "read_interactions", "read_customers",
           "check_read_format",
           "read_inputs", "log_from_pandas", "check_customers_match", "stray_on_spark",
           "SparkLog", "SparkPipeline", "analyze_spark", "score_with_spark", "cutoff_aggregates",
           "label_rows", "DRIVER_BYTES_PER_TIE", "MAX_DRIVER_TIES"]

log = logging.getLogger("graphchurn")

#: Driver memory of a whole analysis per tie of the scoring graph, at its peak (the final
#: model fit): the scoring cut-off's igraph graph and per-vertex tables, the training
#: cut-offs' feature tables (their graphs are released once those are built), the stacked
#: training table and the model. Measured 1.44 KB at 300,000 customers (docs/spark.md,
#: experiments/results/bench_spark.md), so 300 million ties (a 16M-customer operator, 3
#: months) would need a driver of ~450 GB.
DRIVER_BYTES_PER_TIE = 1_500
#: Tie graphs larger than this are refused (set GRAPHCHURN_SPARK_MAX_TIES to raise it): a
#: driver of about 150 GB.
MAX_DRIVER_TIES = int(os.environ.get("GRAPHCHURN_SPARK_MAX_TIES", 100_000_000))

_KINDS = ("call", "sms", "message", "referral")
_NUMBER_RE = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_ID_FORBIDDEN_RE = '[\\x00-\\x1f\\x7f"]'
_MAX_ID_LENGTH = 256
_MAX_DURATION_SECONDS = 864_000
_US_PER_DAY = 86_400_000_000.0


# --------------------------------------------------------------------------- session
def default_master() -> str | None:
    """``local[*]``, or None under spark-submit (whose JVM is running: its master stands)."""
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ or "SPARK_ENV_LOADED" in os.environ
    return None if submitted else "local[*]"


def spark_session(master: str | None = "local[*]", conf: dict | None = None):
    """A SparkSession with quiet logs (level ERROR: no stack trace on stderr) and UTC time.

    Parameters
    ----------
    master : str, optional
        ``local[*]``, ``spark://host:7077``, ``yarn``...; None keeps what spark-submit set.
    conf : dict, optional
        More Spark settings (``--spark-conf key=value``).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("the Spark engine needs pyspark: pip install 'graphchurn[spark]' "
                         "(and Java 17+)", parameter="engine") from None
    # Python workers run this interpreter (graphchurn, numpy and pandas are installed here);
    # on a cluster, spark-submit's PYSPARK_PYTHON / an archived environment decides.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # pyspark 4.x warns on every pandas conversion under pandas 3; graphchurn's conversions
    # are plain numbers and strings (checked by tests/test_spark.py).
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    builder = SparkSession.builder.appName("graphchurn")
    if master:
        builder = builder.master(master)
    settings = {"spark.log.level": "ERROR", "spark.sql.session.timeZone": "UTC",
                "spark.sql.execution.arrow.pyspark.enabled": "true",
                "spark.ui.showConsoleProgress": "false", "spark.ui.enabled": "false",
                "spark.sql.shuffle.partitions": "8",
                # Unparseable values become NULL and are counted as bad rows by validation
                # (ANSI mode, Spark 4's default, would fail the job on the first one instead).
                "spark.sql.ansi.enabled": "false"}
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    with _spark_errors("starting Spark"):
        _quiet_gateway(master, settings)
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


#: Where the JVM's own stdout / stderr go when graphchurn starts it (its start-up banner and
#: any Java stack trace never reach the terminal; an error still comes out as one line).
JVM_LOG = os.path.join(tempfile.gettempdir(), "graphchurn-spark-jvm.log")


def _quiet_gateway(master, settings: dict) -> None:
    """Start the Spark JVM with its output in :data:`JVM_LOG` (not under spark-submit, whose
    JVM is already running)."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None or "PYSPARK_GATEWAY_PORT" in os.environ:
        return
    conf = SparkConf(loadDefaults=False)
    if master:
        conf.setMaster(master)
    for key, value in settings.items():
        conf.set(key, value)
    with open(JVM_LOG, "ab") as sink:
        gateway = launch_gateway(conf, popen_kwargs={"stdout": sink, "stderr": sink})
    SparkContext._ensure_initialized(gateway=gateway)


@contextmanager
def _spark_errors(what: str, file=None):
    """Py4J and Spark analysis errors become one-line InputErrors (no Java stack trace)."""
    try:
        yield
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - Py4JJavaError, AnalysisException, ...
        name = type(err).__name__
        try:
            from pyspark.errors import PySparkException
        except ImportError:  # pyspark < 3.4
            PySparkException = ()
        if not isinstance(err, PySparkException) and name not in ("Py4JJavaError", "AnalysisException", "Py4JError", "PySparkException",
                        "IllegalArgumentException", "SparkRuntimeException",
                        "PySparkRuntimeError", "SparkUpgradeException", "NumberFormatException",
                        "ParseException", "UnsupportedOperationException",
                        "PythonException", "PySparkRuntimeError"):
            raise
        text = str(err)
        if "PATH_NOT_FOUND" in text or "Path does not exist" in text:
            raise InputError("file not found", file=file) from None
        if "OutOfMemoryError" in text:
            raise InputError(f"{what} failed on Spark: a JVM ran out of memory "
                             "(java.lang.OutOfMemoryError); give Spark more memory "
                             "(spark.driver.memory in local mode, spark.executor.memory on a "
                             "cluster) or smaller partitions (spark.sql.files.maxPartitionBytes, "
                             "spark.sql.shuffle.partitions)", file=file) from None
        # A Py4J error's first line only names the Java call; the cause is on the next ones.
        lines = [line.strip().lstrip(": ") for line in text.splitlines() if line.strip()]
        lines = [line for line in lines if not line.startswith("An error occurred while")]
        first = (lines[0] if lines else name).split("\tat ")[0][:300]
        raise InputError(f"{what} failed on Spark: {first}", file=file) from None


# --------------------------------------------------------------------------- reading
class SparkLog:
    """A validated log on Spark: ``df`` (src, dst, timestamp, duration; the kind is checked on
    reading, not kept), persisted, and its row count and first / last timestamp."""

    def __init__(self, df, n_rows: int, first: pd.Timestamp, last: pd.Timestamp, display: str):
        self.df, self.n_rows, self.first, self.last, self.display = (df, n_rows, first, last,
                                                                      display)


def _mapping(columns) -> dict:
    from graphchurn.io.readers import INTERACTION_KEYS, parse_column_mapping

    if columns is None or isinstance(columns, str):
        return parse_column_mapping(columns, option="--columns", keys=INTERACTION_KEYS)
    return {str(k): str(v) for k, v in dict(columns).items()}


#: The local reader's options the Spark reader does not implement, and why.
_SPARK_UNREAD_FORMATS = {
    "dayfirst": "the Spark engine reads ISO 8601 date-times and epoch numbers only; write the "
                "dates as ISO 8601 (or Parquet timestamps), or use the local engine",
    "date_format": "the Spark engine reads ISO 8601 date-times and epoch numbers only; write "
                   "the dates as ISO 8601 (or Parquet timestamps), or use the local engine",
    "encoding": "the Spark engine reads UTF-8 text only; convert the file to UTF-8 (or "
                "Parquet), or use the local engine",
}


def check_read_format(fmt=None):
    """The read options of a Spark analysis, refused in one line where Spark cannot follow.

    Parameters
    ----------
    fmt : ReadFormat, dict or None
        A :class:`graphchurn.io.readers.ReadFormat`, or the keywords of
        :func:`graphchurn.io.readers.read_format`.

    Returns
    -------
    ReadFormat
        The checked format (the default one for None).

    Raises
    ------
    InputError
        For ``dayfirst``, ``date_format`` or an ``encoding`` other than UTF-8, naming the
        option (``--dayfirst`` on the command line).
    """
    from graphchurn.io.readers import ReadFormat, read_format

    if fmt is None:
        return ReadFormat()
    if isinstance(fmt, dict):
        fmt = read_format(**fmt)
    unread = {"dayfirst": fmt.dayfirst, "date_format": fmt.date_format is not None,
              "encoding": fmt.encoding not in (None, "utf-8")}
    for name, given in unread.items():
        if given:
            raise InputError(_SPARK_UNREAD_FORMATS[name], parameter=name)
    return fmt


def _csv_delimiter(spark, path: str) -> str:
    """The local reader's delimiter (``, ; tab |``: the most frequent on the first non-blank
    line), judged on the first lines Spark reads of the file or directory."""
    from graphchurn.io.readers import _delimiter

    lines = spark.read.text(path).limit(20).collect()
    first = next((row.value for row in lines if row.value and row.value.strip()), "")
    return _delimiter(first)


def _decimal_comma(text):
    """:func:`graphchurn.io.readers._decimal_comma` as a Spark column: a decimal comma made a
    point, and thousands dots dropped where they group (``1.234,5`` -> ``1234.5``)."""
    from pyspark.sql import functions as F

    grouped = text.rlike(r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?$")
    text = F.when(grouped, F.regexp_replace(text, r"\.", "")).otherwise(text)
    return F.regexp_replace(text, ",", ".")


def read_interactions(spark, path, columns=None, fmt=None) -> SparkLog:
    """Read and validate an interaction log on Spark.

    The same checks as :func:`graphchurn.io.load_interactions` on what Spark reads: missing
    file or columns, empty / too long / control-character identifiers, unreadable or mixed
    timestamps, durations that are not numbers, negative or beyond ten days, unknown kinds.
    Bad rows are counted by one Spark pass; the error names the file and column and says how
    many rows are bad (the first row's number would need a second, ordered pass).
    Self-interactions are dropped, as locally.

    Parameters
    ----------
    spark : SparkSession
    path : str
        CSV, CSV.gz or Parquet (a file or a directory of parts) on any file system Spark reads.
    columns : str or dict, optional
        The column mapping (``"src=Source,dst=Target,timestamp=time"``); 0-based positions
        (``"src=0,dst=1,timestamp=3"``) mean a CSV without a header row (a Parquet file's
        columns in schema order), as for the local reader.
    fmt : ReadFormat, optional
        How the file writes numbers and dates (:func:`graphchurn.io.readers.read_format`):
        a decimal comma (``decimal=","``) and the epoch unit are read as locally; day-first
        dates, a date layout and a text encoding other than UTF-8 are refused with one line
        naming the option (:func:`check_read_format`). A CSV's delimiter (``, ; tab |``) is
        judged from its first line, as locally.

    Returns
    -------
    SparkLog
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from graphchurn.io.readers import INTERACTION_KEYS, _resolve

    fmt = check_read_format(fmt)
    display = str(path)
    mapping = _mapping(columns)
    # Positions for every mapped key mean the file has no header (the local reader's rule).
    headerless = bool(mapping) and all(str(v).strip().isdigit() for v in mapping.values())
    text = display.lower()
    nanos = set()
    with _spark_errors("reading the log", display):
        parquet = text.endswith(".parquet") or text.endswith(".pq") or (
            os.path.isdir(display) and any(f.endswith(".parquet") for f in os.listdir(display)))
        if parquet:
            # Spark reads no Parquet nanosecond timestamps (pandas writes them): they come as
            # integers and are converted below, as columns that Arrow says are nanoseconds.
            spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
            nanos = _parquet_nanosecond_columns(display)
            raw = spark.read.parquet(display)
        else:
            raw = (spark.read.option("header", not headerless).option("inferSchema", False)
                   .option("sep", _csv_delimiter(spark, display))
                   .option("mode", "PERMISSIVE").option("encoding", "UTF-8").csv(display))
        names = [c.strip() for c in raw.columns]
    # The local reader's own column resolution: the same messages for a missing or misnamed
    # column and for a position beyond the file's columns.
    positions, shown = _resolve(None if headerless else names, len(names), mapping,
                                INTERACTION_KEYS, ("src", "dst", "timestamp"), display)
    labels = {key: raw.columns[pos] for key, pos in positions.items()}  # Spark's names
    if headerless and parquet:
        shown = dict(labels)  # a Parquet file's columns have names even when given by position

    col = {k: F.col(f"`{v}`") for k, v in labels.items()}
    fields = {f.name: f.dataType for f in raw.schema.fields}

    def ids(key):
        kind = fields[labels[key]]
        c = col[key]
        if isinstance(kind, (T.FloatType, T.DoubleType)):
            c = c.cast("long")
        # Spark's trim strips spaces (ASCII 32) only, as the local reader does; a third of the
        # cost of the two anchored regular expressions it replaces.
        return F.trim(c.cast("string"))

    src, dst = ids("src"), ids("dst")
    ts_type = fields[labels["timestamp"]]
    ts_raw = col["timestamp"]
    if isinstance(ts_type, (T.TimestampType, T.TimestampNTZType, T.DateType)):
        ts_text = None
        ts = ts_raw.cast("timestamp")
        ts_empty = ts_raw.isNull()
    elif labels["timestamp"] in nanos:
        ts_text = None
        ts = F.timestamp_micros(F.floor(ts_raw / 1000).cast("long"))
        ts_empty = ts_raw.isNull()
    else:
        ts_text = F.trim(ts_raw.cast("string"))
        ts_empty = ts_text.isNull() | (ts_text == "")
    df = raw.select(src.alias("src"), dst.alias("dst"),
                    (ts_text if ts_text is not None else ts).alias("ts_in"),
                    ts_empty.alias("ts_empty"),
                    (F.trim(col["duration"].cast("string")) if "duration" in col
                     else F.lit(None).cast("string")).alias("dur_in"),
                    (F.lower(F.trim(col["kind"].cast("string"))) if "kind" in col
                     else F.lit("call")).alias("kind"))
    if ts_text is None:
        ts = F.col("ts_in")  # already a timestamp
    numeric = F.col("ts_in").cast("string").rlike(_NUMBER_RE)
    if ts_text is not None:
        iso = F.to_timestamp(F.col("ts_in"))
        per_second = fmt.units_per_second
        epoch = (F.timestamp_seconds(F.col("ts_in").cast("double")) if per_second == 1 else
                 F.timestamp_micros(F.round(F.col("ts_in").cast("double")
                                            * F.lit(1_000_000 / per_second)).cast("long")))
    dur_empty = F.col("dur_in").isNull() | (F.col("dur_in") == "")
    dur_text = F.col("dur_in")
    if fmt.decimal == "," and "duration" in labels and isinstance(
            fields[labels["duration"]], T.StringType):
        dur_text = _decimal_comma(dur_text)  # text only: a Parquet number has no decimal mark
    dur = dur_text.cast("double")

    def count(cond):
        return F.sum(F.when(cond, 1).otherwise(0))

    checks = [
        ("src", "empty identifier", F.col("src").isNull() | (F.col("src") == "")),
        ("src", f"identifier longer than {_MAX_ID_LENGTH} characters",
         F.length("src") > _MAX_ID_LENGTH),
        ("src", "identifier holds a control character (tab, CR, newline) or a double quote "
         "(a bare quote in an unquoted field?); ids are kept byte for byte, so fix the file",
         F.col("src").rlike(_ID_FORBIDDEN_RE)),
        ("dst", "empty identifier", F.col("dst").isNull() | (F.col("dst") == "")),
        ("dst", f"identifier longer than {_MAX_ID_LENGTH} characters",
         F.length("dst") > _MAX_ID_LENGTH),
        ("dst", "identifier holds a control character (tab, CR, newline) or a double quote "
         "(a bare quote in an unquoted field?); ids are kept byte for byte, so fix the file",
         F.col("dst").rlike(_ID_FORBIDDEN_RE)),
        ("timestamp", "empty timestamp", F.col("ts_empty")),
    ]
    aggs = [count(cond).alias(f"bad{i}") for i, (_, _, cond) in enumerate(checks)]
    if ts_text is not None:
        aggs += [count(~F.col("ts_empty") & numeric).alias("ts_numeric"),
                 count(~F.col("ts_empty") & ~numeric).alias("ts_text"),
                 count(~F.col("ts_empty") & ~numeric & iso.isNull()).alias("ts_bad_iso")]
    aggs += [count(~dur_empty & dur.isNull()).alias("dur_nan"),
             count(~dur_empty & dur.isNotNull() & (F.isnan(dur) | (F.abs(dur) == float("inf"))))
             .alias("dur_inf"),
             count(~dur_empty & (dur < 0)).alias("dur_neg"),
             count(~dur_empty & (dur > _MAX_DURATION_SECONDS)).alias("dur_big"),
             count(F.col("kind").isNull() | ~F.col("kind").isin(*_KINDS)).alias("kind_bad"),
             F.count(F.lit(1)).alias("n")]
    with _spark_errors("validating the log", display):
        stats = df.agg(*aggs).first().asDict()
    if stats["n"] == 0:
        raise InputError("no data rows (the file has a header only)", file=display)

    def fail(key, message, n_bad):
        raise InputError(f"{message} ({n_bad} row(s), counted by Spark)", file=display,
                         column=shown.get(key, key))

    for i, (key, message, _) in enumerate(checks):
        if stats[f"bad{i}"]:
            fail(key, message, stats[f"bad{i}"])
    if ts_text is not None:
        mode = "epoch" if stats["ts_numeric"] >= stats["ts_text"] else "iso"
        if stats["ts_numeric"] and stats["ts_text"]:
            fail("timestamp", "timestamp column mixes ISO 8601 date-times and Unix epoch "
                 "seconds; use one format" if mode == "iso" else "timestamp column mixes "
                 "Unix epoch seconds and ISO 8601 date-times; use one format",
                 min(stats["ts_numeric"], stats["ts_text"]))
        if mode == "iso" and stats["ts_bad_iso"]:
            fail("timestamp", "cannot read timestamp: expected an ISO 8601 date-time like "
                 "2016-01-31T12:00:00", stats["ts_bad_iso"])
        ts = epoch if mode == "epoch" else iso
    for key, message in (("dur_nan", "duration is not a number"),
                         ("dur_inf", "duration is not a finite number"),
                         ("dur_neg", "negative duration; durations are seconds >= 0"),
                         ("dur_big", f"duration longer than {_MAX_DURATION_SECONDS} seconds "
                          "(10 days); durations are seconds (milliseconds?)")):
        if stats[key]:
            fail("duration", message, stats[key])
    if stats["kind_bad"]:
        fail("kind", f"unknown kind; expected one of {', '.join(_KINDS)}", stats["kind_bad"])

    # The kind is validated above but not kept: no later pass reads it (ties weigh every kind
    # alike, as locally), and the persisted log is the engine's largest cache.
    out = (df.select("src", "dst", ts.alias("timestamp"),
                     F.when(dur_empty, 0.0).otherwise(dur).alias("duration"))
           .where(F.col("src") != F.col("dst")))
    out = out.persist(StorageLevel.MEMORY_AND_DISK)
    with _spark_errors("reading the log", display):
        summary = out.agg(F.count(F.lit(1)).alias("n"), F.min("timestamp").alias("first"),
                          F.max("timestamp").alias("last")).first()
    dropped = stats["n"] - summary["n"]
    if dropped:
        log.warning("%s", InputError(f"{dropped} self-interaction row(s) (src equals dst) "
                                     "dropped", file=display, column=shown["src"]))
    if summary["n"] == 0:
        raise InputError("no interactions left after dropping self-interactions", file=display)
    return SparkLog(out, int(summary["n"]), pd.Timestamp(summary["first"]),
                    pd.Timestamp(summary["last"]), display)


def _parquet_nanosecond_columns(path: str) -> set:
    """Columns stored as nanosecond timestamps in a Parquet file or directory (by Arrow, on
    any file system it opens; empty when it cannot look)."""
    try:
        import pyarrow.dataset as ds
        import pyarrow as pa

        schema = ds.dataset(path, format="parquet").schema
    except Exception:  # noqa: BLE001 - a file system Arrow does not open: Spark's types stand
        return set()
    return {f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns"}


def read_customers(spark, path, columns=None, fmt=None) -> pd.DataFrame:
    """The customer table (customer-sized: read on the driver by graphchurn's own reader, after
    Spark copied it to a local file when the path is not local).

    ``fmt`` (a :class:`graphchurn.io.readers.ReadFormat`) is the local reader's, which reads
    the table; Spark's copy of a remote CSV keeps every cell as text, with the delimiter judged
    as locally.
    """
    from dataclasses import asdict

    from graphchurn.io.readers import load_customers

    fmt = check_read_format(fmt)
    display = str(path)
    if os.path.exists(display):
        return load_customers(display, columns, **asdict(fmt))
    with _spark_errors("reading the customer table", display):
        reader = spark.read
        frame = (reader.parquet(display) if display.lower().endswith(".parquet")
                 else reader.option("header", True).option("inferSchema", False)
                 .option("sep", _csv_delimiter(spark, display)).csv(display))
        table = frame.toPandas()
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "customers.parquet")
        table.to_parquet(local, index=False)
        return load_customers(local, columns, **asdict(fmt))


def log_from_pandas(spark, interactions: pd.DataFrame, display: str = "interactions") -> SparkLog:
    """A validated pandas log (:func:`graphchurn.io.load_interactions`, coded or not) as a
    :class:`SparkLog`, for ``engine="spark"`` on a frame already in this process."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    n = len(interactions)
    if n == 0:
        raise InputError("no interactions", file=display)
    frame = pd.DataFrame({
        "src": interactions["src"].astype(str).to_numpy(object),
        "dst": interactions["dst"].astype(str).to_numpy(object),
        "timestamp": pd.to_datetime(interactions["timestamp"]).astype("datetime64[us]"),
        "duration": (interactions["duration"].astype(np.float64) if "duration" in interactions
                     else np.zeros(n))})
    schema = "src string, dst string, timestamp timestamp, duration double"
    with _spark_errors("reading the log", display):
        df = spark.createDataFrame(frame, schema).persist(StorageLevel.MEMORY_AND_DISK)
        df.agg(F.count(F.lit(1))).first()
    return SparkLog(df, n, pd.Timestamp(frame["timestamp"].min()),
                    pd.Timestamp(frame["timestamp"].max()), display)


def check_customers_match(spark, slog: SparkLog, customers: pd.DataFrame,
                          customers_path) -> None:
    """:func:`graphchurn.io.check_customers_match` on Spark: the same error when no customer id
    occurs in the log, the same warning when every churn date precedes it.

    Spark looks for one log row whose ``src`` or ``dst`` is a customer (the customer ids
    broadcast to the executors); it stops at the first, so a matching table costs a glance at
    the log's first partitions and only a wrong one a full pass.
    """
    from pyspark.sql import functions as F

    from graphchurn.io.readers import report_customers_match

    ids = customers["customer_id"].astype(str).unique()
    seen = True
    if len(ids):
        table = F.broadcast(spark.createDataFrame(pd.DataFrame({"id": ids}), "id string"))
        ends = (slog.df.select(F.col("src").alias("id"))
                .unionByName(slog.df.select(F.col("dst").alias("id"))))
        with _spark_errors("checking the customer table", str(customers_path)):
            seen = len(ends.join(table, "id", "left_semi").limit(1).take(1)) > 0
    churn = customers["churn_date"].dropna() if "churn_date" in customers else pd.Series([])
    report_customers_match(len(customers), seen, churn, slog.first, customers_path)


def read_inputs(spark, interactions, customers=None, *, columns=None, customer_columns=None,
                fmt=None):
    """The log and customer table of an analysis on Spark.

    Parameters
    ----------
    interactions : str, os.PathLike, SparkLog or pandas.DataFrame
        A path is read and validated by :func:`read_interactions`; a pandas log (validated)
        goes to Spark by :func:`log_from_pandas`.
    customers : str, os.PathLike, pandas.DataFrame or None
        A path is read by :func:`read_customers` and checked against the log by
        :func:`check_customers_match` (as the command line checks the local engine's inputs).
    columns, customer_columns : str or dict, optional
        Column mappings for paths.
    fmt : ReadFormat or dict, optional
        How the files write numbers and dates (:func:`check_read_format`), for paths.

    Returns
    -------
    (SparkLog, pandas.DataFrame or None)
    """
    if isinstance(interactions, SparkLog):
        slog = interactions
    elif isinstance(interactions, pd.DataFrame):
        slog = log_from_pandas(spark, interactions)
    else:
        slog = read_interactions(spark, os.fspath(interactions), columns, fmt)
    if isinstance(customers, (str, os.PathLike)):
        path = os.fspath(customers)
        customers = read_customers(spark, path, customer_columns, fmt)
        check_customers_match(spark, slog, customers, path)
    return slog, customers


def stray_on_spark(slog: SparkLog, min_gap_days: int = 90,
                   max_share: float = 0.02) -> tuple[dict, dict]:
    """:func:`graphchurn.pipeline.stray_timestamps` of a log on Spark (the same answer and
    warnings as the local engine's).

    The local function reads only the ``m + 1`` earliest and latest timestamps
    (:func:`~graphchurn.pipeline.stray_edge_rows`), so Spark counts the rows per day, finds
    the days that hold those ends, and brings back those days' rows per second (count, first
    and last time): seconds, not rows, so the driver gets at most a day's seconds beyond
    the ``m + 1`` rows at each end. Within a second the rows are spread from its first to its
    last time, which moves no gap between seconds; only gaps between seconds can be the
    90-day gaps this looks for.
    """
    from pyspark.sql import functions as F

    n = slog.n_rows
    m = stray_edge_rows(n, max_share)
    if m == 0:
        return {}, {}
    second = F.floor(F.unix_micros("timestamp") / F.lit(1_000_000)).cast("long")
    day = F.floor(second / F.lit(86_400)).cast("long")
    with _spark_errors("looking for stray timestamps"):
        days = (slog.df.groupBy(day.alias("d")).count().toPandas()
                .sort_values("d").reset_index(drop=True))
    total = days["count"].to_numpy().cumsum()
    d_lo = int(days["d"].iloc[int(np.searchsorted(total, m + 1))])
    from_end = days["count"].to_numpy()[::-1].cumsum()
    d_hi = int(days["d"].iloc[len(days) - 1 - int(np.searchsorted(from_end, m + 1))])
    with _spark_errors("looking for stray timestamps"):
        edges = (slog.df.where((day <= d_lo) | (day >= d_hi))
                 .groupBy(second.alias("s"))
                 .agg(F.count(F.lit(1)).alias("n"), F.min("timestamp").alias("first"),
                      F.max("timestamp").alias("last"))
                 .toPandas().sort_values("s").reset_index(drop=True))
    edges["day"] = edges["s"] // 86_400

    def spread(part):
        # Each second as its rows: first time, then (n - 1) more at its last time.
        counts = part["n"].to_numpy(np.int64)
        values = np.repeat(pd.to_datetime(part["first"]).to_numpy("datetime64[ns]"), counts)
        ends = np.cumsum(counts) - 1
        values[ends[counts > 1]] = pd.to_datetime(
            part["last"]).to_numpy("datetime64[ns]")[counts > 1]
        return values

    head = spread(_first_rows(edges[edges["day"] <= d_lo], m + 1))[:m + 1]
    tail = spread(_first_rows(edges[edges["day"] >= d_hi].iloc[::-1], m + 1).iloc[::-1])
    return stray_from_ends(head, tail[len(tail) - (m + 1):], n, min_gap_days)


def _first_rows(seconds: pd.DataFrame, rows: int) -> pd.DataFrame:
    """The leading seconds of ``seconds`` (in its order) that hold the first ``rows`` rows."""
    total = seconds["n"].to_numpy().cumsum()
    return seconds.iloc[:int(np.searchsorted(total, rows)) + 1]


# --------------------------------------------------------------------------- aggregation
def _in_window(df, start, end):
    from pyspark.sql import functions as F

    cond = F.col("timestamp") < F.lit(pd.Timestamp(end).to_pydatetime())
    if start is not None:
        cond &= F.col("timestamp") >= F.lit(pd.Timestamp(start).to_pydatetime())
    return df.where(cond)


def window_frames(spark, slog: SparkLog, *, start, end, tie_start, departed):
    """The tie table and the raw activity table of one window, as Spark DataFrames (lazy).

    :func:`cutoff_aggregates` collects them to the driver; :func:`graphchurn.engines.
    spark_features.cutoff_features` keeps them on the executors.

    Parameters
    ----------
    spark : SparkSession
    slog : SparkLog
    start, end : Timestamp
        The graph's window ``[start, end)``.
    tie_start : Timestamp
        Start of the longer look-back of tie strengths (``weight_since``).
    departed : index of str
        Ids known to have left by ``end`` (their traffic is left out of the fade-out evidence).

    Returns
    -------
    ties : pyspark.sql.DataFrame
        One row per pair: ``u < v`` (identifiers), ``weight``, ``count``, ``duration`` and
        ``weight_since``.
    activity : pyspark.sql.DataFrame
        Column ``id`` and :data:`graphchurn.graph.aggregates.RAW_ACTIVITY_COLUMNS`. The
        network's daily volume, which the fade-out evidence reads, is computed here (a small
        collection: one number a day).
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    end = pd.Timestamp(end)
    start = pd.Timestamp(start)
    end_us = int(end.value // 1000)
    first = min(start, pd.Timestamp(tie_start))
    rows = _in_window(slog.df, first, end).select(
        "src", "dst", "duration",
        ((F.lit(end_us) - F.unix_micros("timestamp")) / F.lit(_US_PER_DAY)).alias("age"),
        (F.col("timestamp") >= F.lit(start.to_pydatetime())).alias("in_win"),
        (F.lit(1.0) + F.log1p(F.col("duration") / 60.0)).alias("w"))

    ties = (rows.groupBy(F.least("src", "dst").alias("u"), F.greatest("src", "dst").alias("v"))
            .agg(F.sum(F.when(F.col("in_win"), F.col("w"))).alias("weight"),
                 F.sum(F.when(F.col("in_win"), 1).otherwise(0)).alias("count"),
                 F.sum(F.when(F.col("in_win"), F.col("duration"))).alias("duration"),
                 F.sum("w").alias("weight_since"))
            .where(F.col("count") > 0))
    win = rows.where(F.col("in_win"))
    gone = spark.createDataFrame([(str(x),) for x in departed] or [("\x00none",)],
                                 "gid string").distinct()
    win = (win.join(F.broadcast(gone.withColumnRenamed("gid", "src_gone")),
                    F.col("src") == F.col("src_gone"), "left")
              .join(F.broadcast(gone.withColumnRenamed("gid", "dst_gone")),
                    F.col("dst") == F.col("dst_gone"), "left")
              .withColumn("present", F.col("src_gone").isNull() & F.col("dst_gone").isNull())
              .withColumn("day", F.floor("age").cast("int")))

    def count(cond):
        return F.sum(F.when(cond, 1).otherwise(0))

    out = (win.groupBy(F.col("src").alias("id"))
           .agg(F.count(F.lit(1)).alias("n_out"), F.sum("duration").alias("duration_out"),
                F.min("age").alias("min_age_out"),
                F.countDistinct("day").alias("active_days_out"),
                count(F.col("age") < 14).alias("out_recent"),
                count((F.col("age") >= 14) & (F.col("age") < 28)).alias("out_previous"),
                count(F.col("age") < 7).alias("out_last_week"),
                count(F.col("present")).alias("present_out")))
    inc = (win.groupBy(F.col("dst").alias("id"))
           .agg(F.count(F.lit(1)).alias("n_in"), F.sum("duration").alias("duration_in"),
                F.min("age").alias("min_age_in"),
                count(F.col("age") < 7).alias("in_last_week"),
                count(F.col("present")).alias("present_in")))
    activity = (out.join(inc, "id", "full").fillna(0, subset=[
        "n_out", "n_in", "duration_out", "duration_in", "active_days_out", "out_recent",
        "out_previous", "out_last_week", "in_last_week", "present_out", "present_in"])
        .withColumn("min_age_any", F.least("min_age_out", "min_age_in"))
        .withColumn("present_total", F.col("present_out") + F.col("present_in")))

    window_days = max((end - start) / pd.Timedelta(days=1), 1.0)
    n_window_days = max(int(np.ceil(window_days)), 1)
    with _spark_errors("aggregating activity"):
        volume_rows = (win.where("present")
                       .groupBy(F.least(F.col("day"), F.lit(n_window_days - 1)).alias("d"))
                       .count().collect())
    day_volume = np.zeros(n_window_days)
    for r in volume_rows:
        day_volume[int(r["d"])] = r["count"]

    # Fade-out evidence on the executors: each customer's counts on each of the last weeks'
    # days (both directions, contacts still there), by graphchurn's own function.
    ends = (win.where(F.col("present") & (F.col("day") < FADE_DAYS[1]))
            .select(F.explode(F.array("src", "dst")).alias("id"), "day")
            .groupBy("id", "day").count()
            .groupBy("id").agg(F.collect_list("day").alias("days"),
                               F.collect_list("count").alias("counts")))
    per_vertex = (activity.where(F.col("present_total") > 0).select("id", "present_total")
                  .join(ends, "id", "left"))

    def fade(batches):
        for b in batches:
            n = len(b)
            if n == 0:
                continue
            days = [np.asarray(d if d is not None else [], dtype=np.int64) for d in b["days"]]
            counts = [np.asarray(c if c is not None else [], dtype=np.int64)
                      for c in b["counts"]]
            lengths = np.array([len(d) for d in days])
            vertex = np.repeat(np.repeat(np.arange(n), lengths),
                               np.concatenate(counts) if len(counts) else [])
            day = np.repeat(np.concatenate(days) if len(days) else np.zeros(0, np.int64),
                            np.concatenate(counts) if len(counts) else [])
            evidence = fade_out_evidence(vertex.astype(np.int32), day.astype(np.int32), n,
                                         window_days,
                                         total=b["present_total"].to_numpy(dtype=np.float64),
                                         day_volume=day_volume)
            yield pd.DataFrame({"id": b["id"].to_numpy(), "fade_out_evidence": evidence})

    schema = T.StructType([T.StructField("id", T.StringType()),
                           T.StructField("fade_out_evidence", T.DoubleType())])
    faded = per_vertex.mapInPandas(fade, schema)
    activity = activity.join(faded, "id", "left").fillna(0.0, subset=["fade_out_evidence"])
    return ties, activity


def cutoff_aggregates(spark, slog: SparkLog, *, start, end, tie_start, departed):
    """The tie table and the raw activity table of one window (:func:`window_frames`),
    collected to the driver.

    Parameters
    ----------
    spark, slog, start, end, tie_start, departed
        As in :func:`window_frames`.

    Returns
    -------
    ties : pandas.DataFrame
        Numbers only, as :func:`graph_from_aggregates` reads them: ``u``, ``v`` (int32
        positions in ``tie_ids``), ``weight``, ``count``, ``duration`` and ``weight_since``.
    tie_ids : numpy array of str
        The identifiers of the ties' ends, sorted.
    activity : pandas.DataFrame
        The raw activity per identifier (:data:`graphchurn.graph.aggregates.
        RAW_ACTIVITY_COLUMNS`), indexed by id.
    """
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    end = pd.Timestamp(end)
    ties, activity = window_frames(spark, slog, start=start, end=end, tie_start=tie_start,
                                   departed=departed)
    # Kept between the count (the size guard below) and the collection: otherwise the
    # aggregation, a pass over the window and a shuffle, would run twice.
    ties = ties.persist(StorageLevel.MEMORY_AND_DISK)
    with _spark_errors("aggregating ties"):
        n_ties = ties.count()
    if n_ties > MAX_DRIVER_TIES:
        ties.unpersist()
        raise InputError(f"the window before {end.date()} has {n_ties} ties, more than the "
                         f"{MAX_DRIVER_TIES} the driver is allowed (an analysis needs about "
                         f"{DRIVER_BYTES_PER_TIE} bytes a tie); raise GRAPHCHURN_SPARK_MAX_TIES "
                         "with a larger driver, or --max-degree / a shorter --window",
                         parameter="window_days")
    # The ends become integer codes on the executors, so that the driver receives numbers
    # (the tie table is its largest input) and each identifier once, in the dictionary. The
    # codes are ranks in identifier order: deterministic however Spark recomputes them.
    ends = (ties.select(F.col("u").alias("id")).unionByName(ties.select(F.col("v").alias("id")))
            .distinct())
    dictionary = ends.withColumn(
        "code", (F.row_number().over(Window.orderBy("id")) - 1).cast("int")
    ).persist(StorageLevel.MEMORY_AND_DISK)
    coded = (ties.join(dictionary.select(F.col("id").alias("u"), F.col("code").alias("cu")), "u")
             .join(dictionary.select(F.col("id").alias("v"), F.col("code").alias("cv")), "v")
             .select(F.col("cu").alias("u"), F.col("cv").alias("v"), "weight", "count",
                     "duration", "weight_since"))
    with _spark_errors("aggregating ties"):
        tie_ids = dictionary.orderBy("code").select("id").toPandas()["id"].to_numpy(object)
        ties_pd = coded.toPandas()
    dictionary.unpersist()
    ties.unpersist()
    ties_pd["u"] = ties_pd["u"].astype(np.int32)
    ties_pd["v"] = ties_pd["v"].astype(np.int32)

    with _spark_errors("aggregating activity"):
        activity_pd = activity.toPandas().set_index("id")
    return ties_pd, tie_ids, activity_pd


def label_rows(spark, slog: SparkLog, cutoffs, as_of) -> pd.DataFrame:
    """The rows of the log that labels, departures and active populations read, for these
    cut-offs: per sender its last outgoing interaction before each cut-off and its first at
    or after it (before ``as_of``), plus the log's first and last row.

    Every row is a real row of the log (src and time), and for each of the ``cutoffs`` a
    sender's last time before it and first time after it are the log's, so
    :func:`graphchurn.windows.known_departures`, :func:`~graphchurn.windows.active_at` and
    :func:`~graphchurn.windows.churn_labels` answer on it as on the whole log (they read
    nothing else of it). Customer-sized: at most ``2 x cut-offs + 2`` rows per sender.
    """
    from pyspark.sql import functions as F

    df = _in_window(slog.df, None, as_of)
    aggs = []
    for i, c in enumerate(cutoffs):
        c = F.lit(pd.Timestamp(c).to_pydatetime())
        aggs.append(F.max(F.when(F.col("timestamp") < c, F.col("timestamp"))).alias(f"b{i}"))
        aggs.append(F.min(F.when(F.col("timestamp") >= c, F.col("timestamp"))).alias(f"a{i}"))
    with _spark_errors("labelling"):
        wide = df.groupBy("src").agg(*aggs)
        long = wide.select("src", F.explode(F.array(*[F.col(c) for c in wide.columns[1:]]))
                           .alias("timestamp")).where(F.col("timestamp").isNotNull()).distinct()
        ends = (df.orderBy("timestamp").limit(1).select("src", "timestamp")
                .unionByName(df.orderBy(F.col("timestamp").desc()).limit(1)
                             .select("src", "timestamp")))
        rows = long.unionByName(ends).distinct().toPandas()
    rows["timestamp"] = pd.to_datetime(rows["timestamp"]).astype("datetime64[ns]")
    rows["src"] = rows["src"].astype(str)
    rows["dst"] = rows["src"]
    rows["duration"] = 0.0
    rows["kind"] = "call"
    return rows.sort_values(["timestamp", "src"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- scoring
def score_with_spark(spark, model, X: pd.DataFrame | object, *, id_column="customer_id"):
    """Churn probability of every row of a feature table, computed on the executors.

    Parameters
    ----------
    model : ChurnModel
        A fitted model (shipped to the executors with the task).
    X : pandas.DataFrame or pyspark DataFrame
        Features indexed by customer id (pandas), or a Spark DataFrame with an ``id_column``
        and the model's feature columns (a table that does not fit the driver).

    Returns
    -------
    pandas Series of probabilities in the order of ``X`` (pandas input), or a Spark
    DataFrame (``id_column``, ``churn_probability``) for a Spark input.
    """
    from pyspark.sql import types as T

    local = isinstance(X, pd.DataFrame)
    dtypes = None
    if local:
        dtypes = X.dtypes.to_dict()
        frame = X.copy()
        frame.index = frame.index.astype(str)
        frame = frame.rename_axis(id_column).reset_index()
        for name, dtype in dtypes.items():  # Arrow-friendly transport; restored on the way
            if isinstance(dtype, pd.CategoricalDtype) or dtype == object:
                frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
                frame[name] = frame[name].map(lambda v: None if v is None else str(v))
        with _spark_errors("scoring"):
            sdf = spark.createDataFrame(frame)
    else:
        sdf = X

    def predict(batches):
        for b in batches:
            ids = b[id_column].to_numpy()
            feats = b.drop(columns=[id_column])
            if dtypes is not None:
                for name, dtype in dtypes.items():
                    if isinstance(dtype, pd.CategoricalDtype) or dtype == object:
                        feats[name] = feats[name].astype(dtype)
                    else:
                        feats[name] = feats[name].astype(dtype)
            feats.index = ids
            p = model.predict_proba(feats)[:, 1] if len(feats) else np.zeros(0)
            yield pd.DataFrame({id_column: ids, "churn_probability": p})

    schema = T.StructType([T.StructField(id_column, T.StringType()),
                           T.StructField("churn_probability", T.DoubleType())])
    scored = sdf.mapInPandas(predict, schema)
    if not local:
        return scored
    with _spark_errors("scoring"):
        out = scored.toPandas().set_index(id_column)["churn_probability"]
    return out.reindex(X.index.astype(str))


# --------------------------------------------------------------------------- pipeline
class SparkPipeline(ChurnPipeline):
    """:class:`ChurnPipeline` whose row-proportional stages run on Spark.

    ``ChurnPipeline(AnalyzeConfig(engine="spark"))`` and
    ``graphchurn.pipeline.analyze(..., config=AnalyzeConfig(engine="spark"))`` make one.
    ``prepare`` (and so ``fit``) reads its inputs with :func:`read_inputs` (paths Spark reads,
    a :class:`SparkLog` or a validated pandas log). Labels, departures and the active
    population come from :func:`label_rows`, stray timestamps from :func:`stray_on_spark`,
    each cut-off's graph and activity from :func:`cutoff_aggregates`, and the scoring from
    :func:`score_with_spark`; everything else is the local pipeline's code.

    The driver keeps one tie graph: the scoring cut-off's. Each training cut-off's graph and
    per-vertex results are released as soon as its features are built
    (``keep_training_graphs=True`` keeps them, for :func:`graphchurn.pipeline.
    contagion_history`).

    Parameters
    ----------
    config : AnalyzeConfig, optional
    spark : SparkSession, optional
        Default: :func:`spark_session` with ``master`` (default :func:`default_master`) and
        ``conf``.
    master : str, optional
    conf : dict, optional
        More Spark settings (``spark.driver.memory``...), for a session started here.
    columns, customer_columns : str or dict, optional
        Column mappings of the log and the customer table when given paths.
    read_format : ReadFormat or dict, optional
        How files given as paths write numbers and dates (the local reader's options,
        :func:`graphchurn.io.readers.read_format`): a decimal comma and the epoch unit are
        read; day-first dates, a date layout and encodings other than UTF-8 are refused in one
        line (:func:`check_read_format`), before Spark starts.
    keep_training_graphs : bool, default False
        See :class:`ChurnPipeline`.
    features_on : {"driver", "executors"}, default "driver"
        Where the training cut-offs' features are computed. ``"driver"``: each cut-off's tie
        table comes to the driver, which builds its graph (one at a time) and runs
        graphchurn's local algorithms. ``"executors"``: the training cut-offs' graphs never
        reach the driver (:func:`graphchurn.engines.spark_features.cutoff_features`; the
        driver receives their feature tables); ``influencer_score`` then ranks the influence
        spread within two hops, computed without sampling, at every cut-off (the scoring one
        included, which the driver still builds for the groups, influencers and what-if).
    """

    #: Values of ``features_on``.
    FEATURES_ON = ("driver", "executors")

    # Every cut-off's aggregation goes through this driver's one Spark session (a forked
    # worker would share its gateway socket); Spark spreads the work itself.
    forks_workers = False

    def __init__(self, config: AnalyzeConfig | None = None, *, spark=None, master=None,
                 conf: dict | None = None, columns=None, customer_columns=None,
                 read_format=None, keep_training_graphs=False, features_on="driver"):
        super().__init__(config, keep_training_graphs=keep_training_graphs)
        self.spark, self.master, self.conf = spark, master, conf
        self.columns, self.customer_columns = columns, customer_columns
        self.read_format = read_format
        self.features_on = features_on

    def prepare(self, interactions, customers=None):
        """Read the inputs on Spark, then :meth:`ChurnPipeline.prepare` on Spark's aggregates.

        Parameters
        ----------
        interactions : str, os.PathLike, SparkLog or pandas.DataFrame
            A path Spark reads (validated there), a read log, or a validated pandas log.
        customers : str, os.PathLike, pandas.DataFrame or None
            A path is read and checked against the log (:func:`check_customers_match`).

        Returns
        -------
        self
        """
        cfg = self.config or AnalyzeConfig()
        if self.features_on not in self.FEATURES_ON:
            raise InputError(f"features_on must be one of {', '.join(self.FEATURES_ON)}, not "
                             f"{self.features_on!r}", parameter="features_on")
        if self.features_on == "executors" and cfg.influence_draws > 1:
            raise InputError("features_on='executors' computes the influence within two hops, "
                             "without sampling: there are no draws to average "
                             "(influence_draws needs features_on='driver')",
                             parameter="influence_draws")
        if self.features_on == "executors" and self.keep_training_graphs:
            raise InputError("features_on='executors' builds no training graph on the driver "
                             "to keep: keep_training_graphs needs features_on='driver'",
                             parameter="features_on")
        fmt = check_read_format(self.read_format)  # an option Spark cannot follow: no JVM
        if self.spark is None:
            self.spark = spark_session(self.master or default_master(), self.conf)
        self.spark_timings_: dict[str, float] = {}
        # Not announced: a bad input prints its one line only (as the local command line).
        slog, customers = self._timed(
            "read and validate (spark)", read_inputs, self.spark, interactions, customers,
            columns=self.columns, customer_columns=self.customer_columns, fmt=fmt,
            announce=False)
        log.info("read %d interactions on Spark%s", slog.n_rows,
                 f" and {len(customers)} customers" if customers is not None else "")
        self._slog, self._stray_found = slog, None
        as_of = (pd.Timestamp(cfg.as_of) if cfg.as_of is not None
                 else slog.last.normalize() + pd.Timedelta(days=1))
        first = pd.DataFrame({"timestamp": [slog.first]})
        cutoffs = [as_of] + labelled_cutoffs(first, as_of, cfg)
        rows = self._timed("label rows (spark)", label_rows, self.spark, slog, cutoffs, as_of)
        return super().prepare(rows, customers)

    def fit(self, interactions, customers=None):
        """:meth:`prepare` (the inputs read on Spark), the backtest and the scoring model.

        Parameters
        ----------
        interactions : str, os.PathLike, SparkLog or pandas.DataFrame
            As in :meth:`prepare`.
        customers : str, os.PathLike, pandas.DataFrame or None
            As in :meth:`prepare`.

        Returns
        -------
        self
        """
        return super().fit(interactions, customers)

    def _timed(self, name, fn, *args, announce=True, **kwargs):
        # A progress line before and after (as the pipeline's stages), the time in metrics.
        if announce:
            log.info("%s ...", name)
        began = time.perf_counter()
        result = fn(*args, **kwargs)
        self.spark_timings_[name] = round(time.perf_counter() - began, 3)
        log.info("%s done in %.1f s", name, self.spark_timings_[name])
        return result

    def _stray(self, interactions) -> tuple[dict, dict]:
        # ``interactions`` are the label rows; the stray rows are counted on the whole log.
        if self._stray_found is None:
            self._stray_found = self._timed("stray timestamps (spark)", stray_on_spark,
                                            self._slog)
        return self._stray_found

    def _cutoff_features(self, interactions, customers, cutoffs, kwargs, **options):
        # The first is the scoring cut-off: the one whose graph the driver builds in any case.
        self._scoring_cutoff = pd.Timestamp(cutoffs[0])
        return super()._cutoff_features(interactions, customers, cutoffs, kwargs, **options)

    def _features(self, interactions, customers, cutoff, *, definition, horizon_days=30,
                  active_window_days=None, window_days=90, tie_window_days=180,
                  recent_departure_days=30, community_method="leiden", resolution=1.0,
                  max_degree=None, influencer_quantile=0.95, seed=0,
                  communities=True, influence_draws=1) -> FeatureSet:
        # The log part of build_features, on the label rows and on Spark's aggregates.
        cutoff = pd.Timestamp(cutoff)
        if active_window_days is None:
            active_window_days = horizon_days
        step = _Steps(cutoff)
        past = before(interactions, cutoff)
        known = known_customers(customers, cutoff)
        with step("departures and active customers"):
            departures = known_departures(past, known, cutoff, definition, horizon_days)
            active = active_at(past, known, cutoff, definition, active_window_days)
        start = cutoff - pd.Timedelta(days=window_days)
        if self._slog.first < cutoff and self._slog.first.normalize() > start:
            start = self._slog.first.normalize()
        covered_share = (cutoff - start) / pd.Timedelta(days=window_days)
        on_executors = self.features_on == "executors"
        tie_start = cutoff - pd.Timedelta(days=max(tie_window_days, window_days))
        if on_executors and cutoff != self._scoring_cutoff and not communities:
            return self._executor_features(customers, cutoff, step, departures=departures,
                                           active=active, start=start, tie_start=tie_start,
                                           covered_share=covered_share,
                                           recent_departure_days=recent_departure_days,
                                           influencer_quantile=influencer_quantile,
                                           max_degree=max_degree)
        with step("graph and activity"):
            began = time.perf_counter()
            ties, tie_ids, activity = cutoff_aggregates(
                self.spark, self._slog, start=start, end=cutoff,
                tie_start=cutoff - pd.Timedelta(days=max(tie_window_days, window_days)),
                departed=departures.index)
            self.spark_timings_[f"aggregates {cutoff.date()} (spark)"] = round(
                time.perf_counter() - began, 3)
            cg = graph_from_aggregates(ties, activity, customers=customers, start=start,
                                       end=cutoff, max_degree=max_degree, extra_vertices=active,
                                       tie_ids=tie_ids)
        with step("tie strengths"):
            tie_strength = _edge_values(cg, ties, "weight_since", tie_ids)
        # The graph holds what the algorithms read; the tables it came from go before they run.
        del ties, tie_ids, activity
        return features_on_graph(
            cg, customers, cutoff, departures=departures, active=active,
            tie_strength=tie_strength, covered_share=covered_share,
            recent_departure_days=recent_departure_days, community_method=community_method,
            resolution=resolution, influencer_quantile=influencer_quantile, seed=seed, step=step,
            communities=communities,
            influence_method="khop" if on_executors else "rr", influence_hops=2,
            influence_draws=influence_draws)

    def _executor_features(self, customers, cutoff, step, *, departures, active, **options):
        # A training cut-off without a graph on the driver: its feature table only, as a
        # released FeatureSet (what ChurnPipeline keeps of a training cut-off anyway).
        from graphchurn.engines.spark_features import (FEATURE_COLUMNS, cutoff_features,
                                                       feature_table)

        began = time.perf_counter()
        with step("features on the executors"):
            vertex = cutoff_features(self.spark, self._slog, cutoff, departures=departures,
                                     active=active, customers=customers, influence_hops=2,
                                     step=step, **options)
            table = feature_table(vertex, active, customers, cutoff)
            vertex.unpersist()
        self.spark_timings_[f"features {cutoff.date()} (spark executors)"] = round(
            time.perf_counter() - began, 3)
        attributes = [c for c in table.columns if c not in set(FEATURE_COLUMNS)]
        fs = FeatureSet(cutoff=cutoff, table=table, graph=None, membership=None,
                        influence=None, roles=None, departed_recent=None,
                        departures=departures, vertex_features=None,
                        attribute_columns=attributes, timings=step.timings,
                        covered_share=float(min(1.0, options["covered_share"])))
        fs.window_start = options["start"]
        fs.release_graph()
        return fs

    def _score(self, X, model=None):
        # On the executors, once per model (the local engine's driver-side scoring is not run).
        began = time.perf_counter()
        probability = score_with_spark(self.spark, self.model_ if model is None else model,
                                       X).to_numpy()
        self.spark_timings_["scoring (spark mapInPandas)"] = round(
            time.perf_counter() - began, 3)
        return probability

    def _analysis(self, cfg):
        analysis = super()._analysis(cfg)
        analysis.metrics["engine"] = "spark"
        analysis.metrics["spark_timings_s"] = dict(self.spark_timings_)
        return analysis


def _edge_values(cg, ties: pd.DataFrame, column: str, tie_ids=None) -> np.ndarray:
    """``ties[column]`` in the graph's edge order (``tie_ids``: what integer ends point into)."""
    from graphchurn.graph.aggregates import tie_endpoints
    from graphchurn.graph.arrays import edge_list

    edges = edge_list(cg.graph)
    if len(edges) == 0:
        return np.zeros(0)
    n = cg.graph.vcount()
    u, v = tie_endpoints(ties, pd.Index(cg.names), tie_ids)
    key = np.minimum(u, v) * n + np.maximum(u, v)
    values = pd.Series(ties[column].to_numpy(dtype=np.float64), index=key)
    edge_key = np.minimum(edges[:, 0], edges[:, 1]) * n + np.maximum(edges[:, 0], edges[:, 1])
    return values.reindex(edge_key).fillna(0.0).to_numpy()


def analyze_spark(interactions, customers=None, config: AnalyzeConfig | None = None, *,
                  spark=None, master: str | None = None, conf: dict | None = None,
                  columns=None, customer_columns=None):
    """:func:`graphchurn.pipeline.analyze` on the Spark engine, whatever ``config.engine`` says.

    Parameters
    ----------
    interactions : str, SparkLog or pandas.DataFrame
        A path Spark reads (CSV, CSV.gz, Parquet; local, HDFS, S3...), a read log, or a
        validated pandas log.
    customers : str, pandas.DataFrame or None
        The customer table (a path is read by :func:`read_customers` and checked against the
        log).
    config : AnalyzeConfig
    spark : SparkSession, optional
        Default: :func:`spark_session` with ``master`` and ``conf``.
    columns, customer_columns : str or dict, optional
        Column mappings for paths.

    Returns
    -------
    Analysis
    """
    from dataclasses import replace

    config = replace(config or AnalyzeConfig(), engine="spark")
    return SparkPipeline(config, spark=spark, master=master, conf=conf, columns=columns,
                         customer_columns=customer_columns).fit(interactions, customers).analysis_
