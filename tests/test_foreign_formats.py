"""Foreign formats (issue 22): each format of a real-shaped file reads to exactly the frame its
plain twin reads to, and one end-to-end analyze on a foreign twin gives the same scores."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from graphchurn.errors import InputError
from graphchurn.io.readers import load_customers, load_interactions, read_format
from graphchurn.synth.world import generate_world


def real_shaped_world(n_customers=300, days=70, seed=2):
    """A generated (log, customers) pair with what makes foreign formats matter."""
    w = generate_world(n_customers=n_customers, days=days, seed=seed)
    log = w.interactions.copy()
    # Minute resolution (so '%d/%m/%Y %H:%M' can hold it), half-second durations (so a decimal
    # comma matters), and ids and a region in characters outside ASCII (so encodings matter).
    log["timestamp"] = log["timestamp"].dt.floor("min")
    log["duration"] = log["duration"] + np.where(log["duration"] > 0, 0.5, 0.0)
    rename = {c: f"{c}é" for c in pd.unique(log["src"])[:20]}
    log["src"] = log["src"].replace(rename)
    log["dst"] = log["dst"].replace(rename)
    customers = w.customers.copy()
    customers["customer_id"] = customers["customer_id"].replace(rename)
    customers["region"] = customers["region"].str.replace("North", "Nörth")
    customers["value"] = customers["value"].round(2)
    return log, customers


@pytest.fixture(scope="module")
def world():
    return real_shaped_world()


#: The loader keywords that read the foreign twin of write_twin_files (both of its files).
FOREIGN_TWIN_OPTIONS = {"decimal": ",", "dayfirst": True, "encoding": "cp1252"}


def write_twin_files(folder, log, customers):
    """Write a plain pair (plain.csv, plain_customers.csv: ISO dates, decimal points, UTF-8,
    seconds) and its foreign twin as a European export writes it (log.csv, customers.csv:
    semicolons, day-first dates, HH:MM:SS durations, decimal-comma values, Windows-1252), which
    FOREIGN_TWIN_OPTIONS read to the same frames."""
    seconds = log["duration"].round().astype(int)  # HH:MM:SS holds whole seconds
    log.assign(duration=seconds.astype(float),
               timestamp=log["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")).to_csv(
        folder / "plain.csv", index=False)
    customers.assign(churn_date=customers["churn_date"].dt.strftime("%Y-%m-%d")).to_csv(
        folder / "plain_customers.csv", index=False)
    foreign = log.assign(timestamp=log["timestamp"].dt.strftime("%d/%m/%Y %H:%M"),
                         duration=[f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
                                   for s in seconds])
    (folder / "log.csv").write_bytes(foreign.to_csv(sep=";", index=False).encode("cp1252"))
    cust = customers.assign(value=_commas(customers["value"]),
                            churn_date=customers["churn_date"].dt.strftime("%d/%m/%Y"))
    (folder / "customers.csv").write_bytes(cust.to_csv(sep=";", index=False).encode("cp1252"))


def _plain(tmp_path, log, customers):
    out = log.assign(timestamp=log["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    out.to_csv(tmp_path / "plain.csv", index=False)
    cust = customers.assign(churn_date=customers["churn_date"].dt.strftime("%Y-%m-%d"))
    cust.to_csv(tmp_path / "plain_customers.csv", index=False)
    return (load_interactions(tmp_path / "plain.csv"),
            load_customers(tmp_path / "plain_customers.csv"))


def _commas(values):
    return values.map(lambda v: "" if pd.isna(v) else repr(float(v)).replace(".", ","))


def test_decimal_comma_semicolon_files(tmp_path, world):
    log, customers = world
    plain_log, plain_customers = _plain(tmp_path, log, customers)
    foreign = log.assign(timestamp=log["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S"),
                         duration=_commas(log["duration"]))
    foreign.to_csv(tmp_path / "log.csv", sep=";", index=False)
    cust = customers.assign(value=_commas(customers["value"]),
                            churn_date=customers["churn_date"].dt.strftime("%Y-%m-%d"))
    cust.to_csv(tmp_path / "customers.csv", sep=";", index=False)
    pd.testing.assert_frame_equal(load_interactions(tmp_path / "log.csv", decimal=","), plain_log)
    pd.testing.assert_frame_equal(load_customers(tmp_path / "customers.csv", decimal=","),
                                  plain_customers)
    # thousands dots are read too
    pd.DataFrame({"customer_id": ["a"], "value": ["1.234,5"]}).to_csv(
        tmp_path / "t.csv", sep=";", index=False)
    assert load_customers(tmp_path / "t.csv", decimal=",")["value"].tolist() == [1234.5]


def test_day_first_dates(tmp_path, world):
    log, customers = world
    plain_log, plain_customers = _plain(tmp_path, log, customers)
    log.assign(timestamp=log["timestamp"].dt.strftime("%d/%m/%Y %H:%M")).to_csv(
        tmp_path / "log.csv", index=False)
    customers.assign(churn_date=customers["churn_date"].dt.strftime("%d.%m.%Y")).to_csv(
        tmp_path / "customers.csv", index=False)
    pd.testing.assert_frame_equal(load_interactions(tmp_path / "log.csv", dayfirst=True),
                                  plain_log)
    pd.testing.assert_frame_equal(load_customers(tmp_path / "customers.csv", dayfirst=True),
                                  plain_customers)
    # without the option: refused, with a hint naming it
    with pytest.raises(InputError, match="dayfirst"):
        load_interactions(tmp_path / "log.csv")


def test_explicit_date_format(tmp_path, world):
    log, customers = world
    plain_log, plain_customers = _plain(tmp_path, log, customers)
    log.assign(timestamp=log["timestamp"].dt.strftime("%d/%m/%Y %H:%M")).to_csv(
        tmp_path / "log.csv", index=False)
    customers.assign(churn_date=customers["churn_date"].dt.strftime("%d/%m/%Y")).to_csv(
        tmp_path / "customers.csv", index=False)
    pd.testing.assert_frame_equal(
        load_interactions(tmp_path / "log.csv", date_format="%d/%m/%Y %H:%M"), plain_log)
    pd.testing.assert_frame_equal(
        load_customers(tmp_path / "customers.csv", date_format="%d/%m/%Y"), plain_customers)
    with pytest.raises(InputError, match=r"row 1.*layout %d/%m/%Y %H:%M:%S"):
        load_interactions(tmp_path / "log.csv", date_format="%d/%m/%Y %H:%M:%S")


@pytest.mark.parametrize("unit, per_second", [("s", 1), ("ms", 1_000), ("us", 1_000_000)])
def test_epoch_units(tmp_path, world, unit, per_second):
    log, customers = world
    plain_log, _ = _plain(tmp_path, log, customers)
    epoch = log["timestamp"].to_numpy().astype("datetime64[s]").astype(np.int64) * per_second
    log.assign(timestamp=epoch).to_csv(tmp_path / "log.csv", index=False)
    pd.testing.assert_frame_equal(load_interactions(tmp_path / "log.csv", epoch_unit=unit),
                                  plain_log)
    if unit == "ms":  # read as seconds: out of range, and the message names the option
        with pytest.raises(InputError, match="epoch_unit ms"):
            load_interactions(tmp_path / "log.csv")


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
def test_encodings(tmp_path, world, encoding):
    log, customers = world
    plain_log, plain_customers = _plain(tmp_path, log, customers)
    (tmp_path / "plain.csv").read_text(encoding="utf-8")
    (tmp_path / "log.csv").write_bytes(
        (tmp_path / "plain.csv").read_text(encoding="utf-8").encode(encoding))
    (tmp_path / "customers.csv").write_bytes(
        (tmp_path / "plain_customers.csv").read_text(encoding="utf-8").encode(encoding))
    given = {"encoding": "cp1252"} if encoding == "cp1252" else {}  # UTF-16: by its BOM
    pd.testing.assert_frame_equal(load_interactions(tmp_path / "log.csv", **given), plain_log)
    pd.testing.assert_frame_equal(load_customers(tmp_path / "customers.csv", **given),
                                  plain_customers)
    if encoding == "cp1252":  # without the option: refused with a hint naming it
        with pytest.raises(InputError, match="encoding, e.g. cp1252"):
            load_interactions(tmp_path / "log.csv")


def test_an_encoding_must_be_a_text_encoding():
    assert read_format(encoding="Windows-1252").encoding == "cp1252"
    with pytest.raises(InputError, match="^encoding: unknown text encoding 'nope'"):
        read_format(encoding="nope")
    # base64 is in the codec registry but no file is written in it: refused here, by name,
    # not as a LookupError when the file is opened
    with pytest.raises(InputError, match="^encoding: 'base64' is a codec but not a text"):
        read_format(encoding="base64")


def test_clock_durations(tmp_path, world):
    log, customers = world
    log = log.assign(duration=log["duration"].round())  # HH:MM:SS holds whole seconds
    plain_log, _ = _plain(tmp_path, log, customers)
    seconds = log["duration"].astype(int)
    clock = [f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}" if i % 2 else
             f"{s // 60:02d}:{s % 60:02d}" for i, s in enumerate(seconds)]  # and MM:SS
    log.assign(duration=clock, timestamp=log["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")
               ).to_csv(tmp_path / "log.csv", index=False)
    pd.testing.assert_frame_equal(load_interactions(tmp_path / "log.csv"), plain_log)
    bad = pd.DataFrame({"src": ["a", "b"], "dst": ["b", "a"],
                        "timestamp": ["2025-01-01", "2025-01-02"], "duration": ["00:01:05", "9x"]})
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match=r"row 2.*HH:MM:SS"):
        load_interactions(tmp_path / "bad.csv")


@pytest.mark.slow
def test_analyze_on_a_foreign_twin_gives_the_same_scores(tmp_path, world):
    write_twin_files(tmp_path, *world)

    def run(*args):
        result = subprocess.run([sys.executable, "-m", "graphchurn", "-q", "analyze",
                                 "--no-embeddings", "--estimator", "logistic", *args],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr

    run("--interactions", str(tmp_path / "plain.csv"), "--customers",
        str(tmp_path / "plain_customers.csv"), "--out", str(tmp_path / "a"))
    run("--interactions", str(tmp_path / "log.csv"), "--customers",
        str(tmp_path / "customers.csv"), "--decimal", ",", "--dayfirst", "--encoding", "cp1252",
        "--out", str(tmp_path / "b"))
    assert (tmp_path / "a" / "scores.csv").read_bytes() == (tmp_path / "b" / "scores.csv").read_bytes()
