"""The Spark test modules' common guard: pyspark and Java present, or the module skipped
(outside CI) or failed (in CI, where make test installs Java)."""

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
