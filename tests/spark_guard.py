"""The Spark test modules' common guard: pyspark and Java present, or the module skipped
(outside CI) or failed (in CI, where make test installs Java); and the small local session
the graph-level modules share (import ``spark`` as their fixture)."""

import os
import shutil

import pytest


def require_spark() -> None:
    """Skip the calling test module without pyspark or Java; fail it in CI without Java."""
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        if os.environ.get("CI"):
            pytest.fail("Java is missing in CI: make test should have installed it",
                        pytrace=False)
        pytest.skip("the Spark engine needs Java 17+ (Debian: default-jre-headless)",
                    allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    """A small local-mode session for one test module (two cores, 1 GB, 4 shuffle parts)."""
    from graphchurn.engines.spark import spark_session

    session = spark_session("local[2]", {"spark.driver.memory": "1g",
                                         "spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()

