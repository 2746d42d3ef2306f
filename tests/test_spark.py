"""The Spark engine (--engine spark) against the local engine, in Spark's local mode.

Few and small: one Spark session for the module (a session takes seconds to start), one
generated world analysed by both engines through the command line, and the bad-input contract.
"""

import json
import subprocess
import sys

import pandas as pd
import pytest

from spark_guard import require_spark  # noqa: E402

require_spark()

from scipy.stats import spearmanr  # noqa: E402
from sklearn.metrics import normalized_mutual_info_score  # noqa: E402

from graphchurn.app.cli import main  # noqa: E402
from graphchurn.engines.spark import read_interactions, spark_session  # noqa: E402
from graphchurn.errors import InputError  # noqa: E402
from graphchurn.io.readers import load_interactions  # noqa: E402
from graphchurn.synth.world import generate_world, write_world  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    session = spark_session("local[2]", {"spark.driver.memory": "1g"})
    yield session
    session.stop()


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("spark_world")
    write_world(generate_world(n_customers=1500, days=120, seed=0), out)
    return out


def _analyze(world_dir, out, *engine):
    code = main(["-q", "analyze", "--interactions", str(world_dir / "interactions.csv.gz"),
                 "--customers", str(world_dir / "customers.csv"), "--no-embeddings",
                 "--out", str(out), *engine])
    assert code == 0
    scores = pd.read_csv(out / "scores.csv", dtype={"customer_id": str}).set_index("customer_id")
    return scores, json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_spark_engine_agrees_with_the_local_engine(spark, world_dir, tmp_path):
    local, local_metrics = _analyze(world_dir, tmp_path / "local")
    remote, remote_metrics = _analyze(world_dir, tmp_path / "spark", "--engine", "spark",
                                      "--spark-master", "local[2]")
    for name in ["scores.csv", "groups.csv", "influencers.csv", "metrics.json", "report.html"]:
        assert (tmp_path / "spark" / name).stat().st_size > 0
    assert remote_metrics["engine"] == "spark"
    assert "scoring (spark mapInPandas)" in remote_metrics["spark_timings_s"]
    assert sorted(remote.index) == sorted(local.index)
    remote = remote.reindex(local.index)
    rho = spearmanr(local["churn_probability"], remote["churn_probability"]).correlation
    assert rho >= 0.99
    assert abs(local_metrics["roc_auc"] - remote_metrics["roc_auc"]) <= 0.01
    nmi = normalized_mutual_info_score(local["community"], remote["community"])
    assert nmi >= 0.9
    assert local_metrics["graph"]["edges"] == remote_metrics["graph"]["edges"]


@pytest.mark.parametrize("text", [
    "src,dst,timestamp,duration\na,c,2025-01-01T10:00:00,1\na,b,2025-01-02T10:00:00,-5\n",
    "src,dst,timestamp,duration\na,c,2025-01-01T10:00:00,1\na,b,yesterday,5\n",
    "src,dst,timestamp,kind\na,c,2025-01-01T10:00:00,call\na,b,2025-01-02T10:00:00,fax\n",
    "src,dst,time\na,c,2025-01-01T10:00:00\n",
    "src,dst,timestamp\na,c,2025-01-01T10:00:00\na, ,2025-01-02T10:00:00\n",
], ids=["negative duration", "bad timestamp", "unknown kind", "missing column", "empty id"])
def test_bad_input_gives_the_local_reader_s_message(spark, tmp_path, text):
    path = tmp_path / "log.csv"
    path.write_text(text)
    with pytest.raises(InputError) as local:
        load_interactions(path)
    with pytest.raises(InputError) as remote:
        read_interactions(spark, str(path))
    # The same words, file and column; Spark counts the bad rows instead of naming the first.
    assert remote.value.reason.startswith(local.value.reason)
    assert remote.value.file == local.value.file
    assert remote.value.column == local.value.column
    assert "\n" not in str(remote.value)


