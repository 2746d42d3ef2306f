"""Tests for graphchurn.io: every kind of bad input and the good paths, on tiny hand-made files."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graphchurn.errors import InputError
from graphchurn.io.readers import (
    check_customers_match,
    check_positive_int,
    load_customers,
    load_interactions,
    parse_column_mapping,
    parse_date_option,
    pseudonymise,
)

BITCOIN = Path("/work/shared/data/bitcoin-otc/soc-sign-bitcoinotc.csv.gz")

# Phone-number identifiers: no error message may ever contain one.
A, B, C, D = "+4915112345678", "0123456789", "0049301234567", "07700900123"
PHONES = (A, B, C, D)

GOOD_CSV = (
    "src,dst,timestamp,duration,kind\n"
    f"{A},{B},2016-01-02T10:00:00,60,call\n"
    f"{B},{C},2016-01-02T11:30:00,,SMS\n"
    f"{C},{C},2016-01-03T00:00:00,5,call\n"          # self-interaction: dropped
    f"{D},{A},2016-01-04T23:59:59,12.5,Referral\n"
)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    data = text.encode("utf-8") if isinstance(text, str) else text
    if name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def check_error(info: pytest.ExceptionInfo, *, file, row=None, column=None, words=()):
    """The error names file/row/column, is one line, and leaks no identifier."""
    err = info.value
    message = str(err)
    assert err.file == str(file)
    assert err.row == row
    assert err.column == column
    assert "\n" not in message and message.strip() == message
    assert message.startswith(str(file))
    if row is not None:
        assert f"row {row}" in message
    if column is not None:
        assert f"column '{column}'" in message
    for phone in PHONES:
        assert phone not in message
    for word in words:
        assert word in message.lower()


# --------------------------------------------------------------------------------------------
# Good paths
# --------------------------------------------------------------------------------------------


def coded(values, categories) -> pd.Categorical:
    """A column as the loader codes it: categorical over sorted text categories."""
    dtype = pd.CategoricalDtype(pd.Index(sorted(categories), dtype="str"))
    return pd.Categorical(values, dtype=dtype)


def expected_good_frame() -> pd.DataFrame:
    # src and dst share one sorted set of the file's ids; kind its distinct (lower-case) kinds
    return pd.DataFrame({
        "src": coded([A, B, D], PHONES),
        "dst": coded([B, C, A], PHONES),
        "timestamp": pd.to_datetime(["2016-01-02 10:00:00", "2016-01-02 11:30:00",
                                     "2016-01-04 23:59:59"]).as_unit("ns"),
        "duration": [60.0, 0.0, 12.5],
        "kind": coded(["call", "sms", "referral"], ["call", "sms", "referral"]),
    })


def test_csv_known_frame_and_self_interaction_dropped(tmp_path):
    log = load_interactions(write(tmp_path, "log.csv", GOOD_CSV))
    pd.testing.assert_frame_equal(log, expected_good_frame())
    assert log["timestamp"].dtype == np.dtype("datetime64[ns]")


def test_csv_gz_and_parquet_round_trip_identical(tmp_path):
    from_csv = load_interactions(write(tmp_path, "log.csv", GOOD_CSV))
    from_gz = load_interactions(write(tmp_path, "log.csv.gz", GOOD_CSV))
    raw = pd.read_csv(tmp_path / "log.csv", dtype=str, keep_default_na=False)
    pq.write_table(pa.Table.from_pandas(raw, preserve_index=False), tmp_path / "log.parquet")
    from_parquet = load_interactions(tmp_path / "log.parquet")
    pd.testing.assert_frame_equal(from_gz, from_csv)
    pd.testing.assert_frame_equal(from_parquet, from_csv)


def test_parquet_native_types_match_csv(tmp_path):
    # Typed Parquet: tz-aware timestamps (converted to naive UTC), numeric durations.
    table = pa.table({
        "src": [A, B], "dst": [B, C],
        "timestamp": pa.array(pd.to_datetime(["2016-01-02T11:00:00+01:00",
                                              "2016-01-02T11:30:00Z"], utc=True)),
        "duration": pa.array([60, None], pa.int64()),
    })
    pq.write_table(table, tmp_path / "typed.parquet")
    log = load_interactions(tmp_path / "typed.parquet")
    assert list(log["timestamp"]) == [pd.Timestamp("2016-01-02 10:00:00"),
                                      pd.Timestamp("2016-01-02 11:30:00")]
    assert list(log["duration"]) == [60.0, 0.0]
    assert list(log["kind"]) == ["call", "call"]


def _many_row_groups(tmp_path, src, dst, name="groups.parquet"):
    """A Parquet log of text ids in row groups of 3 rows."""
    n = len(src)
    table = pa.table({"src": pa.array(src, pa.large_string()), "dst": pa.array(dst, pa.string()),
                      "timestamp": pd.date_range("2016-01-01", periods=n, freq="h")})
    pq.write_table(table, tmp_path / name, row_group_size=3)
    return tmp_path / name


def test_parquet_ids_coded_in_batches_match_csv(tmp_path, monkeypatch):
    # Id columns are coded a few row groups at a time against one dictionary (_stream_ids):
    # the frame is the same as one read of the whole file, and as the CSV.
    import graphchurn.io.readers as readers

    src = [A, B, C, D, " " + A, B, "x9", C, A, "y", D, B, "x9"]
    dst = [B, C, D, A, C, "z", A + " ", D, "y", B, C, "w", A]
    path = _many_row_groups(tmp_path, src, dst)
    csv = pd.DataFrame({"src": src, "dst": dst,
                        "timestamp": pd.date_range("2016-01-01", periods=len(src), freq="h")})
    csv.to_csv(tmp_path / "same.csv", index=False)
    whole = load_interactions(path)
    monkeypatch.setattr(readers, "_ID_BATCH_ROWS", 4)
    batched = load_interactions(path)
    pd.testing.assert_frame_equal(batched, whole)
    pd.testing.assert_frame_equal(batched, load_interactions(tmp_path / "same.csv"))
    assert batched["src"].tolist()[4] == A and batched["dst"].tolist()[6] == A


@pytest.mark.parametrize("column, bad, words", [
    ("dst", A + "\t", ("control character",)),
    ("src", "", ("empty identifier",)),
    ("dst", None, ("empty identifier",)),
    ("src", "9" * 300, ("longer than",)),
])
def test_parquet_bad_id_in_a_later_batch_names_its_row(tmp_path, monkeypatch, column, bad,
                                                       words):
    import graphchurn.io.readers as readers

    src, dst = [A, B, C, D, B, C, A, B], [B, C, D, A, C, D, B, A]
    (src if column == "src" else dst)[6] = bad
    path = _many_row_groups(tmp_path, src, dst)
    monkeypatch.setattr(readers, "_ID_BATCH_ROWS", 2)
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, row=7, column=column, words=words)


def test_parquet_bad_id_named_in_the_column_it_occurs_in(tmp_path):
    # One dictionary serves both columns: a bad id only in dst is dst's error, at its row,
    # even though src is checked first.
    src, dst = [A, B, C, D], [B, C, A + "\r", A]
    path = _many_row_groups(tmp_path, src, dst)
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, row=3, column="dst", words=("control character",))


def test_parquet_detected_by_magic_bytes_whatever_the_name(tmp_path):
    raw = pd.read_csv(write(tmp_path, "log.csv", GOOD_CSV), dtype=str, keep_default_na=False)
    pq.write_table(pa.Table.from_pandas(raw, preserve_index=False), tmp_path / "export.dat")
    pd.testing.assert_frame_equal(load_interactions(tmp_path / "export.dat"),
                                  expected_good_frame())


def test_iso_and_epoch_give_same_instants(tmp_path):
    iso = write(tmp_path, "iso.csv", "src,dst,timestamp\n1,2,2010-11-08T18:45:12\n"
                "2,3,2016-01-25T01:12:04\n3,4,2016-01-25\n")
    epoch = write(tmp_path, "epoch.csv", "src,dst,timestamp\n1,2,1289241912\n"
                  "2,3,1453684324\n3,4,1453680000\n")
    # Offsets and Z are converted to UTC; naive text is taken as UTC.
    zoned = write(tmp_path, "zoned.csv", "src,dst,timestamp\n1,2,2010-11-08T19:45:12+01:00\n"
                  "2,3,2016-01-25T01:12:04Z\n3,4,2016-01-24T19:00:00-05:00\n")
    a, b, c = (load_interactions(p)["timestamp"] for p in (iso, epoch, zoned))
    expected = pd.Series(pd.to_datetime(["2010-11-08 18:45:12", "2016-01-25 01:12:04",
                                         "2016-01-25 00:00:00"]).as_unit("ns"),
                         name="timestamp")
    pd.testing.assert_series_equal(a, expected)
    pd.testing.assert_series_equal(b, expected)
    pd.testing.assert_series_equal(c, expected)


def test_mixed_zones_and_padded_values(tmp_path):
    # Naive and zoned ISO in one column; blanks around numbers and timestamps are trimmed.
    iso = write(tmp_path, "mixed.csv", "src,dst,timestamp,duration\n"
                "1,2,2016-01-02T10:00:00, 60 \n2,3,2016-01-02T12:00:00+02:00,7\n")
    log = load_interactions(iso)
    assert list(log["timestamp"]) == [pd.Timestamp("2016-01-02 10:00:00")] * 2
    assert list(log["duration"]) == [60.0, 7.0]
    epoch = write(tmp_path, "padded.csv", "src,dst,timestamp\n1,2, 1289241912 \n")
    assert load_interactions(epoch)["timestamp"].iloc[0] == pd.Timestamp("2010-11-08 18:45:12")


def test_fractional_epoch_seconds_kept_to_the_microsecond(tmp_path):
    log = load_interactions(write(tmp_path, "f.csv", "src,dst,timestamp\n1,2,1289241912.25\n"))
    assert log["timestamp"].iloc[0] == pd.Timestamp("2010-11-08 18:45:12.250")


def test_headerless_positional_mapping_bitcoin_format(tmp_path):
    # First lines of soc-sign-bitcoinotc.csv: source,target,rating,time (no header).
    path = write(tmp_path, "otc.csv", "6,2,4,1289241912\n6,5,2,1289241942\n1,15,1,1289243140\n")
    log = load_interactions(path, columns=parse_column_mapping("src=0,dst=1,timestamp=3"))
    assert list(log["src"]) == ["6", "6", "1"]
    assert list(log["dst"]) == ["2", "5", "15"]
    assert list(log["timestamp"]) == [pd.Timestamp("2010-11-08 18:45:12"),
                                      pd.Timestamp("2010-11-08 18:45:42"),
                                      pd.Timestamp("2010-11-08 19:05:40")]


def test_foreign_column_names_mapped(tmp_path):
    path = write(tmp_path, "foreign.csv", "Caller;Callee;When;Secs;Type\n"
                 f"{A};{B};2016-01-02 10:00:00;60;CALL\n")
    log = load_interactions(path, "src=Caller,dst=Callee,timestamp=when,duration=Secs,kind=Type")
    assert log.iloc[0].tolist() == [A, B, pd.Timestamp("2016-01-02 10:00:00"), 60.0, "call"]


def test_ids_with_leading_zeros_stay_text(tmp_path):
    log = load_interactions(write(tmp_path, "z.csv", "src,dst,timestamp\n0123,00456,1\n"
                                  " 0789 ,0123,2\n"))
    assert list(log["src"]) == ["0123", "0789"]
    assert list(log["dst"]) == ["00456", "0123"]


def test_real_bitcoin_otc_log():
    log = load_interactions(BITCOIN, columns="src=0,dst=1,timestamp=3")
    assert len(log) == 35592  # the file has no self-ratings
    assert log["timestamp"].min().strftime("%Y-%m") == "2010-11"
    assert log["timestamp"].max().strftime("%Y-%m") == "2016-01"


def test_customers_good_path(tmp_path):
    path = write(tmp_path, "cust.csv", "customer_id,churn_date,value,plan,age\n"
                 f"{A},,29.9,gold,31\n{B},2016-01-10,9.5,basic,\n"
                 f"{C},2016-01-12T15:00:00,,gold,44\n")
    customers = load_customers(path)
    assert list(customers.columns) == ["customer_id", "churn_date", "value", "plan", "age"]
    assert list(customers["customer_id"]) == [A, B, C]
    assert pd.isna(customers["churn_date"].iloc[0])
    # A churn date is a day: a time of day is dropped.
    assert list(customers["churn_date"].iloc[1:]) == [pd.Timestamp("2016-01-10"),
                                                      pd.Timestamp("2016-01-12")]
    np.testing.assert_array_equal(customers["value"].to_numpy(), [29.9, 9.5, np.nan])
    assert customers["age"].dtype == np.float64 and np.isnan(customers["age"].iloc[1])
    assert list(customers["plan"]) == ["gold", "basic", "gold"]


def test_date_attributes_are_dates(tmp_path):
    path = write(tmp_path, "cust.csv", "customer_id,start_date,last_upgrade,note\n"
                 f"{A},2015-03-01,2015-06-01T10:30:00Z,2015-01-01\n"
                 f"{B},2014-12-31,,call back\n{C},,2015-07-02 08:00,\n")
    customers = load_customers(path)
    assert customers["start_date"].dtype == np.dtype("datetime64[ns]")
    assert list(customers["start_date"].iloc[:2]) == [pd.Timestamp("2015-03-01"),
                                                      pd.Timestamp("2014-12-31")]
    assert pd.isna(customers["start_date"].iloc[2])
    assert list(customers["last_upgrade"].dropna()) == [pd.Timestamp("2015-06-01 10:30"),
                                                        pd.Timestamp("2015-07-02 08:00")]
    # One cell that is not a date keeps the column categorical.
    assert list(customers["note"].fillna("")) == ["2015-01-01", "call back", ""]
    # Parquet dates and timestamps are date attributes too.
    pq.write_table(pa.table({"customer_id": [A, B],
                             "start_date": pa.array([date(2015, 3, 1), None], pa.date32())}),
                   tmp_path / "cust.parquet")
    from_parquet = load_customers(tmp_path / "cust.parquet")
    assert from_parquet["start_date"].iloc[0] == pd.Timestamp("2015-03-01")
    assert pd.isna(from_parquet["start_date"].iloc[1])


def test_impossible_date_in_a_date_attribute_names_its_row(tmp_path):
    path = write(tmp_path, "c.csv", f"customer_id,renewed\n{A},2015-03-01\n{B},2015-02-30\n")
    with pytest.raises(InputError) as info:
        load_customers(path)
    check_error(info, file=path, row=2, column="renewed", words=("date attribute", "iso 8601"))
    # start_date is read as the contract's start, with its own message.
    path = write(tmp_path, "s.csv", f"customer_id,start_date\n{A},2015-03-01\n{B},2015-02-30\n")
    with pytest.raises(InputError) as info:
        load_customers(path)
    check_error(info, file=path, row=2, column="start_date", words=("start_date", "iso 8601"))


def test_customers_without_optional_columns(tmp_path):
    customers = load_customers(write(tmp_path, "c.csv", "id\n0123\n0456\n"),
                               columns="customer_id=id")
    assert list(customers["customer_id"]) == ["0123", "0456"]
    assert customers["churn_date"].isna().all() and customers["value"].isna().all()
    assert customers["churn_date"].dtype == np.dtype("datetime64[ns]")


def test_customers_match_partial_overlap_is_fine(tmp_path):
    log = load_interactions(write(tmp_path, "log.csv", GOOD_CSV))
    customers = load_customers(write(tmp_path, "c.csv", f"customer_id\n{A}\nsomeone-else\n"))
    check_customers_match(log, customers, tmp_path / "c.csv")  # A occurs: no error


def test_parse_column_mapping():
    assert parse_column_mapping(None) == {}
    assert parse_column_mapping(" src = Source , dst=Target,timestamp=time,customer_id=ID") == {
        "src": "Source", "dst": "Target", "timestamp": "time", "customer_id": "ID"}


def test_parse_date_option_and_positive_int():
    assert parse_date_option("2016-01-31") == pd.Timestamp("2016-01-31 00:00:00")
    assert parse_date_option("2016-01-31T00:00:00", "--cutoff") == pd.Timestamp("2016-01-31")
    assert check_positive_int("30", "--horizon") == 30
    assert check_positive_int(7, "--horizon") == 7
    with pytest.raises(InputError, match="without a time of day.*cut-offs fall at midnight"):
        parse_date_option("2016-01-31 14:30", "--as-of")
    with pytest.raises(InputError, match="must be at most 100"):
        check_positive_int("101", "--horizon", maximum=100)


def test_pseudonymise_stable_keyed_and_opaque():
    ids = np.array([A, B, A, C], dtype=object)
    first = pseudonymise(ids, salt="k1")
    assert first.dtype.kind == "U" and first.shape == (4,)
    assert first[0] == first[2] and len(set(first)) == 3
    np.testing.assert_array_equal(first, pseudonymise(list(ids), salt="k1"))
    other = pseudonymise(ids, salt="k2")
    assert not set(first) & set(other)
    assert all(A not in p and len(p) == 16 for p in first)
    with pytest.raises(ValueError):
        pseudonymise(ids, salt="")


# --------------------------------------------------------------------------------------------
# Bad input: one test per kind, each naming file / row / column in one line
# --------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, words=("not found",))


def test_empty_file(tmp_path):
    path = write(tmp_path, "empty.csv", b"")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, words=("empty",))


def test_empty_gzip(tmp_path):
    path = write(tmp_path, "empty.csv.gz", "")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, words=("empty",))


def test_header_only(tmp_path):
    path = write(tmp_path, "head.csv", "src,dst,timestamp\n")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, words=("no data rows",))


def test_missing_column_lists_the_file_columns(tmp_path):
    path = write(tmp_path, "m.csv", f"src,dst,time\n{A},{B},1\n")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, column="timestamp", words=("src, dst, time",))


def test_unmappable_column(tmp_path):
    path = write(tmp_path, "u.csv", f"Source,Target,time\n{A},{B},1\n")
    with pytest.raises(InputError) as info:
        load_interactions(path, "src=Source,dst=Target,timestamp=When")
    check_error(info, file=path, column="When", words=("source, target, time",))


def test_headerless_file_without_positions_shows_no_data(tmp_path):
    path = write(tmp_path, "h.csv", f"{A},{B},1289241912\n")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, column="src", words=("looks like data", "src=0"))
    assert "1289241912" not in str(info.value)


def test_position_out_of_range(tmp_path):
    path = write(tmp_path, "p.csv", "6,2,4,1289241912\n")
    with pytest.raises(InputError) as info:
        load_interactions(path, "src=0,dst=1,timestamp=4")
    check_error(info, file=path, column="4", words=("4 columns",))


def test_unparseable_timestamp(tmp_path):
    path = write(tmp_path, "t.csv", f"src,dst,timestamp\n{A},{B},2016-01-02T10:00:00\n"
                 f"{B},{C},2016-02-30T10:00:00\n")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, row=2, column="timestamp", words=("iso 8601",))


def test_mixed_epoch_and_iso(tmp_path):
    path = write(tmp_path, "mix.csv", f"src,dst,time\n{A},{B},1289241912\n{B},{C},1289241913\n"
                 f"{C},{D},2016-01-02T10:00:00\n")
    with pytest.raises(InputError) as info:
        load_interactions(path, "timestamp=time")
    check_error(info, file=path, row=3, column="time", words=("mixes",))


def test_empty_timestamp(tmp_path):
    path = write(tmp_path, "e.csv", f"src,dst,timestamp\n{A},{B},1\n{B},{C},\n")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, row=2, column="timestamp", words=("empty",))


def test_epoch_milliseconds_rejected(tmp_path):
    path = write(tmp_path, "ms.csv", f"src,dst,timestamp\n{A},{B},1289241912000\n")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, row=1, column="timestamp", words=("milliseconds",))


def test_negative_duration(tmp_path):
    path = write(tmp_path, "d.csv", f"src,dst,timestamp,duration\n{A},{B},1,3\n{B},{C},2,-4\n")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, row=2, column="duration", words=("negative",))


def test_non_numeric_duration(tmp_path):
    path = write(tmp_path, "d.csv", f"src,dst,timestamp,secs\n{A},{B},1,3\n{B},{C},2,4\n"
                 f"{C},{D},3,4min\n")
    with pytest.raises(InputError) as info:
        load_interactions(path, "duration=secs")
    check_error(info, file=path, row=3, column="secs", words=("not a number",))


def test_unknown_kind(tmp_path):
    path = write(tmp_path, "k.csv", f"src,dst,timestamp,kind\n{A},{B},1,Call\n{B},{C},2,fax\n")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, row=2, column="kind", words=("call, sms, message, referral",))


def test_missing_kind_in_parquet(tmp_path):
    table = pa.table({"src": [A, B], "dst": [B, C], "timestamp": [1, 2], "kind": ["sms", None]})
    pq.write_table(table, tmp_path / "k.parquet")
    with pytest.raises(InputError) as info:
        load_interactions(tmp_path / "k.parquet")
    check_error(info, file=tmp_path / "k.parquet", row=2, column="kind", words=("unknown kind",))


def test_empty_identifier(tmp_path):
    path = write(tmp_path, "i.csv", f"src,dst,timestamp\n{A},{B},1\n{B},{C},2\n{C}, ,3\n")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, row=3, column="dst", words=("empty identifier",))


def test_unterminated_quote(tmp_path):
    path = write(tmp_path, "q.csv", f"src,dst,timestamp\n{A},{B},1\n\"{B},{C},2\n{C},{D},3\n")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, row=2, words=("quot",))


@pytest.mark.parametrize("block_bytes", [1 << 24, 150, 300])
def test_quoted_values_may_span_lines(tmp_path, monkeypatch, block_bytes):
    # RFC 4180: a quoted value may hold a newline (a free-text note in a customer table).
    # With small parser blocks (150 and 300 bytes here) the value straddles a block boundary,
    # as it would somewhere in a large file, and pyarrow's fast parser gives up.
    monkeypatch.setattr("graphchurn.io.readers._CSV_BLOCK_BYTES", block_bytes)
    before = "".join(f"{i},,{i}\n" for i in range(40))
    after = "".join(f"{i},,{i}\n" for i in range(40, 80))
    text = f'customer_id,note,value\n{before}{A},"called twice\nwants a discount",9\n{after}'
    customers = load_customers(write(tmp_path, "c.csv", text))
    assert len(customers) == 81
    assert customers["note"].iloc[40] == "called twice\nwants a discount"
    assert customers["value"].iloc[40] == 9.0
    assert customers["value"].iloc[42] == 41.0
    # Row numbers in errors count records, not lines: the bad value is on line 45 of the
    # file, in data row 43.
    path = write(tmp_path, "bad.csv", text.replace("\n41,,41\n", "\n41,,one\n"))
    with pytest.raises(InputError) as info:
        load_customers(path)
    check_error(info, file=path, row=43, column="value", words=("value",))


def test_wrong_number_of_fields(tmp_path):
    path = write(tmp_path, "n.csv", f"src,dst,timestamp\n{A},{B},1\n{B},{C}\n")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, row=2, words=("expected 3 fields, found 2",))


def test_blank_lines_are_not_counted_as_rows(tmp_path):
    path = write(tmp_path, "b.csv", f"\nsrc,dst,timestamp\n{A},{B},1\n\n{B},{C},x\n")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, row=2, column="timestamp")


def test_binary_garbage(tmp_path):
    garbage = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    path = write(tmp_path, "garbage.csv", b"\x00" + garbage)
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, words=("binary",))


def test_invalid_utf8_cell(tmp_path):
    path = write(tmp_path, "u8.csv", f"src,dst,timestamp\n{A},{B},1\n".encode()
                 + b"\xff\xfe12,34,2\n")
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, row=2, column="src", words=("utf-8",))


def test_corrupt_gzip(tmp_path):
    data = gzip.compress(GOOD_CSV.encode() * 50)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, words=("gzip",))


def test_parquet_name_but_not_parquet(tmp_path):
    path = write(tmp_path, "log.parquet", GOOD_CSV)
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, words=("not a parquet file",))


def test_damaged_parquet(tmp_path):
    pq.write_table(pa.table({"src": [A], "dst": [B], "timestamp": [1]}), tmp_path / "ok.parquet")
    data = (tmp_path / "ok.parquet").read_bytes()
    path = tmp_path / "bad.parquet"
    path.write_bytes(data[:-12])
    with pytest.raises(InputError) as info:
        load_interactions(path)
    check_error(info, file=path, words=("parquet",))


def test_duplicate_customer_ids_name_both_rows(tmp_path):
    path = write(tmp_path, "c.csv", f"customer_id,value\n{A},1\n{B},2\n{C},3\n{B},4\n")
    with pytest.raises(InputError) as info:
        load_customers(path)
    check_error(info, file=path, row=4, column="customer_id", words=("duplicate", "row 2"))


def test_customer_table_not_matching_log(tmp_path):
    log = load_interactions(write(tmp_path, "log.csv", GOOD_CSV))
    path = write(tmp_path, "other.csv", "customer_id\nX1\nX2\n")
    with pytest.raises(InputError) as info:
        check_customers_match(log, load_customers(path), path)
    check_error(info, file=path, column="customer_id", words=("none of the 2",))


def test_unparseable_churn_date(tmp_path):
    path = write(tmp_path, "c.csv", f"id,left\n{A},\n{B},2016-01-10\n{C},soon\n")
    with pytest.raises(InputError) as info:
        load_customers(path, "customer_id=id,churn_date=left")
    check_error(info, file=path, row=3, column="left", words=("churn_date",))


def test_start_date_is_read_as_a_date_and_checked_against_churn_date(tmp_path):
    path = write(tmp_path, "c.csv",
                 f"id,joined,churn_date\n{A},2015-06-01,\n{B},,2016-01-10\n{C},2015-12-01 08:30,\n")
    customers = load_customers(path, "customer_id=id,start_date=joined")
    assert customers["start_date"].dtype == "datetime64[ns]"
    assert customers["start_date"].tolist()[0] == pd.Timestamp("2015-06-01")
    assert pd.isna(customers["start_date"].iloc[1])
    assert customers["start_date"].iloc[2] == pd.Timestamp("2015-12-01")  # the day
    late = write(tmp_path, "late.csv", f"customer_id,start_date,churn_date\n{A},2016-02-01,2016-01-10\n")
    with pytest.raises(InputError) as info:
        load_customers(late)
    check_error(info, file=late, row=1, column="start_date", words=("after churn_date",))
    bad = write(tmp_path, "bad.csv", f"customer_id,start_date\n{A},2015-06-01\n{B},soon\n")
    with pytest.raises(InputError) as info:
        load_customers(bad)
    check_error(info, file=bad, row=2, column="start_date", words=("start_date",))


def test_non_numeric_value(tmp_path):
    path = write(tmp_path, "c.csv", f"customer_id,value\n{A},9.5\n{B},lots\n")
    with pytest.raises(InputError) as info:
        load_customers(path)
    check_error(info, file=path, row=2, column="value", words=("not a number",))


@pytest.mark.parametrize("text", ["src", "src=", "=Source", "src=a=b", "src=A,,dst=B",
                                  "source=A", "src=A,src=B", "src=0,dst=Target",
                                  "src=A,dst=A", "src=-1"])
def test_bad_column_mapping(text):
    with pytest.raises(InputError) as info:
        parse_column_mapping(text)
    check_error(info, file="--columns")


def test_bad_column_mapping_names_the_given_option():
    with pytest.raises(InputError) as info:
        parse_column_mapping("msisdn=1", option="--customer-columns")
    check_error(info, file="--customer-columns", words=("unknown key",))


@pytest.mark.parametrize("text", ["yesterday", "2016-02-30", "2016-01-31T10:00:00", "", None])
def test_bad_as_of(text):
    with pytest.raises(InputError) as info:
        parse_date_option(text, "--as-of")
    check_error(info, file="--as-of")


@pytest.mark.parametrize("value", [-30, 0, "0", "-1", "ten", 2.5, True, None])
def test_bad_horizon(value):
    with pytest.raises(InputError) as info:
        check_positive_int(value, "--horizon")
    check_error(info, file="--horizon")


def test_usable_but_suspicious_input_is_noted_by_file_row_and_column(tmp_path, caplog):
    """Self-calls dropped, exact repeats kept, a negative value, and a number column turned
    into text by one stray cell are warned about (counts and rows, never the identifiers)."""
    log_path = write(tmp_path, "log.csv", GOOD_CSV + f"{A},{B},2016-01-02T10:00:00,60,call\n")
    with caplog.at_level("WARNING", logger="graphchurn"):  # shown under -q too
        log = load_interactions(log_path)
    assert len(log) == 4  # the repeat is counted, the self-call is not
    text = caplog.text
    assert f"{log_path}, row 3, column 'src': 1 self-interaction row(s)" in text
    assert "1 row(s) repeat an earlier row exactly (first: row 5)" in text
    caplog.clear()
    plan_rows = "".join(f"c{i},,{i * 1.5},{i}\n" for i in range(25))
    table = write(tmp_path, "c.csv", "customer_id,churn_date,value,support_calls\n"
                  + plan_rows + 'c25,,-3,"12,5"\n')
    with caplog.at_level("INFO", logger="graphchurn"):
        customers = load_customers(table)
    assert not pd.api.types.is_numeric_dtype(customers["support_calls"])  # categories, as before
    assert f"{table}, row 26, column 'value': value is negative in 1 row(s)" in caplog.text
    assert (f"{table}, row 26, column 'support_calls': read as text categories, though all "
            "but 1 of its 26 filled cells are numbers") in caplog.text
    for phone in PHONES:
        assert phone not in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="graphchurn"):
        load_customers(write(tmp_path, "ok.csv", "customer_id,plan\nc1,prepaid\nc2,\n"))
    assert not caplog.records  # a real text column is not worth a word


def test_missing_value_markers_read_as_empty_cells(tmp_path):
    """NULL, n/a, NaN... (database and spreadsheet exports) are empty cells in value, date and
    attribute columns: a value takes no number, a churn date means still a customer, and a
    number attribute stays numeric. Identifiers are left as they are."""
    table = write(tmp_path, "c.csv",
                  "customer_id,churn_date,value,age,region\n"
                  "c1,NULL,n/a,N/A,North\n"
                  "c2,2016-01-05,12.5, 40 ,null\n"
                  "c3,n/a,NaN,nan,#N/A\n"
                  "NULL,None,7,<NA>,South\n")
    customers = load_customers(table).set_index("customer_id")
    assert customers.index.tolist() == ["c1", "c2", "c3", "NULL"]
    assert customers["churn_date"].isna().tolist() == [True, False, True, True]
    assert customers["value"].isna().tolist() == [True, False, True, False]
    assert pd.api.types.is_numeric_dtype(customers["age"])
    assert customers["age"].tolist()[1] == 40 and customers["age"].isna().sum() == 3
    assert customers["region"].isna().tolist() == [False, True, True, False]
    log = write(tmp_path, "log.csv", "src,dst,timestamp,duration\n"
                f"{A},{B},2016-01-01T10:00:00,NULL\n{B},{A},2016-01-01T11:00:00,30\n")
    assert load_interactions(log)["duration"].tolist() == [0.0, 30.0]  # empty = 0, as before


@pytest.mark.parametrize("cell", ["inf", "-inf", "twelve"])
def test_non_numbers_in_value_are_still_errors(tmp_path, cell):
    table = write(tmp_path, "c.csv", f"customer_id,value\nc1,3\nc2,{cell}\n")
    with pytest.raises(InputError) as info:
        load_customers(table)
    check_error(info, file=str(table), row=2, column="value")


def test_a_column_mixing_zoned_and_zone_less_timestamps_is_noted(tmp_path, caplog):
    mixed = write(tmp_path, "mixed.csv", "src,dst,timestamp\n"
                  f"{A},{B},2016-01-02T10:00:00+01:00\n{B},{C},2016-01-02T11:00:00Z\n"
                  f"{C},{D},2016-01-02T12:00:00\n")
    with caplog.at_level("WARNING", logger="graphchurn"):
        log = load_interactions(mixed)
    assert log["timestamp"].tolist() == [pd.Timestamp("2016-01-02 09:00"),
                                         pd.Timestamp("2016-01-02 11:00"),
                                         pd.Timestamp("2016-01-02 12:00")]
    assert (f"{mixed}, row 3, column 'timestamp': 2 timestamps carry a UTC offset and 1 do "
            "not") in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="graphchurn"):
        load_interactions(write(tmp_path, "dst.csv", "src,dst,timestamp\n"
                                f"{A},{B},2016-03-26T10:00:00+01:00\n"
                                f"{B},{C},2016-03-28T10:00:00+02:00\n"))
    assert not caplog.records  # offsets that differ (summer time) are fine


def test_churn_dates_all_before_the_log_are_questioned(tmp_path, caplog):
    log = load_interactions(write(tmp_path, "log.csv", GOOD_CSV))
    wrong = load_customers(write(tmp_path, "c.csv", f"customer_id,churn_date\n{A},18.83\n{B},\n"))
    with caplog.at_level("WARNING", logger="graphchurn"):
        check_customers_match(log, wrong, "c.csv")
    assert ("c.csv, column 'churn_date': every churn_date (1) is before the log's first day "
            "(2016-01-02)") in caplog.text and A not in caplog.text
    caplog.clear()
    right = load_customers(write(tmp_path, "r.csv", f"customer_id,churn_date\n{A},2016-01-03\n"))
    with caplog.at_level("WARNING", logger="graphchurn"):
        check_customers_match(log, right, "r.csv")
    assert not caplog.records


def test_customer_match_reads_a_coded_log_by_its_categories(tmp_path):
    # A coded log is checked against its distinct ids (categories), never a string per row;
    # the verdicts are those of the plain string log.
    log = load_interactions(write(tmp_path, "log.csv", GOOD_CSV))
    assert isinstance(log["src"].dtype, pd.CategoricalDtype)
    ours = pd.DataFrame({"customer_id": [D, "someone else"], "churn_date": pd.NaT})
    check_customers_match(log, ours, "customers.csv")  # D occurs: fine
    wrong = pd.DataFrame({"customer_id": ["x1", "x2"], "churn_date": pd.NaT})
    with pytest.raises(InputError, match="none of the 2 customer ids occur"):
        check_customers_match(log, wrong, "customers.csv")
    with pytest.raises(InputError, match="none of the 2 customer ids occur"):
        check_customers_match(log.astype({"src": "str", "dst": "str"}), wrong, "customers.csv")
