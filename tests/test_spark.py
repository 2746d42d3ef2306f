"""The Spark engine (--engine spark) against the local engine, in Spark's local mode.

Few and small: one Spark session for the module (a session takes seconds to start), one
generated world analysed by both engines through the command line, and the bad-input contract.
"""

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    # make test installs Java; in CI a missing one is a failure, not a skip
    if os.environ.get("CI"):
        pytest.fail("Java is missing in CI: make test should have installed it",
                    pytrace=False)
    pytest.skip("the Spark engine needs Java 17+ (Debian: default-jre-headless)",
                allow_module_level=True)

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