def test_cli_bad_input_is_one_line_without_java_trace(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("src,dst,timestamp,duration\na,b,2025-01-01T10:00:00,60\n"
                    "b,a,2025-01-02T10:00:00,-5\n")
    run = subprocess.run([sys.executable, "-m", "graphchurn", "analyze", "--engine", "spark",
                          "--spark-master", "local[1]", "--interactions", str(path),
                          "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "negative duration" in lines[0] and "log.csv" in lines[0]
    assert not (tmp_path / "out" / "scores.csv").exists()
    missing = subprocess.run([sys.executable, "-m", "graphchurn", "analyze", "--engine", "spark",
                              "--spark-master", "local[1]", "--interactions",
                              str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "out")],
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"graphchurn: error: {tmp_path / 'nope.parquet'}: file not found"]


def test_parquet_with_nanosecond_timestamps_reads_like_the_local_reader(spark, tmp_path):
    frame = pd.DataFrame({"src": ["a", "b", "c"], "dst": ["b", "c", "a"],
                          "timestamp": pd.to_datetime(["2025-01-01 10:00:00.123456",
                                                       "2025-01-02 00:00:00.000000",
                                                       "2025-01-03 23:59:59.000000"]),
                          "duration": [1.0, 0.0, 30.0]})
    path = tmp_path / "log.parquet"
    frame.to_parquet(path)
    read = read_interactions(spark, str(path))
    local = load_interactions(path)
    assert read.n_rows == len(local)
    assert (read.first, read.last) == (local["timestamp"].min(), local["timestamp"].max())


# ------------------------------------------------------------------ the library's entry
@pytest.mark.slow
def test_analyze_config_engine_spark_routes_the_library_to_spark(spark):
    from graphchurn.engines.spark import SparkPipeline
    from graphchurn.pipeline import AnalyzeConfig, ChurnPipeline, analyze

    world = generate_world(n_customers=300, days=100, seed=0)
    cfg = AnalyzeConfig(engine="spark", embeddings=False)
    assert isinstance(ChurnPipeline(cfg, spark=spark), SparkPipeline)
    assert type(ChurnPipeline(AnalyzeConfig())) is ChurnPipeline
    remote = analyze(world.interactions, world.customers, cfg, spark=spark)
    local = analyze(world.interactions, world.customers, AnalyzeConfig(embeddings=False))
    assert remote.metrics["engine"] == "spark"
    assert "label rows (spark)" in remote.metrics["spark_timings_s"]
    assert "engine" not in local.metrics
    # The same frame through both engines: the same customers, scores and backtest.
    a = local.scores.set_index("customer_id")["churn_probability"]
    b = remote.scores.set_index("customer_id")["churn_probability"]
    assert sorted(a.index) == sorted(b.index)
    assert (a - b.reindex(a.index)).abs().max() < 1e-9
    assert remote.metrics["roc_auc"] == pytest.approx(local.metrics["roc_auc"], abs=1e-12)
    # The Spark driver keeps the scoring graph only; the training cut-offs keep their tables.
    assert remote.features.has_graph and local.training[0].has_graph
    assert not any(fs.has_graph for fs in remote.training)
    for fs_local, fs_remote in zip(local.training, remote.training):
        pd.testing.assert_frame_equal(fs_remote.table, fs_local.table, check_dtype=False,
                                      rtol=1e-9)


@pytest.mark.slow
def test_prepare_reads_paths_on_spark(spark, tmp_path):
    from graphchurn.io.readers import load_customers
    from graphchurn.pipeline import AnalyzeConfig, ChurnPipeline

    write_world(generate_world(n_customers=300, days=100, seed=0), tmp_path)
    log_path, customers_path = tmp_path / "interactions.csv.gz", tmp_path / "customers.csv"
    remote = ChurnPipeline(AnalyzeConfig(engine="spark", embeddings=False),
                           spark=spark).prepare(str(log_path), str(customers_path))
    local = ChurnPipeline(AnalyzeConfig(embeddings=False)).prepare(
        load_interactions(log_path), load_customers(customers_path))
    assert "read and validate (spark)" in remote.spark_timings_
    assert remote.as_of_ == local.as_of_ and remote.cutoffs_ == local.cutoffs_
    assert not hasattr(remote, "model_")
    for (X_remote, y_remote), (X_local, y_local) in zip(remote.labelled_, local.labelled_):
        pd.testing.assert_series_equal(y_remote, y_local)
        pd.testing.assert_frame_equal(X_remote, X_local, check_dtype=False, rtol=1e-9)


def test_unknown_engine_and_misplaced_options_are_one_line_errors():
    from graphchurn.pipeline import AnalyzeConfig, ChurnPipeline

    with pytest.raises(InputError) as info:
        ChurnPipeline(AnalyzeConfig(engine="dask"))
    assert info.value.parameter == "engine" and "'dask'" in str(info.value)
    with pytest.raises(InputError) as info:
        ChurnPipeline(AnalyzeConfig(), master="local[1]")
    assert info.value.parameter == "engine" and "master" in str(info.value)


# ------------------------------------------------------------------ input checks on Spark
def _log_file(tmp_path, rows, name="log.csv"):
    path = tmp_path / name
    path.write_text("src,dst,timestamp,duration\n" + "".join(
        f"{s},{d},{t},{u}\n" for s, d, t, u in rows))
    return path


def test_customer_table_check_matches_the_local_one(spark, tmp_path, caplog):
    from graphchurn.engines.spark import check_customers_match as check_on_spark
    from graphchurn.io.readers import check_customers_match, load_customers

    log_path = _log_file(tmp_path, [("a", "b", "2025-01-01T10:00:00", 60),
                                    ("b", "c", "2025-01-02T10:00:00", 30)])
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("customer_id\nx\ny\n")
    right = tmp_path / "right.csv"
    right.write_text("customer_id,churn_date\nc,2024-06-01\nz,2024-07-01\n")
    local_log, slog = load_interactions(log_path), read_interactions(spark, str(log_path))
    with pytest.raises(InputError) as local:
        check_customers_match(local_log, load_customers(wrong), wrong)
    with pytest.raises(InputError) as remote:
        check_on_spark(spark, slog, load_customers(wrong), wrong)
    assert str(remote.value) == str(local.value)
    assert "none of the 2 customer ids occur" in str(remote.value)
    # A matching table passes (c occurs as dst only); its churn dates, all before the log,
    # get the same warning on both engines.
    caplog.set_level("WARNING", logger="graphchurn")
    check_customers_match(local_log, load_customers(right), right)
    check_on_spark(spark, slog, load_customers(right), right)
    warned = [r.getMessage() for r in caplog.records if "churn_date" in r.getMessage()]
    assert len(warned) == 2 and warned[0] == warned[1]
    assert "every churn_date (2) is before the log's first day (2025-01-01)" in warned[0]


def test_cli_wrong_customer_table_fails_on_spark_as_locally(tmp_path):
    log_path = _log_file(tmp_path, [("a", "b", "2025-01-01T10:00:00", 60)])
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("customer_id\nx\n")
    runs = [subprocess.run([sys.executable, "-m", "graphchurn", "analyze", *engine,
                            "--interactions", str(log_path), "--customers", str(wrong),
                            "--out", str(tmp_path / f"out{i}")],
                           capture_output=True, text=True, timeout=300)
            for i, engine in enumerate([[], ["--engine", "spark", "--spark-master", "local[1]"]])]
    assert [r.returncode for r in runs] == [2, 2]
    assert runs[1].stderr.strip().splitlines() == runs[0].stderr.strip().splitlines()
    assert "none of the 1 customer ids occur" in runs[1].stderr


@pytest.mark.parametrize("stamps, expected", [
    # a 1970 epoch zero and a 2099 typo around three months of traffic (sub-second times)
    (["1970-01-01T00:00:00"] + [f"2025-0{m}-{d:02d}T{h}:00:00.{d:03d}" for m in (1, 2, 3)
                                for d in range(1, 29) for h in (10, 11)]
     + ["2099-01-01T00:00:00"] * 2,
     ({"rows": 1, "first": "1970-01-01", "bulk": "2025-01-01"},
      {"rows": 2, "last": "2099-01-01", "bulk": "2025-03-28"})),
    # no stray rows: several in one second, gaps of days
    ([f"2025-01-{d:02d}T10:00:00" for d in range(1, 29) for _ in range(3)], ({}, {})),
], ids=["stray at both ends", "none"])
def test_stray_timestamps_counted_by_spark_agree_with_the_local_ones(spark, tmp_path, stamps,
                                                                      expected):
    from graphchurn.engines.spark import stray_on_spark
    from graphchurn.pipeline import stray_timestamps

    path = _log_file(tmp_path, [(f"a{i % 5}", f"b{i % 7}", t, 1) for i, t in enumerate(stamps)])
    local = stray_timestamps(load_interactions(path))
    assert local == expected
    assert stray_on_spark(read_interactions(spark, str(path))) == local


def test_stray_rows_that_move_the_as_of_fail_on_spark_as_locally(spark, tmp_path):
    from graphchurn.pipeline import AnalyzeConfig, analyze

    rows = [(f"a{i % 9}", f"b{i % 4}", f"2025-0{1 + i // 28}-{1 + i % 28:02d}T10:00:00", 5)
            for i in range(84)] + [("a1", "b1", "2099-01-01T00:00:00", 5)]
    path = _log_file(tmp_path, rows)
    with pytest.raises(InputError) as local:
        analyze(load_interactions(path), None, AnalyzeConfig(embeddings=False))
    with pytest.raises(InputError) as remote:
        analyze(str(path), None, AnalyzeConfig(engine="spark", embeddings=False), spark=spark)
    assert str(remote.value) == str(local.value)
    assert "1 stray interaction(s) up to 2099-01-01" in str(remote.value)


def test_headerless_column_positions_read_like_the_local_reader(spark, tmp_path):
    # soc-sign-bitcoinotc.csv's layout: source,target,rating,time, no header.
    path = tmp_path / "otc.csv"
    path.write_text("6,2,4,1289241912\n6,5,2,1289241942\n1,15,1,1289243140\n")
    local = load_interactions(path, columns="src=0,dst=1,timestamp=3")
    read = read_interactions(spark, str(path), "src=0,dst=1,timestamp=3")
    rows = read.df.orderBy("timestamp").toPandas()
    assert rows["src"].tolist() == ["6", "6", "1"] == local["src"].astype(str).tolist()
    assert rows["dst"].tolist() == ["2", "5", "15"]
    assert pd.to_datetime(rows["timestamp"]).tolist() == local["timestamp"].tolist()
    # a position beyond the file's columns: the local reader's words, file and column
    with pytest.raises(InputError) as local_error:
        load_interactions(path, "src=0,dst=1,timestamp=4")
    with pytest.raises(InputError) as remote_error:
        read_interactions(spark, str(path), "src=0,dst=1,timestamp=4")
    assert str(remote_error.value) == str(local_error.value)
    # a bad value in a headerless file names the column by its position, as locally
    bad = tmp_path / "bad.csv"
    bad.write_text("6,2,4,1289241912\n6,5,2,-\n")
    with pytest.raises(InputError) as local_error:
        load_interactions(bad, "src=0,dst=1,timestamp=3")
    with pytest.raises(InputError) as remote_error:
        read_interactions(spark, str(bad), "src=0,dst=1,timestamp=3")
    assert remote_error.value.column == local_error.value.column == "3"


def test_a_coded_pandas_log_goes_to_spark_as_it_is(spark, tmp_path):
    from graphchurn.engines.spark import log_from_pandas

    path = _log_file(tmp_path, [("a", "b", "2025-01-01T10:00:00.250", 60),
                                ("b", "c", "2025-01-02T10:00:00", 0),
                                ("007", "a", "2025-01-03T23:59:59", 5)])
    local = load_interactions(path)  # identifiers coded as categories
    slog = log_from_pandas(spark, local)
    assert (slog.n_rows, slog.first, slog.last) == (3, local["timestamp"].min(),
                                                     local["timestamp"].max())
    rows = slog.df.orderBy("timestamp").toPandas()
    assert rows["src"].tolist() == ["a", "b", "007"]
    assert rows["duration"].tolist() == [60.0, 0.0, 5.0]
    assert pd.to_datetime(rows["timestamp"]).tolist() == local["timestamp"].tolist()


def test_a_java_error_becomes_one_line_naming_its_cause():
    from graphchurn.engines.spark import _spark_errors

    class Py4JJavaError(Exception):  # what py4j raises: the call first, the cause after it
        pass

    trace = ("An error occurred while calling o339.collectToPython.\n"
             ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 13 in "
             "stage 4.0 failed 1 times\n\tat org.apache.spark.scheduler.DAGScheduler.x(A.scala:1)")
    with pytest.raises(InputError) as info, _spark_errors("reading the log", "log.parquet"):
        raise Py4JJavaError(trace)
    assert str(info.value) == ("log.parquet: reading the log failed on Spark: "
                               "org.apache.spark.SparkException: Job aborted due to stage "
                               "failure: Task 13 in stage 4.0 failed 1 times")
    with pytest.raises(InputError) as info, _spark_errors("reading the log", "log.parquet"):
        raise Py4JJavaError(trace + "\nCaused by: java.lang.OutOfMemoryError: Java heap space")
    assert "ran out of memory" in str(info.value) and "spark.driver.memory" in str(info.value)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------ foreign formats


def test_semicolons_and_decimal_commas_read_like_the_local_reader(spark, tmp_path):
    from graphchurn.io.readers import read_format

    path = tmp_path / "log.csv"
    path.write_text("src;dst;timestamp;duration\na;b;2025-01-01T10:00:00;1,5\n"
                    "b;c;2025-01-02T10:00:00;1.234,5\nc;a;2025-01-03T10:00:00;\n")
    local = load_interactions(path, decimal=",")
    read = read_interactions(spark, str(path), fmt=read_format(decimal=","))
    rows = read.df.orderBy("timestamp").toPandas()
    assert rows["src"].tolist() == ["a", "b", "c"] == local["src"].astype(str).tolist()
    assert rows["duration"].tolist() == [1.5, 1234.5, 0.0] == local["duration"].tolist()
    # the delimiter is judged from the first line as locally, whatever the decimal mark
    plain = tmp_path / "plain.csv"
    plain.write_text("src\tdst\ttimestamp\na\tb\t2025-01-01T10:00:00\n")
    assert read_interactions(spark, str(plain)).n_rows == 1
    # a decimal comma without --decimal: the local reader's words (and the bad rows counted)
    with pytest.raises(InputError) as remote:
        read_interactions(spark, str(path))
    with pytest.raises(InputError) as local_error:
        load_interactions(path)
    assert remote.value.reason.startswith(local_error.value.reason)


def test_epoch_unit_reads_like_the_local_reader(spark, tmp_path):
    from graphchurn.io.readers import read_format

    path = tmp_path / "log.csv"
    path.write_text("src,dst,timestamp\na,b,1735725600250\nb,c,1735812000000\n")
    local = load_interactions(path, epoch_unit="ms")
    read = read_interactions(spark, str(path), fmt=read_format(epoch_unit="ms"))
    rows = read.df.orderBy("timestamp").toPandas()
    assert pd.to_datetime(rows["timestamp"]).tolist() == local["timestamp"].tolist()


@pytest.mark.parametrize("option, value", [("--dayfirst", None), ("--date-format", "%d/%m/%Y"),
                                           ("--encoding", "cp1252")])
def test_format_options_spark_cannot_follow_are_refused_in_one_line(tmp_path, option, value):
    path = tmp_path / "log.csv"
    path.write_text("src;dst;timestamp\na;b;31/01/2025\n")
    run = subprocess.run([sys.executable, "-m", "graphchurn", "analyze", "--engine", "spark",
                          "--interactions", str(path), option, *([value] if value else []),
                          "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"graphchurn: error: {option}: " + run.stderr.split(f"{option}: ", 1)[1].strip()]
    assert "Spark engine" in run.stderr and "local engine" in run.stderr
    assert not (tmp_path / "out").exists()
