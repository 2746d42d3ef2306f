"""Load and validate the user's tables: interaction logs and customer tables.

Everything a user can get wrong in an input file ends here as one :class:`InputError` naming the
file, the 1-based data row (the header is not counted) and the column as the user's file names it
-- never the value itself, because identifiers are phone numbers.

Reading is columnar: CSV (plain or gzip) is parsed by ``pyarrow.csv`` with every column read as
text, so ``"0123"`` stays ``"0123"``; Parquet by ``pyarrow.parquet``. Validation is vectorised
(pyarrow compute / numpy); Python loops over rows run only on the error path, to find the row of
a problem the columnar parser reported without one.

The frames returned follow docs/INTERNALS.md:

* interactions: ``src, dst`` (str), ``timestamp`` (datetime64[ns], naive UTC),
  ``duration`` (float64 seconds >= 0), ``kind`` (call | sms | message | referral);
* customers: ``customer_id`` (str, unique), ``churn_date`` (datetime64[ns] or NaT),
  ``value`` (float64 or NaN), ``start_date`` when the table has one (datetime64[ns] or NaT),
  then every other column as an attribute (float64, a date as datetime64[ns], or str).

Foreign files are mapped, not rewritten: ``--columns src=Source,dst=Target,timestamp=time``.
Values that are 0-based positions (``src=0,dst=1,timestamp=3``) mean the file has no header row.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import logging
import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from graphchurn.errors import InputError

log = logging.getLogger("graphchurn")

__all__ = [
    "INTERACTION_KEYS",
    "CUSTOMER_KEYS",
    "KINDS",
    "parse_column_mapping",
    "ReadFormat",
    "read_format",
    "load_interactions",
    "load_customers",
    "check_customers_match",
    "report_customers_match",
    "parse_date_option",
    "check_positive_int",
    "pseudonymise",
]

INTERACTION_KEYS = ("src", "dst", "timestamp", "duration", "kind")
CUSTOMER_KEYS = ("customer_id", "churn_date", "value", "start_date")
KINDS = ("call", "sms", "message", "referral")

_COLUMNS_OPTION = "--columns"
_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 1 << 16
# Numbers as text: optional sign, digits with an optional fraction, optional exponent.
_NUMBER_RE = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_INTEGER_RE = r"^[+-]?\d+$"
# pyarrow parses CSV in blocks of this many bytes (in parallel); a quoted value that spans
# lines and straddles a block boundary makes the fast parser fail (see _read_csv).
_CSV_BLOCK_BYTES = 1 << 24
# An ISO 8601 date or date-time (what makes a customer attribute a date attribute).
_ISO_DATE_RE = (r"^\s*\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
                r"(?:Z|[+-]\d{2}:?\d{2})?\s*$")
# datetime64[ns] holds instants up to 2262-04-11; epoch seconds beyond this overflow.
_MAX_EPOCH_SECONDS = 9.2e9
_NS_PER_SECOND = 1_000_000_000

# Bounds at the door (issue 26): hostile or broken input ends here as one InputError naming
# file, row and column, before it can reach a graph, a feature or a model.
#: Longest identifier accepted, in characters (phone numbers and customer codes are far
#: shorter; a megabyte-long id would otherwise cost gigabytes in fixed-width numpy arrays).
MAX_ID_LENGTH = 256
#: Longest plausible duration of one interaction: 10 days, in seconds. A longer one is an
#: error (durations in milliseconds, or a corrupt cell), never a feature.
MAX_DURATION_SECONDS = 864_000
#: Largest magnitude of a customer ``value`` or numeric attribute (a monthly revenue or a
#: count is far below it; a digit string longer than 13 digits is an id, not a number).
MAX_ABS_NUMBER = 1e12
#: Characters an identifier may not hold: ASCII control characters (tab, CR, LF, NUL...)
#: and the double quote (a bare quote in an unquoted field is a broken file, not an id).
_ID_FORBIDDEN_RE = r'[\x00-\x1f\x7f"]'
#: Dates the ``as_of`` option accepts: cut-offs, windows and horizons (up to a century,
#: see ``app.cli.MAX_DAYS``) around them stay inside pandas' range (years 1677-2262).
MIN_DATE_OPTION = "1900-01-01"
MAX_DATE_OPTION = "2100-12-31"


# --------------------------------------------------------------------------------------------
# Column mapping
# --------------------------------------------------------------------------------------------


def parse_column_mapping(text: str | None, option: str = _COLUMNS_OPTION,
                         keys: tuple | None = None) -> dict[str, str]:
    """Parse the ``--columns`` option into ``{canonical key: column in the user's file}``.

    Parameters
    ----------
    text : str or None
        Comma-separated ``key=column`` pairs. Keys are the canonical names
        ``src, dst, timestamp, duration, kind`` (interactions) and ``customer_id, churn_date,
        value`` (customers). A column is either a header name or a 0-based position; positions
        mean that file has no header row, so one file's keys must be all names or all positions.
        ``None`` or blank text gives ``{}`` (every file uses the canonical names).
    option : str, default "--columns"
        The option named in errors (e.g. ``--customer-columns`` when a CLI maps the customer
        table separately).
    keys : tuple of str, optional
        The keys this option may map (e.g. :data:`CUSTOMER_KEYS` for ``--customer-columns``);
        by default the keys of both files.

    Returns
    -------
    dict of str to str
        The mapping; positions stay as their digits (``"3"``).

    Raises
    ------
    InputError
        Naming ``option``: malformed pair, unknown or repeated key, empty column, negative
        position, names mixed with positions for one file, or two keys on one column.

    Example
    -------
    >>> parse_column_mapping("src=Source, dst=Target, timestamp=time")
    {'src': 'Source', 'dst': 'Target', 'timestamp': 'time'}
    >>> parse_column_mapping("src=0,dst=1,timestamp=3")
    {'src': '0', 'dst': '1', 'timestamp': '3'}
    """
    if text is None or not str(text).strip():
        return {}
    mapping: dict[str, str] = {}
    for pair in str(text).split(","):
        pair = pair.strip()
        if not pair:
            raise InputError("empty entry (two commas in a row, or a trailing comma)",
                             file=option)
        key, sep, column = pair.partition("=")
        key, column = key.strip(), column.strip()
        if not sep or not key or "=" in column:
            raise InputError(f"expected key=column pairs separated by commas, like "
                             f"src=Source,dst=Target,timestamp=time; got {pair!r}",
                             file=option)
        if not column:
            raise InputError(f"no column given for {key!r}", file=option)
        if key in mapping:
            raise InputError(f"{key!r} is given more than once", file=option)
        mapping[key] = column
    return _check_mapping(mapping, option, keys)


def _check_mapping(mapping: dict[str, str], option: str = _COLUMNS_OPTION,
                   keys: tuple | None = None) -> dict[str, str]:
    known = INTERACTION_KEYS + CUSTOMER_KEYS if keys is None else tuple(keys)
    for key, column in mapping.items():
        if key not in known:
            other = ("--customer-columns" if key in CUSTOMER_KEYS
                     else _COLUMNS_OPTION if key in INTERACTION_KEYS else None)
            hint = f" ({key!r} maps the other file: use {other})" if other else ""
            raise InputError(f"unknown key {key!r}; known keys are {', '.join(known)}{hint}",
                             file=option)
        if not isinstance(column, str) or not column.strip():
            raise InputError(f"no column given for {key!r}", file=option)
        if re.fullmatch(r"-\d+", column.strip()):
            raise InputError(f"position for {key!r} must be 0 or more", file=option)
    for keys in (INTERACTION_KEYS, CUSTOMER_KEYS):
        given = {k: mapping[k].strip() for k in keys if k in mapping}
        positional = {k for k, c in given.items() if c.isdigit()}
        if positional and positional != set(given):
            raise InputError(
                f"mixes header names and positions for one file ({', '.join(sorted(given))}); "
                "use positions only for a file without a header row", file=option)
        seen: dict[str, str] = {}
        for key, column in given.items():
            norm = str(int(column)) if key in positional else column
            if norm in seen:
                raise InputError(f"{seen[norm]!r} and {key!r} both map to the same column",
                                 file=option)
            seen[norm] = key
    return dict(mapping)


def _as_mapping(columns) -> dict[str, str]:
    if columns is None or isinstance(columns, str):
        return parse_column_mapping(columns)
    return _check_mapping({str(k): str(v) for k, v in dict(columns).items()})


# --------------------------------------------------------------------------------------------
# Foreign formats (issue 22): decimal commas, day-first dates, epoch units, encodings
# --------------------------------------------------------------------------------------------

#: Epoch units and how many of them make a second.
EPOCH_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000}
#: Day-first layouts tried, in order, when ``dayfirst`` is set and a date is not ISO 8601.
_DAYFIRST_FORMATS = tuple(f"%d{sep}%m{sep}%Y{time}" for sep in "/.-"
                          for time in (" %H:%M:%S", " %H:%M", ""))
_DAYFIRST_RE = r"^\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{4}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?\s*$"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_ENCODING_HINT = "; if the file is in another encoding, give encoding, e.g. cp1252"


@dataclass(frozen=True)
class ReadFormat:
    """How a foreign file writes numbers, dates and text (see docs/input.md).

    ``decimal``: ``"."`` or ``","`` (a decimal comma; ``1.234,5`` thousands dots are read too);
    ``dayfirst``: non-ISO dates are day first (``31/01/2025 14:05``, ``31.01.2025``);
    ``date_format``: an explicit strptime layout (``"%d/%m/%Y %H:%M"``) for every non-epoch
    date; ``epoch_unit``: ``"s"``, ``"ms"`` or ``"us"`` for numeric timestamps;
    ``encoding``: the text encoding of a CSV file (any Python codec name, e.g. ``cp1252``);
    None reads UTF-8, or UTF-16 when the file starts with a UTF-16 byte order mark.
    """

    decimal: str = "."
    dayfirst: bool = False
    date_format: str | None = None
    epoch_unit: str = "s"
    encoding: str | None = None

    @property
    def units_per_second(self) -> int:
        return EPOCH_UNITS[self.epoch_unit]

    @property
    def dates(self) -> bool:
        """Whether non-ISO dates are read (day-first or an explicit layout)."""
        return self.dayfirst or self.date_format is not None


def read_format(decimal: str = ".", dayfirst: bool = False, date_format: str | None = None,
                epoch_unit: str = "s", encoding: str | None = None) -> ReadFormat:
    """A checked :class:`ReadFormat`; a bad option is an InputError naming it.

    Example
    -------
    >>> read_format(decimal=",", dayfirst=True).decimal
    ','
    """
    decimal = "." if decimal is None else str(decimal)
    if decimal not in (".", ","):
        raise InputError(f"expected . or , as the decimal mark, got {decimal!r}",
                         parameter="decimal")
    epoch_unit = "s" if epoch_unit is None else str(epoch_unit)
    if epoch_unit not in EPOCH_UNITS:
        raise InputError(f"expected one of {', '.join(EPOCH_UNITS)}, got {epoch_unit!r}",
                         parameter="epoch_unit")
    if date_format is not None:
        date_format = str(date_format)
        if "%" not in date_format:
            raise InputError("expected a strptime layout such as %d/%m/%Y %H:%M",
                             parameter="date_format")
        try:
            pc.strptime(pa.array(["2000"]), format=date_format, unit="s", error_is_null=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InputError("not a strptime layout (e.g. %d/%m/%Y %H:%M)",
                             parameter="date_format") from None
    if encoding is not None:
        examples = "(e.g. utf-8, cp1252, latin-1, utf-16)"
        try:
            name = codecs.lookup(str(encoding)).name
        except LookupError:
            raise InputError(f"unknown text encoding {encoding!r} {examples}",
                             parameter="encoding") from None
        try:
            # The registry also holds byte and text transforms (base64, zlib, rot13) that no
            # file is written in: opening text as the loaders do (_open_text) refuses them
            # here, where the message can name the option, instead of at the first read.
            io.TextIOWrapper(io.BytesIO(), encoding=name)
        except LookupError:
            raise InputError(f"{encoding!r} is a codec but not a text encoding {examples}",
                             parameter="encoding") from None
        encoding = name
    return ReadFormat(decimal=decimal, dayfirst=bool(dayfirst), date_format=date_format,
                      epoch_unit=epoch_unit, encoding=encoding)


def _decimal_comma(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """Trimmed text with a decimal comma made a point (``1.234,5`` -> ``1234.5``)."""
    grouped = pc.match_substring_regex(text, r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?$")
    text = pc.if_else(pc.fill_null(grouped, False), pc.replace_substring(text, ".", ""), text)
    return pc.replace_substring(text, ",", ".")


# --------------------------------------------------------------------------------------------
# Reading a file into text (or native Parquet) columns
# --------------------------------------------------------------------------------------------


class _Table:
    """The columns of one input file that the loader asked for, plus how to name them."""

    def __init__(self, display: str, arrays: dict, labels: dict, nrows: int, extra: dict,
                 fmt: ReadFormat | None = None):
        self.fmt = fmt or ReadFormat()  # how numbers, dates and text are written
        self.display = display      # the path as the user gave it, for messages
        self.arrays = arrays        # canonical key -> pa.ChunkedArray (absent when not in file)
        self.labels = labels        # canonical key -> column label in the user's terms
        self.nrows = nrows
        self.extra = extra          # other columns (customer attributes): label -> array
        self.parquet = None         # the open pq.ParquetFile, for deferred columns
        self.deferred = {}          # key -> Parquet column name, read later (see _stream_ids)

    def error(self, message: str, key: str | None = None, index: int | None = None):
        """An InputError at 0-based ``index`` of column ``key``."""
        return InputError(message, file=self.display,
                          row=None if index is None else int(index) + 1,
                          column=None if key is None else self.labels.get(key, key))

    def note(self, message: str, key: str | None = None, index: int | None = None) -> None:
        """Log a warning about the input, placed like an error (file, row, column), that
        does not stop the run: the data is usable but probably not what the user meant."""
        log.warning("%s", self.error(message, key, index))


# Keys whose columns are read as dictionaries (a code per row; see _ids): ids and the few kinds.
_CODED_KEYS = ("src", "dst", "kind")
_ID_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
# Text id columns of a Parquet log are not read with the others but coded a batch of row
# groups at a time (_stream_ids): their strings are never all in memory at once.
_STREAMED_KEYS = ("src", "dst")
#: Rows of a Parquet id column read and coded at a time (whole row groups, at least one).
_ID_BATCH_ROWS = 1 << 23


def _sniff(path: Path, display: str, encoding: str | None = None
           ) -> tuple[str, str | None, str]:
    """Return (format, compression, text encoding) judged by magic bytes; the extension only
    has to agree. The encoding is ``encoding`` when given, else UTF-16 when the text starts
    with a UTF-16 byte order mark, else UTF-8."""
    if not path.exists():
        raise InputError("file not found", file=display)
    if not path.is_file():
        raise InputError("not a regular file", file=display)
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as err:
        raise InputError(f"cannot read the file ({err.strerror or type(err).__name__})",
                         file=display) from None
    if not head:
        raise InputError("file is empty (0 bytes)", file=display)
    names = path.name.lower()
    if head.startswith(_PARQUET_MAGIC):
        return "parquet", None, "utf-8"
    if names.endswith((".parquet", ".pq")):
        raise InputError("named as Parquet but is not a Parquet file (no PAR1 magic bytes)",
                         file=display)
    compression = None
    if head.startswith(_GZIP_MAGIC):
        compression = "gzip"
        head = _gunzip_head(path, display)
        if not head.strip():
            raise InputError("file is empty (the gzip archive holds no data)", file=display)
    if encoding is None:
        encoding = "utf-16" if head.startswith(_UTF16_BOMS) else "utf-8"
    wide = encoding.replace("_", "-").startswith(("utf-16", "utf-32"))
    if b"\x00" in head and not wide:
        raise InputError("binary data, not a CSV text file", file=display)
    if wide:
        head = head.decode(encoding, errors="replace").encode("utf-8")
    if not head.strip():
        raise InputError("file holds only blank lines", file=display)
    return "csv", compression, encoding


def _gunzip_head(path: Path, display: str) -> bytes:
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read(_SNIFF_BYTES)
    except (OSError, EOFError, zlib.error):
        raise InputError("gzip data is corrupt or truncated", file=display) from None


def _open_text(path: Path, compression: str | None, encoding: str = "utf-8"):
    # surrogateescape keeps undecodable bytes visible to the error locator instead of raising.
    raw = gzip.open(path, "rb") if compression == "gzip" else open(path, "rb")
    encoding = "utf-8-sig" if encoding in ("utf-8", "utf8") else encoding
    return io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")


def _first_line(path: Path, compression: str | None, display: str,
                encoding: str = "utf-8") -> tuple[str, int]:
    """The first non-blank line and how many blank lines precede it."""
    try:
        with _open_text(path, compression, encoding) as handle:
            for blank, line in enumerate(handle):
                if line.strip():
                    return line, blank
    except (OSError, EOFError, zlib.error):
        raise InputError("gzip data is corrupt or truncated", file=display) from None
    raise InputError("file holds only blank lines", file=display)


def _delimiter(line: str) -> str:
    # Foreign exports use ; or tab; pick the most frequent candidate on the first line.
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _split_header(line: str, delimiter: str, display: str, hint: str = "") -> list[str]:
    try:
        fields = next(csv.reader([line], delimiter=delimiter, strict=True))
    except (csv.Error, StopIteration):
        raise InputError("broken quoting in the first line", file=display) from None
    if any("\udc80" <= ch <= "\udcff" for field in fields for ch in field):
        raise InputError("the first line is not valid UTF-8 text" + hint, file=display)
    return [f.strip() for f in fields]


def _looks_like_data(names: list[str]) -> bool:
    """Whether a would-be header row is really data (numbers, dates, blanks)."""
    pattern = re.compile(r"^[\s+\-().:/\dTZ]*$")
    filled = [n for n in names if n]
    return not filled or any(pattern.match(n) for n in filled)


def _describe_columns(names: list[str], option: str = _COLUMNS_OPTION) -> str:
    if _looks_like_data(names):
        # Never echo the row: it is data (phone numbers), not a header.
        example = ("--customer-columns customer_id=0,churn_date=1"
                   if option == "--customer-columns" else "--columns src=0,dst=1,timestamp=2")
        return (f"the first row looks like data, not a header ({len(names)} fields); "
                f"for a file without a header give positions, e.g. {example}")
    shown = [n if len(n) <= 40 else n[:37] + "..." for n in names[:20]]
    more = f", ... ({len(names)} in all)" if len(names) > 20 else ""
    return "the file has columns: " + ", ".join(shown) + more


def _resolve(names: list[str] | None, ncols: int, mapping: dict[str, str], keys: tuple,
             required: tuple, display: str) -> tuple[dict[str, int], dict[str, str]]:
    """Map canonical keys to 0-based column positions; return (positions, labels)."""
    positions: dict[str, int] = {}
    labels: dict[str, str] = {}
    # The option that maps this file's columns, named in every hint below.
    option = "--customer-columns" if keys == CUSTOMER_KEYS else _COLUMNS_OPTION
    for key in keys:
        if names is None:  # headerless: the mapping gives positions
            if key not in mapping:
                if key in required:
                    raise InputError(
                        f"no position for {key!r} in {option} (the file is read without a "
                        "header because positions were given)", file=display, column=key)
                continue
            pos = int(mapping[key])
            if pos >= ncols:
                raise InputError(f"{option} puts {key!r} at position {pos} but the file has "
                                 f"{ncols} columns (positions start at 0)",
                                 file=display, column=str(pos))
            positions[key], labels[key] = pos, str(pos)
            continue
        wanted = mapping.get(key, key).strip()
        pos = _find_name(names, wanted, display)
        if pos is None:
            if key in mapping:
                raise InputError(f"column given in {option} for {key!r} is not in the file; "
                                 + _describe_columns(names, option), file=display, column=wanted)
            if key in required:
                raise InputError(f"missing column {key!r} (map it with {option} "
                                 f"{key}=NAME); " + _describe_columns(names, option),
                                 file=display, column=key)
            continue
        positions[key], labels[key] = pos, names[pos]
    return positions, labels


def _find_name(names: list[str], wanted: str, display: str) -> int | None:
    exact = [i for i, n in enumerate(names) if n == wanted]
    if not exact:
        exact = [i for i, n in enumerate(names) if n.casefold() == wanted.casefold()]
    if len(exact) > 1:
        raise InputError("column name appears more than once in the header", file=display,
                         column=wanted)
    return exact[0] if exact else None


def _read(path, mapping: dict[str, str], keys: tuple, required: tuple,
          all_columns: bool = False, fmt: ReadFormat | None = None) -> _Table:
    """Read the mapped columns of a CSV/CSV.gz/Parquet file (all columns when ``all_columns``)."""
    fmt = fmt or ReadFormat()
    display = str(path)
    path = Path(path)
    kind, compression, encoding = _sniff(path, display, fmt.encoding)
    own = {k: v for k, v in mapping.items() if k in keys}
    headerless = bool(own) and all(v.strip().isdigit() for v in own.values())
    if kind == "parquet":
        table = _read_parquet(path, display, own, keys, required, headerless, all_columns)
    else:
        table = _read_csv(path, display, compression, own, keys, required, headerless,
                          all_columns, encoding, fmt.encoding is None)
    table.fmt = fmt
    return table


def _read_csv(path, display, compression, mapping, keys, required, headerless, all_columns,
              encoding="utf-8", hint=True):
    hint = _ENCODING_HINT if hint else ""
    line, leading_blank = _first_line(path, compression, display, encoding)
    delimiter = _delimiter(line)
    fields = _split_header(line, delimiter, display, hint)
    if not headerless:
        _check_row_delimiter(path, compression, display, delimiter, len(fields), encoding)
    names = None if headerless else fields
    positions, labels = _resolve(names, len(fields), mapping, keys, required, display)
    wanted = sorted(set(range(len(fields))) if all_columns else set(positions.values()))
    auto = [f"f{i}" for i in range(len(fields))]
    read_options = pacsv.ReadOptions(
        autogenerate_column_names=True, skip_rows=leading_blank + (0 if headerless else 1),
        block_size=_CSV_BLOCK_BYTES,
        encoding="utf8" if encoding in ("utf-8", "utf8") else encoding)
    parse_options = pacsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                       ignore_empty_lines=True)
    coded = {positions[k] for k in _CODED_KEYS if k in positions}
    convert_options = pacsv.ConvertOptions(
        column_types={auto[i]: (_ID_DICTIONARY if i in coded else pa.string()) for i in wanted},
        include_columns=[auto[i] for i in wanted], strings_can_be_null=False,
        quoted_strings_can_be_null=False)
    try:
        source = pa.input_stream(str(path), compression=compression)
        table = pacsv.read_csv(source, read_options=read_options, parse_options=parse_options,
                               convert_options=convert_options)
    except (pa.ArrowInvalid, pa.ArrowKeyError, OSError, EOFError, zlib.error) as err:
        # pyarrow's message quotes the offending row (phone numbers) and has no row number:
        # never pass it on; find the row with a slow but exact scan (error path only).
        problem = _locate_csv_problem(path, display, compression, delimiter, len(fields),
                                      headerless, names, err, encoding, hint)
        if problem is not None:
            raise problem from None
        # Well-formed CSV whose quoted values span lines (RFC 4180 allows it, e.g. a note
        # column): read again with the slower parser that accepts them.
        parse_options.newlines_in_values = True
        source = pa.input_stream(str(path), compression=compression)
        table = pacsv.read_csv(source, read_options=read_options, parse_options=parse_options,
                               convert_options=convert_options)
    arrays = {key: table.column(auto[pos]) for key, pos in positions.items()}
    extra = {}
    if all_columns:
        used = set(positions.values())
        for i in wanted:
            if i not in used:
                label = f"column_{i}" if names is None else names[i]
                extra[label] = table.column(auto[i])
    return _Table(display, arrays, labels, table.num_rows, extra)


def _check_row_delimiter(path, compression, display, delimiter: str, nfields: int,
                         encoding: str = "utf-8") -> None:
    """Error when the first data row is split by another delimiter than the header (a comma
    header over semicolon rows): pyarrow would size the table by the rows and fail obscurely."""
    try:
        with _open_text(path, compression, encoding) as handle:
            lines = (line for line in handle if line.strip())
            next(lines, None)
            row = next(lines, None)
    except (OSError, EOFError, zlib.error):
        raise InputError("gzip data is corrupt or truncated", file=display) from None
    if row is None:
        return
    own = _field_count(row, delimiter)
    if own == nfields:
        return
    for other in (",", ";", "\t", "|"):
        if other != delimiter and _field_count(row, other) == nfields and nfields > 1:
            raise InputError(f"the header is separated by {delimiter!r} but the rows by "
                             f"{other!r}; use one delimiter", file=display, row=1)


def _field_count(line: str, delimiter: str) -> int:
    try:
        return len(next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter)))
    except (csv.Error, StopIteration):
        return -1


def _locate_csv_problem(path, display, compression, delimiter, ncols, headerless, names,
                        err, encoding="utf-8", hint="") -> InputError | None:
    """Scan the file with Python's csv module to name the first bad row (error path only).

    Returns None when the file is well-formed and only has quoted values that span lines.
    """
    data_row = 0          # 1-based data rows seen so far; the header is row 0
    header_pending = not headerless
    multiline = False     # a well-formed record spans lines (a quoted newline)
    try:
        with _open_text(path, compression, encoding) as handle:
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            record_start = 1
            try:
                for fields in reader:
                    spans = reader.line_num - record_start
                    record_start = reader.line_num + 1
                    if not fields:
                        continue  # blank line: skipped by the parser, not counted
                    if header_pending:
                        header_pending = False
                        continue
                    data_row += 1
                    if len(fields) != ncols:
                        why = ("a quote opened here is not closed on this line" if spans > 0
                               else f"expected {ncols} fields, found {len(fields)} "
                                    "(a stray delimiter or quote?)")
                        return InputError(f"broken row: {why}", file=display, row=data_row)
                    multiline = multiline or spans > 0
                    for i, field in enumerate(fields):
                        if any("\udc80" <= ch <= "\udcff" for ch in field):
                            return InputError(
                                "not valid UTF-8 text (binary data or another encoding)" + hint,
                                file=display, row=data_row,
                                column=str(i) if names is None else names[i])
            except csv.Error:
                if header_pending:
                    return InputError("broken quoting in the header", file=display)
                return InputError("broken quoting: a quote opened in this row is never closed "
                                  "or is followed by stray text", file=display,
                                  row=data_row + 1)
    except (OSError, EOFError, zlib.error):
        return InputError("gzip data is corrupt or truncated", file=display)
    if data_row == 0:
        return InputError("no data rows (the file has a header only)", file=display)
    if multiline:
        return None
    text = str(err)
    if "UTF8" in text or "UTF-8" in text:
        return InputError("not valid UTF-8 text" + hint, file=display)
    return InputError("cannot parse the file as CSV (a value spans lines or the quoting is "
                      "broken)", file=display)


def _read_parquet(path, display, mapping, keys, required, headerless, all_columns):
    try:
        parquet = pq.ParquetFile(str(path))
        names = list(parquet.schema_arrow.names)
    except Exception:  # pyarrow raises several types for a damaged footer
        raise InputError("not a readable Parquet file (damaged or truncated)",
                         file=display) from None
    positions, labels = _resolve(None if headerless else names, len(names), mapping, keys,
                                 required, display)
    if headerless:
        labels = {k: names[p] for k, p in positions.items()}
    wanted = sorted(set(range(len(names))) if all_columns else set(positions.values()))
    schema = parquet.schema_arrow

    def text_key(key):
        return key in positions and _is_text_type(schema.field(positions[key]).type)

    deferred = {} if all_columns else {k: names[positions[k]] for k in _STREAMED_KEYS
                                       if text_key(k)}
    skipped = ({positions[k] for k in deferred}
               - {pos for k, pos in positions.items() if k not in deferred})
    wanted = [i for i in wanted if i not in skipped]
    # The other coded columns (kind, numeric ids) come back dictionary-encoded: one small
    # integer per row instead of a string, and validation then reads each distinct value once.
    coded = [names[positions[k]] for k in _CODED_KEYS if k not in deferred and text_key(k)]
    try:
        if coded:
            parquet = pq.ParquetFile(str(path), read_dictionary=coded)
        table = parquet.read(columns=[names[i] for i in wanted])
    except Exception:
        raise InputError("not a readable Parquet file (damaged or truncated)",
                         file=display) from None
    arrays = {key: table.column(names[pos]) for key, pos in positions.items()
              if key not in deferred}
    used = set(positions.values())
    extra = {names[i]: table.column(names[i]) for i in wanted if all_columns and i not in used}
    out = _Table(display, arrays, labels, parquet.metadata.num_rows, extra)
    out.parquet, out.deferred = parquet, deferred
    return out


def _is_text_type(kind) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


# --------------------------------------------------------------------------------------------
# Column conversion (vectorised)
# --------------------------------------------------------------------------------------------


def _first_true(mask) -> int | None:
    """0-based index of the first True in a boolean pyarrow/numpy array (nulls count False)."""
    if isinstance(mask, (pa.ChunkedArray, pa.Array)):
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            return None
        return int(pc.index(mask, True).as_py())
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _text(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.utf8_trim_whitespace(values.cast(pa.string()))


def _is_empty(text: pa.ChunkedArray):
    return pc.or_kleene(pc.is_null(text), pc.equal(pc.utf8_length(text), 0))


#: Cell texts that mean "no value" in exports from spreadsheets, databases and pandas (compared
#: trimmed and case-insensitively). In a value, duration, date or attribute column they count as
#: an empty cell; identifiers do not get this reading (an id is never missing, see _ids).
MISSING_MARKERS = ("na", "n/a", "nan", "null", "none", "#n/a", "<na>")


def _is_missing(text: pa.ChunkedArray):
    """Empty, or one of :data:`MISSING_MARKERS` (``text`` already trimmed)."""
    marker = pc.is_in(pc.utf8_lower(text), value_set=pa.array(MISSING_MARKERS))
    return pc.or_kleene(_is_empty(text), pc.fill_null(marker, False))


def _blank_markers(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """A text column with its missing-value markers (``NULL``, ``n/a``...) made empty cells."""
    text = _text(values)
    return pc.if_else(_is_missing(text), pa.scalar("", pa.string()), text)


def _ids(table: _Table, key: str) -> pa.ChunkedArray:
    """Identifiers as text, byte for byte but for surrounding spaces (ASCII ' ' only).

    An empty id, one longer than :data:`MAX_ID_LENGTH` characters, or one holding a control
    character (tab, CR...) or a double quote is an error naming the row: such a cell is a
    broken file, and stripping it silently would merge two customers.
    """
    values = table.arrays[key]
    kind = values.type
    if pa.types.is_floating(kind):
        integral = pc.equal(values, pc.floor(values))
        bad = _first_true(pc.invert(pc.fill_null(integral, True)))
        if bad is not None:
            raise table.error("identifier is a fractional number; store ids as text", key, bad)
        bad = _first_true(pc.invert(pc.fill_null(pc.less(pc.abs(values), 2.0 ** 53), True)))
        if bad is not None:
            raise table.error("identifier is a number too large to be exact; store ids as "
                              "text", key, bad)
        values = values.cast(pa.int64())
    elif not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
              or pa.types.is_integer(kind) or pa.types.is_dictionary(kind)):
        raise table.error(f"identifiers must be text or integers, not {kind}", key)
    if not pa.types.is_dictionary(values.type):
        values = values.dictionary_encode()
    values = values.unify_dictionaries()
    dictionary = values.chunk(0).dictionary if values.num_chunks else pa.array([], pa.string())
    indices = pa.chunked_array([chunk.indices for chunk in values.chunks],
                               type=values.type.index_type)
    if indices.null_count:
        raise table.error("empty identifier", key, _first_true(pc.is_null(indices)))
    text = pc.utf8_trim(dictionary.cast(pa.string()), " ")
    _check_id_texts(table, key, text, indices)
    return _CodedIds(text, indices)


def _check_id_texts(table: _Table, key: str, text: pa.Array, indices) -> None:
    """Error at the first row of column ``key`` whose id (``text[code]``, trimmed) is bad.

    Each distinct id is checked once; a bad one is reported at its first row in this column
    (``indices``: a code per row, pyarrow or numpy). An entry of a dictionary shared with the
    other id column may not occur in this one: it is then that column's to report.
    """
    checks = [(_is_empty(text), "empty identifier"),
              (pc.greater(pc.utf8_length(text), MAX_ID_LENGTH),
               f"identifier longer than {MAX_ID_LENGTH} characters"),
              (pc.match_substring_regex(text, _ID_FORBIDDEN_RE),
               "identifier holds a control character (tab, CR, newline) or a double quote (a "
               "bare quote in an unquoted field?); ids are kept byte for byte, so fix the file")]
    for bad_entries, message in checks:
        bad_codes = np.flatnonzero(_numpy_bool(bad_entries))
        if not bad_codes.size:
            continue
        if isinstance(indices, np.ndarray):
            row = _first_true(np.isin(indices, bad_codes))
        else:
            row = _first_true(pc.is_in(indices, value_set=pa.array(bad_codes, indices.type)))
        if row is not None:
            raise table.error(message, key, row)


def _log_ids(table: _Table) -> list:
    """The ``src`` and ``dst`` columns as :class:`_CodedIds`, checked in that order (see
    :func:`_ids`); deferred Parquet text columns share one dictionary (:func:`_stream_ids`)."""
    keys = [key for key in ("src", "dst") if key in table.deferred]
    dictionary, coded = _stream_ids(table, keys)
    text = pc.utf8_trim(dictionary.cast(pa.string()), " ")
    out = []
    for key in ("src", "dst"):
        if key not in coded:
            out.append(_ids(table, key))
            continue
        codes, first_null = coded[key]
        if first_null is not None:
            raise table.error("empty identifier", key, first_null)
        _check_id_texts(table, key, text, codes)
        out.append(_CodedIds(text, codes))
    return out


def _stream_ids(table: _Table, keys) -> tuple[pa.Array, dict]:
    """Code the deferred text id columns ``keys`` of a Parquet log against one dictionary.

    Each column is read a batch of row groups at a time (about :data:`_ID_BATCH_ROWS` rows):
    the batch's strings are hashed into the dictionary of every id seen so far, then dropped,
    leaving an int32 code per row; the next batch is read meanwhile (:func:`_read_ahead`). At
    100M rows this holds two code arrays and two batches of strings instead of both string
    columns and a dictionary per row group.

    Returns
    -------
    tuple
        (dictionary: the distinct raw ids, large_string; ``{key: (codes, first null row or
        None)}``), codes indexing the dictionary, 0 at a null.
    """
    dictionary = pa.array([], pa.large_string())
    coded = {}
    if not keys:
        return dictionary, coded
    batches = _row_group_batches(table.parquet.metadata, _ID_BATCH_ROWS)
    codes = {key: np.empty(table.nrows, dtype=np.int32) for key in keys}
    first_null, start = dict.fromkeys(keys), dict.fromkeys(keys, 0)
    for (key, _), values in _read_ahead(table, [(key, groups) for key in keys
                                                for groups in batches]):
        dictionary, chunks = _extend_dictionary(dictionary, values.column(0))
        del values
        for indices in chunks:
            at = start[key]
            if indices.null_count:
                if first_null[key] is None:
                    first_null[key] = at + _first_true(pc.is_null(indices))
                indices = pc.fill_null(indices, 0)
            codes[key][at:at + len(indices)] = indices.to_numpy()
            start[key] = at + len(indices)
    return dictionary, {key: (codes[key], first_null[key]) for key in keys}


def _read_ahead(table: _Table, jobs: list):
    """Each ``(key, row groups)`` job with its column read from the Parquet file, the next one
    read in a thread while the caller codes this one: reading and hashing both release the GIL,
    so they overlap on two cores, for one batch of strings more in memory."""
    def read(job):
        key, groups = job
        try:
            return table.parquet.read_row_groups(groups, columns=[table.deferred[key]])
        except Exception:
            raise InputError("not a readable Parquet file (damaged or truncated)",
                             file=table.display) from None

    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = pool.submit(read, jobs[0]) if jobs else None
        for i, job in enumerate(jobs):
            values = ahead.result()
            ahead = pool.submit(read, jobs[i + 1]) if i + 1 < len(jobs) else None
            yield job, values
            del values


def _row_group_batches(metadata, rows: int) -> list[list[int]]:
    """Consecutive row groups of a Parquet file in batches of at least ``rows`` rows (the
    last may hold fewer); empty row groups are left out."""
    batches, batch, size = [], [], 0
    for i in range(metadata.num_row_groups):
        n = metadata.row_group(i).num_rows
        if n == 0:
            continue
        batch.append(i)
        size += n
        if size >= rows:
            batches.append(batch)
            batch, size = [], 0
    if batch:
        batches.append(batch)
    return batches


def _extend_dictionary(dictionary: pa.Array, values: pa.ChunkedArray) -> tuple[pa.Array, list]:
    """(``dictionary`` with the new distinct ``values`` appended, the values' int32 codes in
    it per chunk). Existing entries keep their codes: Arrow's unifier numbers the first
    dictionary's (distinct) entries first, in order."""
    encoded = pc.dictionary_encode(values.cast(pa.large_string()))
    known = pa.DictionaryArray.from_arrays(pa.array([], pa.int32()), dictionary)
    unified = pa.chunked_array([known, *encoded.chunks], type=known.type).unify_dictionaries()
    return unified.chunk(0).dictionary, [chunk.indices for chunk in unified.chunks[1:]]


class _CodedIds:
    """An identifier column as its distinct texts (``dictionary``) and a code per row."""

    def __init__(self, dictionary: pa.Array, indices: pa.ChunkedArray):
        self.dictionary, self.indices = dictionary, indices


def _shared_categorical(*columns: _CodedIds) -> list[pd.Categorical]:
    """The columns as pandas categoricals over one sorted set of their identifiers (the
    categories :func:`graphchurn.graph.customer_graph.encode_ids` gives), built from the codes:
    no string is made per row. Numpy codes (:func:`_stream_ids`) are remapped in place."""
    # Columns may share one dictionary: each distinct dictionary counts once.
    dictionaries = list({id(c.dictionary): c.dictionary for c in columns}.values())
    texts = pa.concat_arrays(dictionaries) if columns else pa.array([], pa.string())
    categories = pc.unique(texts)
    categories = categories.take(pc.sort_indices(categories))
    dtype = pd.CategoricalDtype(pd.Index(categories.to_pandas(types_mapper=None), dtype="str"))
    out = []
    for column in columns:
        # where each dictionary entry (trimmed, so two spellings may meet) sits in the categories
        remap = pc.index_in(column.dictionary, value_set=categories).to_numpy(zero_copy_only=False)
        remap = remap.astype(np.int32)
        if isinstance(column.indices, np.ndarray):
            codes = _remap_in_place(column.indices, remap)
        else:
            codes = (remap[column.indices.to_numpy()] if len(column.indices)
                     else np.zeros(0, np.int32))
        out.append(pd.Categorical.from_codes(codes, dtype=dtype, validate=False))
    return out


def _remap_in_place(codes: np.ndarray, remap: np.ndarray, block: int = 1 << 22) -> np.ndarray:
    """``codes`` replaced by ``remap[codes]``, a block at a time (no second array of codes)."""
    for start in range(0, len(codes), block):
        part = codes[start:start + block]
        np.take(remap, part, out=part)
    return codes


def _check_bound(table: _Table, key: str, values: np.ndarray, limit: float, why: str) -> None:
    """Error naming the first row whose value exceeds ``limit`` in magnitude (NaN = missing)."""
    with np.errstate(invalid="ignore"):
        bad = _first_true(np.abs(values) > limit)
    if bad is not None:
        raise table.error(why, key, bad)


def _try_cast(values, target):
    """``values.cast(target)``, or None when some value does not convert (all-or-nothing)."""
    try:
        return values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _blank_to_null(values: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """(values with empty strings as nulls, empty mask) -- no trimming, for the fast casts."""
    empty = _is_empty(values)
    return pc.if_else(empty, pa.scalar(None, values.type), values), empty


def _numbers(table: _Table, key: str, values, *, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse a numeric column; return (float64 values, empty mask). Junk -> error with row."""
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        empty = pc.is_null(values)
        numbers = values.cast(pa.float64())
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if table.fmt.decimal == ",":
            values = _decimal_comma(_text(values))
        nullable, empty = _blank_to_null(values)
        numbers = _try_cast(nullable, pa.float64())
        if numbers is not None and not pc.all(pc.is_finite(numbers)).as_py():
            numbers = None  # Arrow reads "nan" and "inf" as numbers; the slow path decides
        if numbers is None:  # slow path: trim, then find the first row that is not a number
            text = _text(values)
            empty = _is_missing(text)
            valid = pc.match_substring_regex(text, _NUMBER_RE)
            bad = _first_true(pc.and_(pc.invert(valid), pc.invert(empty)))
            if bad is not None:
                raise table.error(f"{what} is not a number", key, bad)
            numbers = pc.if_else(valid, text, pa.scalar(None, pa.string())).cast(pa.float64())
    else:
        raise table.error(f"{what} must be numeric, not {kind}", key)
    out = numbers.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    empty_np = np.asarray(pc.fill_null(empty, True).to_numpy(zero_copy_only=False), dtype=bool)
    bad = _first_true(~np.isfinite(out) & ~empty_np)
    if bad is not None:
        raise table.error(f"{what} is not a finite number", key, bad)
    return out, empty_np


def _timestamps(table: _Table, key: str, *, allow_empty: bool, what: str,
                values: pa.ChunkedArray | None = None) -> np.ndarray:
    """Parse a time column to int64 nanoseconds since the epoch (UTC); empty -> NaT.

    Text columns are either all ISO 8601 or all Unix epoch seconds, decided by the first
    non-empty value; anything else is an error naming its row. ``values`` defaults to
    ``table.arrays[key]`` (pass it for an attribute column, named by its label ``key``).
    """
    values = table.arrays[key] if values is None else values
    kind = values.type
    nat = np.iinfo(np.int64).min
    if pa.types.is_timestamp(kind):
        scale = {"s": _NS_PER_SECOND, "ms": 1_000_000, "us": 1_000, "ns": 1}[kind.unit]
        raw = values.cast(pa.int64())
        ns = raw.to_numpy(zero_copy_only=False)
        empty = np.asarray(pc.is_null(raw).to_numpy(zero_copy_only=False), dtype=bool)
        if raw.null_count:
            ns = np.where(empty, 0, ns).astype(np.int64)
        if scale != 1:  # nanoseconds already: no second copy of a 100M-row column
            ns = ns * scale
    elif pa.types.is_date(kind):
        ns = values.cast(pa.timestamp("ns")).cast(pa.int64()).to_numpy(zero_copy_only=False)
        empty = np.asarray(pc.is_null(values).to_numpy(zero_copy_only=False), dtype=bool)
        ns = np.where(empty, 0, ns).astype(np.int64)
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        seconds, empty = _numbers(table, key, values, what=what)
        ns = _epoch_to_ns(table, key, seconds, empty)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if allow_empty:  # "NULL" is a missing date where a missing date is allowed
            values = _blank_markers(values)
        ns, empty = _text_timestamps(table, key, values, what=what)
    else:
        raise table.error(f"{what} must be a date-time, epoch seconds or text, not {kind}", key)
    if not allow_empty:
        bad = _first_true(empty)
        if bad is not None:
            raise table.error(f"empty {what}", key, bad)
    ns = np.asarray(ns, dtype=np.int64)
    if empty.any():
        ns = ns.copy()
        ns[empty] = nat
    return ns


def _epoch_to_ns(table, key, seconds: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Epoch numbers in ``table.fmt.epoch_unit`` (seconds by default) to int64 ns."""
    per_second = table.fmt.units_per_second
    safe = np.where(empty, 0.0, seconds)
    bad = _first_true(np.abs(safe) >= _MAX_EPOCH_SECONDS * per_second)
    if bad is not None:
        raise table.error(_epoch_range_message(safe[bad] / per_second, table.fmt), key, bad)
    whole = np.floor(safe)
    unit_ns = _NS_PER_SECOND // per_second
    # Integers stay exact; fractions are kept to the microsecond (float64 cannot do better).
    return (whole.astype(np.int64) * unit_ns
            + np.round((safe - whole) * unit_ns / 1_000).astype(np.int64) * 1_000)


def _text_timestamps(table, key, values, *, what):
    nullable, empty_pa = _blank_to_null(values)
    first = _first_true(pc.invert(empty_pa))
    if first is None:
        return np.zeros(len(values), dtype=np.int64), _numpy_bool(empty_pa)
    if re.fullmatch(_NUMBER_RE, values[first].as_py().strip()):
        # Epoch seconds. Fast: one all-or-nothing cast; the slow path finds the bad row.
        whole = _try_cast(nullable, pa.int64())
        if whole is not None:
            per_second = table.fmt.units_per_second
            empty = _numpy_bool(empty_pa)
            seconds = pc.fill_null(whole, 0).to_numpy(zero_copy_only=False)
            bad = _first_true(np.abs(seconds) >= _MAX_EPOCH_SECONDS * per_second)
            if bad is not None:
                raise table.error(_epoch_range_message(seconds[bad] / per_second, table.fmt),
                                  key, bad)
            return seconds.astype(np.int64) * (_NS_PER_SECOND // per_second), empty
        text = _text(values)
        empty_pa = _is_empty(text)
        numeric = pc.match_substring_regex(text, _NUMBER_RE)
        bad = _first_true(pc.and_(pc.invert(numeric), pc.invert(empty_pa)))
        if bad is not None:
            raise table.error(_bad_time_message(text[bad].as_py(), "epoch", what), key, bad)
        empty = _numpy_bool(empty_pa)
        seconds = pc.if_else(numeric, text, pa.scalar(None, pa.string())).cast(pa.float64())
        return _epoch_to_ns(table, key, seconds.to_numpy(zero_copy_only=False), empty), empty
    if table.fmt.date_format is not None or (
            table.fmt.dayfirst and not re.fullmatch(_ISO_DATE_RE, values[first].as_py())):
        return _layout_timestamps(table, key, values, what=what)
    # ISO 8601. Arrow's cast is strict (rejects 2016-02-30) and fast; it takes a column that
    # is all zone-less (read as UTC) or all zoned. Anything else goes to pandas' parser.
    for target in (pa.timestamp("ns"), pa.timestamp("ns", tz="UTC")):
        parsed = _try_cast(nullable, target)
        if parsed is not None:
            ns = pc.fill_null(parsed.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
            return ns.astype(np.int64), _numpy_bool(empty_pa)
    text = _text(values)
    empty = _numpy_bool(_is_empty(text))
    ns = _iso_to_ns(text)
    bad = _first_true((ns == np.iinfo(np.int64).min) & ~empty)
    if bad is not None:
        raise table.error(_bad_time_message(text[bad].as_py(), "iso", what), key, bad)
    zoned = _numpy_bool(pc.match_substring_regex(text, r"(Z|[+-]\d{2}(:?\d{2})?)$"))
    naive = ~zoned & ~empty
    if zoned.any() and naive.any():
        # Both kinds in one column: the zone-less ones are read as UTC, which may be off by
        # the zone the others carry.
        fewer = naive if naive.sum() <= zoned.sum() else zoned
        table.note(f"{int(zoned.sum())} {what}s carry a UTC offset and {int(naive.sum())} do "
                   "not; those without are read as UTC (first of the fewer here)", key,
                   _first_true(fewer))
    return ns, empty


def _layout_timestamps(table, key, values, *, what):
    """Dates in ``table.fmt.date_format``, or day first (the first of
    :data:`_DAYFIRST_FORMATS` that reads the first date), as int64 ns; naive = UTC."""
    text = _text(values)
    empty_pa = _is_empty(text)
    empty = _numpy_bool(empty_pa)
    first = _first_true(pc.invert(empty_pa))
    layouts = ([table.fmt.date_format] if table.fmt.date_format is not None
               else list(_DAYFIRST_FORMATS))
    layout = layouts[0]
    for candidate in layouts:
        probe = pc.strptime(text[first:first + 1], format=candidate, unit="ns",
                            error_is_null=True)
        if probe.null_count == 0:
            layout = candidate
            break
    parsed = pc.strptime(text, format=layout, unit="ns", error_is_null=True)
    bad = _first_true(pc.and_(pc.is_null(parsed), pc.invert(empty_pa)))
    if bad is not None:
        raise table.error(f"cannot read {what}: expected the layout {layout}"
                          + ("" if table.fmt.date_format else " (day first)"), key, bad)
    ns = pc.fill_null(parsed.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
    return ns.astype(np.int64), empty


def _numpy_bool(mask) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _epoch_range_message(seconds: float, fmt: ReadFormat | None = None) -> str:
    unit = "s" if fmt is None else fmt.epoch_unit
    name = {"s": "seconds", "ms": "milliseconds", "us": "microseconds"}[unit]
    hint = ""
    if seconds > 0 and unit != "us":
        finer = "ms" if unit == "s" else "us"
        hint = (f" ({ {'ms': 'milliseconds', 'us': 'microseconds'}[finer]}? give "
                f"epoch_unit {finer})")
    return f"epoch {name} out of range" + hint


def _bad_time_message(value: str, mode: str, what: str) -> str:
    # The value is inspected (not shown) only to say *why* it is wrong.
    is_number = re.fullmatch(_NUMBER_RE, value) is not None
    if mode == "epoch" and not is_number and not pd.isna(
            pd.to_datetime(value, format="ISO8601", errors="coerce")):
        return (f"{what} column mixes Unix epoch seconds and ISO 8601 date-times; "
                "use one format")
    if mode == "iso" and is_number:
        return (f"{what} column mixes ISO 8601 date-times and Unix epoch seconds; "
                "use one format")
    if mode == "iso" and re.fullmatch(_ISO_DATE_RE, value):
        try:
            pd.Timestamp(value)
        except (ValueError, OverflowError):
            pass
        else:  # a real date, but outside what datetime64[ns] holds
            return f"{what} is outside the supported years (1678 to 2261)"
    expected = ("Unix epoch seconds like earlier rows" if mode == "epoch"
                else "an ISO 8601 date-time like 2016-01-31T12:00:00")
    hint = ""
    if mode == "iso" and re.fullmatch(_DAYFIRST_RE, value):
        hint = ("; for day-first dates like 31/01/2025 14:05 give dayfirst, or date_format "
                "'%d/%m/%Y %H:%M'")
    return f"cannot read {what}: expected {expected}{hint}"


def _iso_to_ns(text: pa.ChunkedArray) -> np.ndarray:
    """ISO 8601 text, any mix of zones -> int64 ns UTC (naive is UTC); unparseable -> iNaT."""
    nat = np.iinfo(np.int64).min
    series = pd.Series(text, dtype="str")
    parsed = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
    parsed = parsed.dt.tz_localize(None)
    unit = np.datetime_data(parsed.dtype)[0]
    raw = parsed.to_numpy(dtype=f"datetime64[{unit}]").view(np.int64)
    missing = raw == nat
    scale = {"s": _NS_PER_SECOND, "ms": 1_000_000, "us": 1_000, "ns": 1}[unit]
    limit = np.iinfo(np.int64).max // scale
    out_of_range = np.abs(np.where(missing, 0, raw)) >= limit
    ns = np.where(missing | out_of_range, 0, raw) * scale
    ns[missing | out_of_range] = nat
    return ns


# --------------------------------------------------------------------------------------------
# Public loaders
# --------------------------------------------------------------------------------------------


def load_interactions(path, columns: dict[str, str] | str | None = None, *, decimal: str = ".",
                      dayfirst: bool = False, date_format: str | None = None,
                      epoch_unit: str = "s", encoding: str | None = None) -> pd.DataFrame:
    """Load and validate an interaction log (CSV, CSV.gz or Parquet).

    The format is judged by the file's magic bytes (gzip, Parquet ``PAR1``, otherwise text);
    a file named ``.parquet`` that is not Parquet is an error. CSV delimiters ``, ; tab |``
    are recognised from the first line. Every CSV column is read as text, so identifiers such
    as ``"0123"`` keep their leading zeros; surrounding spaces are trimmed.

    Parameters
    ----------
    path : str or os.PathLike
        The log. Row numbers in errors are 1-based data rows: the header row is not counted
        and blank lines are skipped without being counted.
    columns : dict or str, optional
        Column mapping (see :func:`parse_column_mapping`); keys for other tables are ignored.
        Positions mean the file has no header row.
    decimal, dayfirst, date_format, epoch_unit, encoding
        How a foreign file writes numbers, dates and text (:class:`ReadFormat`, docs/input.md):
        ``decimal=","`` for decimal commas (semicolon files), ``dayfirst=True`` or
        ``date_format="%d/%m/%Y %H:%M"`` for non-ISO dates, ``epoch_unit="ms"`` (or ``"us"``)
        for epoch milliseconds, ``encoding="cp1252"`` for text that is not UTF-8 (UTF-16 is
        recognised by its byte order mark).
        A duration may be written as ``HH:MM:SS`` or ``MM:SS`` (read whatever the options).

    Returns
    -------
    pandas.DataFrame
        Columns ``src, dst`` (categoricals over one sorted set of the log's identifiers, as
        :func:`graphchurn.graph.encode_ids` codes them: an int32 code per row, never a string
        per row), ``timestamp`` (datetime64[ns], naive UTC), ``duration`` (float64 seconds >= 0;
        0.0 when absent or empty), ``kind`` (categorical: call | sms | message | referral,
        lower case; ``"call"`` when the file has no kind column), in file order.
        Self-interactions (``src == dst``) are dropped silently: they carry no social tie.

    Raises
    ------
    InputError
        One line naming file, row and column (never the value) for: missing, empty,
        header-only, binary or non-UTF-8 file; a ``.parquet`` that is not Parquet; missing or
        unmappable columns; broken quoting or a wrong number of fields; empty identifier;
        timestamp that is neither ISO 8601 nor epoch seconds, or a mix of both; duration that
        is not a number or is negative; unknown kind.

    Example
    -------
    >>> log = load_interactions("soc-sign-bitcoinotc.csv.gz",
    ...                         columns="src=0,dst=1,timestamp=3")  # doctest: +SKIP
    >>> list(log.columns)                                             # doctest: +SKIP
    ['src', 'dst', 'timestamp', 'duration', 'kind']
    """
    mapping = _as_mapping(columns)
    fmt = read_format(decimal, dayfirst, date_format, epoch_unit, encoding)
    table = _read(path, mapping, INTERACTION_KEYS, ("src", "dst", "timestamp"), fmt=fmt)
    if table.nrows == 0:
        raise InputError("no data rows (the file has a header only)", file=table.display)
    src, dst = _log_ids(table)
    # Each column's Arrow array is dropped once converted: at 100M rows each is gigabytes.
    ns = _timestamps(table, "timestamp", allow_empty=False, what="timestamp")
    table.arrays.pop("timestamp")
    duration = _log_durations(table)
    kind = _log_kinds(table)
    src, dst = _shared_categorical(src, dst)
    columns = {"src": src, "dst": dst, "timestamp": _owned(ns).view("datetime64[ns]"),
               "duration": _owned(duration.astype(np.float64, copy=False)), "kind": kind}
    self_loop = src.codes == dst.codes
    if self_loop.any():
        table.note(f"{int(self_loop.sum())} self-interaction row(s) (src equals dst) dropped",
                   "src", _first_true(self_loop))
        keep = ~self_loop
        columns = {name: values[keep] for name, values in columns.items()}
    # The arrays are this function's own: a copy would briefly double the log.
    frame = pd.DataFrame(columns, copy=False)
    if frame.empty:
        raise InputError("every row is a self-interaction (src equals dst); nothing to use",
                         file=table.display)
    repeated = _repeated_rows(frame)
    if repeated.any():
        # Kept: two identical CDR rows can be two real short calls in the same second, and
        # dropping them would change the counts a user's own tools report.
        log.warning("%s: %d row(s) repeat an earlier row exactly (first: row %d); each is "
                    "counted as an interaction", table.display, int(repeated.sum()),
                    _row_of(self_loop, _first_true(repeated)))
    return frame


def _log_durations(table: _Table) -> np.ndarray:
    """The log's durations in seconds (0.0 where empty or absent), checked; the Arrow column
    is dropped from ``table``."""
    if "duration" not in table.arrays:
        return np.zeros(table.nrows, dtype=np.float64)
    duration, empty = _durations(table)
    table.arrays.pop("duration")
    bad = _first_true((duration < 0) & ~empty)
    if bad is not None:
        raise table.error("negative duration; durations are seconds >= 0", "duration", bad)
    if empty.any():
        duration = np.where(empty, 0.0, duration)
    _check_bound(table, "duration", duration, MAX_DURATION_SECONDS,
                 f"duration longer than {MAX_DURATION_SECONDS} seconds (10 days); "
                 "durations are seconds (milliseconds?)")
    return duration


def _log_kinds(table: _Table) -> pd.Categorical:
    """The log's kinds, lower case (``"call"`` when absent), checked; the Arrow column is
    dropped from ``table``."""
    if "kind" not in table.arrays:
        kind = (pa.array(["call"]), pa.array(np.zeros(table.nrows, dtype=np.int8)))
    else:
        # A handful of distinct values: normalise the dictionary, not every row.
        raw = table.arrays.pop("kind")
        encoded = (raw.unify_dictionaries().combine_chunks() if pa.types.is_dictionary(raw.type)
                   else pc.dictionary_encode(raw.cast(pa.string()).combine_chunks()))
        del raw
        names = pc.utf8_lower(_text(encoded.dictionary))
        unknown = np.flatnonzero(~_numpy_bool(pc.is_in(names, value_set=pa.array(KINDS))))
        rows_bad = pc.or_kleene(pc.is_null(encoded.indices), pc.is_in(
            encoded.indices, value_set=pa.array(unknown, encoded.indices.type)))
        bad = _first_true(rows_bad)
        if bad is not None:
            raise table.error(f"unknown kind; expected one of {', '.join(KINDS)}", "kind", bad)
        kind = (names, encoded.indices)
    codes, dtype = _kind_codes(kind)
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _owned(values: np.ndarray) -> np.ndarray:
    """``values``, or a copy where it is a read-only view of an Arrow buffer (the frame is
    built without copying, and its columns must stay writable like any pandas column)."""
    return values if values.flags.writeable else values.copy()


#: A clock duration: ``H:MM:SS`` or ``MM:SS``, seconds with an optional fraction.
_CLOCK_RE = r"^(?:(?P<h>\d+):)?(?P<m>\d{1,2}):(?P<s>\d{1,2}(?:[.,]\d+)?)$"


def _durations(table: _Table) -> tuple[np.ndarray, np.ndarray]:
    """The duration column in seconds: numbers, or clock times ``HH:MM:SS`` / ``MM:SS``
    (decided by the first filled cell; a column mixing both is an error naming the row)."""
    values = table.arrays["duration"]
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return _numbers(table, "duration", values, what="duration")
    text = _text(values)
    empty_pa = _is_missing(text)
    first = _first_true(pc.invert(empty_pa))
    if first is None or ":" not in text[first].as_py():
        return _numbers(table, "duration", values, what="duration")
    parts = pc.extract_regex(text, _CLOCK_RE)
    bad = _first_true(pc.and_(pc.is_null(parts), pc.invert(empty_pa)))
    if bad is not None:
        raise table.error("duration is not HH:MM:SS or MM:SS like the first rows (or a "
                          "number of seconds)", "duration", bad)

    def field(name):
        column = pc.struct_field(parts, name)
        column = pc.if_else(pc.equal(column, ""), pa.scalar("0"), column)
        return pc.fill_null(pc.replace_substring(column, ",", "."), "0").cast(
            pa.float64()).to_numpy(zero_copy_only=False)

    minutes, seconds = field("m"), field("s")
    bad = _first_true((minutes >= 60) & _numpy_bool(pc.match_substring_regex(text, r"^\d+:\d+:"))
                      | (seconds >= 60))
    if bad is not None:
        raise table.error("duration has 60 or more minutes or seconds in HH:MM:SS", "duration",
                          bad)
    empty = _numpy_bool(empty_pa)
    total = field("h") * 3600.0 + minutes * 60.0 + seconds
    return np.where(empty, np.nan, total), empty


def _kind_codes(kind) -> tuple[np.ndarray, pd.CategoricalDtype]:
    """Codes and dtype of the ``kind`` column from its (names, indices): categories are the
    distinct lower-case kinds, sorted."""
    names, indices = kind
    values = np.asarray(names.to_pylist(), dtype=object)
    categories, first = np.unique(values, return_inverse=True)
    codes = first.astype(np.int8)[indices.to_numpy(zero_copy_only=False)]
    return codes, pd.CategoricalDtype(pd.Index(categories, dtype="str"))


def _repeated_rows(frame: pd.DataFrame) -> np.ndarray:
    """``frame.duplicated(keep="first")``, faster on a large log (docs/results.md).

    Each row gets a 64-bit hash of its values (string columns by their factorised codes,
    timestamps and numbers by their bits); only the rows whose hash occurs more than once are
    compared exactly, in file order. Equal rows always hash alike, so no repeat is missed, and
    a hash collision only adds a candidate that the exact comparison then clears.
    """
    n = len(frame)
    key = np.zeros(n, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    # Block by block: a 100M-row log would otherwise hold a few int64 temporaries of every row.
    for name in frame.columns:
        values = _hash_source(frame[name])
        for start in range(0, n, _HASH_BLOCK):
            part = key[start:start + _HASH_BLOCK]
            np.bitwise_xor(part, _hash_bits(values[start:start + _HASH_BLOCK]), out=part)
            np.multiply(part, prime, out=part)
    # Hashes that occur more than once, found by sorting (a hash table of 100M keys thrashes
    # the cache); there are few, so marking their rows is a cheap pass.
    ordered = np.sort(key)
    repeats = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    repeated = np.zeros(n, dtype=bool)
    if not repeats.size:
        return repeated
    # A binary search in the few repeated hashes: one pass over the rows, where np.isin
    # compares every row with each repeated hash in turn.
    candidate = []
    for start in range(0, n, _HASH_BLOCK):
        part = key[start:start + _HASH_BLOCK]
        at = np.minimum(np.searchsorted(repeats, part), repeats.size - 1)
        candidate.append(start + np.flatnonzero(repeats[at] == part))
    candidate = np.concatenate(candidate)
    if candidate.size:
        repeated[candidate] = frame.iloc[candidate].duplicated(keep="first").to_numpy()
    return repeated


#: Rows hashed at a time by :func:`_repeated_rows`.
_HASH_BLOCK = 1 << 22


def _hash_source(column: pd.Series) -> np.ndarray:
    """The numpy array whose values :func:`_hash_bits` turns into a row's bits for a column:
    integer codes for strings and categoricals, the values otherwise."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return column.to_numpy(dtype="datetime64[ns]").view(np.int64)
    if pd.api.types.is_float_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64)
    if pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy()
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy()
    return pd.factorize(column)[0]


def _hash_bits(values: np.ndarray) -> np.ndarray:
    """64 bits per value (uint64) for the row hash; equal values give equal bits."""
    if values.dtype.kind == "f":
        return np.where(values == 0.0, 0.0, values).view(np.uint64)  # -0.0 equals 0.0
    return values.astype(np.int64).view(np.uint64)


def _row_of(dropped: np.ndarray, kept_index: int) -> int:
    """1-based data row in the file of the ``kept_index``-th row kept after ``dropped``."""
    kept_rows = np.flatnonzero(~dropped)
    return int(kept_rows[kept_index]) + 1


def load_customers(path, columns: dict[str, str] | str | None = None, *, decimal: str = ".",
                   dayfirst: bool = False, date_format: str | None = None,
                   epoch_unit: str = "s", encoding: str | None = None) -> pd.DataFrame:
    """Load and validate a customer table (CSV, CSV.gz or Parquet).

    Parameters
    ----------
    path : str or os.PathLike
        The table. Row numbers in errors are 1-based data rows (header not counted, blank
        lines skipped and not counted).
    columns : dict or str, optional
        Column mapping (see :func:`parse_column_mapping`); keys ``customer_id, churn_date,
        value, start_date`` are used, interaction keys ignored.
    decimal, dayfirst, date_format, epoch_unit, encoding
        How a foreign file writes numbers, dates and text (:class:`ReadFormat`, docs/input.md):
        ``decimal=","`` for decimal commas (semicolon files), ``dayfirst=True`` or
        ``date_format="%d/%m/%Y"`` for non-ISO dates, ``epoch_unit="ms"`` (or ``"us"``)
        for epoch milliseconds, ``encoding="cp1252"`` for text that is not UTF-8 (UTF-16 is
        recognised by its byte order mark).
        They apply to ``churn_date``, ``start_date``, ``value`` and the attributes (a
        column whose every filled cell reads as a date in that layout is a date attribute).

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (str, unique), ``churn_date`` (datetime64[ns] at midnight, NaT when
        empty or absent: the customer is gone from that day on), ``value`` (float64, NaN when
        empty or absent), ``start_date`` only when the table has it (datetime64[ns] at
        midnight, NaT when empty: the customer is one from that day on; it is also an
        attribute, see :func:`graphchurn.features.attributes_at`), then every other column as
        an attribute: float64 when all its non-empty cells are numbers, datetime64[ns] (naive
        UTC) when all are ISO 8601 dates or date-times (or the Parquet column is a
        date/timestamp), else str (empty cells missing). In headerless files attributes are
        named ``column_<position>``.

    Raises
    ------
    InputError
        For the file problems listed in :func:`load_interactions`, plus: duplicate
        ``customer_id`` (naming both rows), unparseable ``churn_date`` or ``start_date``, a
        ``start_date`` after the row's ``churn_date``, non-numeric ``value``, an impossible
        date in a date attribute (e.g. 2015-02-30).

    Example
    -------
    >>> customers = load_customers("data/sample/customers.csv")  # doctest: +SKIP
    >>> customers.columns[:3].tolist()                            # doctest: +SKIP
    ['customer_id', 'churn_date', 'value']
    """
    mapping = _as_mapping(columns)
    fmt = read_format(decimal, dayfirst, date_format, epoch_unit, encoding)
    table = _read(path, mapping, CUSTOMER_KEYS, ("customer_id",), all_columns=True, fmt=fmt)
    if table.nrows == 0:
        raise InputError("no data rows (the file has a header only)", file=table.display)
    ids = _ids(table, "customer_id")
    id_series = pd.Series(ids.dictionary.take(ids.indices), dtype="str")
    dup = _first_true(id_series.duplicated(keep="first").to_numpy())
    if dup is not None:
        first = _first_true((id_series == id_series.iloc[dup]).to_numpy())
        raise table.error(f"duplicate customer_id (also in row {first + 1})", "customer_id", dup)
    n = table.nrows
    if "churn_date" in table.arrays:
        churn = _day_column(table, "churn_date")  # a date: gone from that day on
    else:
        churn = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if "value" in table.arrays:
        value, empty = _numbers(table, "value", table.arrays["value"], what="value")
        value = np.where(empty, np.nan, value)
        _check_bound(table, "value", value, MAX_ABS_NUMBER,
                     f"value beyond {MAX_ABS_NUMBER:g} in magnitude: not a plausible revenue")
        negative = value < 0
        if negative.any():
            table.note(f"value is negative in {int(negative.sum())} row(s) (first here); "
                       "scores are unaffected, but `graphchurn target` needs values >= 0",
                       "value", _first_true(negative))
    else:
        value = np.full(n, np.nan)
    frame = {"customer_id": id_series, "churn_date": churn, "value": value.astype(np.float64)}
    if "start_date" in table.arrays:
        start = _day_column(table, "start_date")  # a customer from that day on
        late = _first_true((start > churn) & ~np.isnat(start) & ~np.isnat(churn))
        if late is not None:
            raise table.error("start_date is after churn_date", "start_date", late)
        frame["start_date"] = start
    for label, values in table.extra.items():
        name = label if label not in frame else f"attr_{label}"
        frame[name] = _attribute(table, label, values)
    return pd.DataFrame(frame)


def _day_column(table: _Table, key: str) -> np.ndarray:
    """A date column of the customer table: datetime64[ns] at midnight, NaT when empty."""
    ns = _timestamps(table, key, allow_empty=True, what=key)
    return pd.DatetimeIndex(ns.view("datetime64[ns]")).normalize().to_numpy()


def _attribute(table: _Table, label: str, values: pa.ChunkedArray) -> pd.Series:
    """A customer attribute: float64 when every non-empty cell is a number, datetime64[ns]
    (naive UTC) when every non-empty cell is an ISO 8601 date or date-time (or the column is
    a Parquet date/timestamp), else str."""
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return _numeric_attribute(table, label, values.cast(pa.float64()))
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return _date_attribute(table, label, values)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return pd.Series(values.to_pandas())
    text = _blank_markers(values)
    values = text
    empty = _is_empty(text)
    dated = pc.or_(pc.match_substring_regex(text, _ISO_DATE_RE), empty)
    if pc.all(pc.fill_null(dated, True)).as_py() and not pc.all(empty).as_py():
        return _date_attribute(table, label, values)
    if table.fmt.dates and not pc.all(empty).as_py():
        layout = (pc.is_valid(pc.strptime(text, format=table.fmt.date_format, unit="ns",
                                          error_is_null=True))
                  if table.fmt.date_format else pc.match_substring_regex(text, _DAYFIRST_RE))
        if pc.all(pc.fill_null(pc.or_(layout, empty), True)).as_py():
            return _date_attribute(table, label, values)
    number_text = _decimal_comma(text) if table.fmt.decimal == "," else text
    numeric = pc.or_(pc.match_substring_regex(number_text, _NUMBER_RE), empty)
    if pc.all(pc.fill_null(numeric, True)).as_py() and not pc.all(empty).as_py():
        parsed = pc.if_else(empty, pa.scalar(None, pa.string()), number_text).cast(pa.float64())
        return _numeric_attribute(table, label, parsed)
    not_numeric = ~_numpy_bool(numeric)
    filled = int((~_numpy_bool(empty)).sum())
    if filled and not_numeric.sum() <= 0.05 * filled:
        # A stray "n/a" or "12,5" turns a number column into categories; say where.
        table.note(f"read as text categories, though all but {int(not_numeric.sum())} of its "
                   f"{filled} filled cells are numbers (first text cell here)", label,
                   _first_true(not_numeric))
    return pd.Series(pc.if_else(empty, pa.scalar(None, pa.string()), text), dtype="str")


def _numeric_attribute(table: _Table, label: str, values: pa.ChunkedArray) -> pd.Series:
    """A numeric attribute as float64 (null and NaN = missing); infinite values or values
    beyond :data:`MAX_ABS_NUMBER` in magnitude are an error naming the row."""
    numbers = values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    _check_bound(table, label, numbers, MAX_ABS_NUMBER,
                 f"numeric attribute beyond {MAX_ABS_NUMBER:g} in magnitude (or infinite); "
                 "store codes and ids as text")
    return pd.Series(numbers, dtype=np.float64)


def _date_attribute(table: _Table, label: str, values: pa.ChunkedArray) -> pd.Series:
    ns = _timestamps(table, label, allow_empty=True, what="date attribute",
                     values=values)
    return pd.Series(ns.view("datetime64[ns]"))


def _arrow_strings(values: pd.Series) -> pa.Array:
    """A column as one Arrow string array (no copy when it is already Arrow-backed)."""
    array = pa.array(values.astype("str"))
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def check_customers_match(interactions: pd.DataFrame, customers: pd.DataFrame,
                          customers_path) -> None:
    """Reject a customer table none of whose ids occur in the interaction log.

    Identifiers in the log that are not in the table are off-net numbers, which is fine; a
    table sharing no identifier with the log is almost surely the wrong file.

    Parameters
    ----------
    interactions : pandas.DataFrame
        From :func:`load_interactions`.
    customers : pandas.DataFrame
        From :func:`load_customers`.
    customers_path : str or os.PathLike
        Named in the error.

    Raises
    ------
    InputError
        Naming ``customers_path`` when no ``customer_id`` occurs as ``src`` or ``dst``.

    Example
    -------
    >>> check_customers_match(log, customers, "customers.csv")  # doctest: +SKIP
    """
    ids = _arrow_strings(customers["customer_id"])

    def distinct(column: pd.Series) -> pa.Array:
        # A coded log (load_interactions) holds each id once in its categories: look those up,
        # not a string per row.
        if isinstance(column.dtype, pd.CategoricalDtype):
            return _arrow_strings(pd.Series(column.cat.categories))
        return _arrow_strings(column)

    # Arrow's hash lookup: pandas' isin on Arrow strings turns every value into a Python
    # object first.
    seen = any(pc.any(pc.is_in(distinct(interactions[column]), value_set=ids)).as_py()
               for column in ("src", "dst"))
    churn = customers["churn_date"].dropna() if "churn_date" in customers else pd.Series([])
    first = interactions["timestamp"].min() if len(interactions) else None
    report_customers_match(len(ids), seen, churn, first, customers_path)


def report_customers_match(n_ids: int, seen: bool, churn: pd.Series, first,
                           customers_path) -> None:
    """The verdict of :func:`check_customers_match` from what it found (shared by the engines:
    the Spark engine finds ``seen`` and the log's first timestamp on Spark).

    Parameters
    ----------
    n_ids : int
        Rows of the customer table.
    seen : bool
        Whether any customer id occurs as ``src`` or ``dst``.
    churn : pandas.Series
        The table's non-empty churn dates.
    first : pandas.Timestamp or None
        The log's first interaction (None: an empty log).
    customers_path : str or os.PathLike
        Named in the error.

    Raises
    ------
    InputError
        When ``n_ids`` ids and none seen; a churn_date column wholly before the log is warned
        about.
    """
    if n_ids and not seen:
        raise InputError(f"none of the {n_ids} customer ids occur in the interaction log; "
                         "is this the customer table for this log?", file=str(customers_path),
                         column="customer_id")
    if len(churn) and first is not None and churn.max() < pd.Timestamp(first).normalize():
        # E.g. --customer-columns churn_date=value: numbers read as epoch seconds are 1970.
        log.warning("%s", InputError(
            f"every churn_date ({len(churn)}) is before the log's first day "
            f"({pd.Timestamp(first).date()}); is churn_date mapped to the right column?",
            file=str(customers_path), column="churn_date"))


# --------------------------------------------------------------------------------------------
# Options and pseudonyms
# --------------------------------------------------------------------------------------------


def parse_date_option(text, option: str = "as_of") -> pd.Timestamp:
    """Parse a date option (``YYYY-MM-DD``) to a midnight :class:`pandas.Timestamp`.

    Parameters
    ----------
    text : str
        The option's value. A date-time is accepted only at midnight.
    option : str, default "as_of"
        Named in the error.

    Returns
    -------
    pandas.Timestamp
        Naive (UTC) midnight.

    Raises
    ------
    InputError
        Naming ``option`` when the text is not a real calendar date, or is outside
        :data:`MIN_DATE_OPTION` .. :data:`MAX_DATE_OPTION`.

    Example
    -------
    >>> parse_date_option("2016-01-31")
    Timestamp('2016-01-31 00:00:00')
    """
    raw = "" if text is None else str(text).strip()
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?)?", raw)
    if not match:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", raw):
            # Cut-offs and label windows are whole days; a time would silently be dropped.
            raise InputError("expected a date without a time of day, like 2016-01-31 "
                             "(cut-offs fall at midnight)", file=option)
        raise InputError("expected a date like 2016-01-31", file=option)
    try:
        stamp = pd.Timestamp(match.group(1))
    except (ValueError, OverflowError):
        raise InputError("not a real calendar date (expected YYYY-MM-DD)", file=option) from None
    if not MIN_DATE_OPTION <= match.group(1) <= MAX_DATE_OPTION:
        raise InputError(f"must be between {MIN_DATE_OPTION} and {MAX_DATE_OPTION} (dates "
                         "outside cannot be computed with)", file=option)
    return stamp.as_unit("ns")


def check_positive_int(value, option: str, maximum: int | None = None) -> int:
    """Return ``value`` as an int >= 1 (and <= ``maximum``), or raise an InputError naming
    ``option``.

    Parameters
    ----------
    value : int or str
        E.g. the ``horizon_days`` in days.
    option : str
        Named in the error.
    maximum : int, optional
        Largest accepted value (day counts are bounded so date arithmetic stays in range).

    Returns
    -------
    int

    Example
    -------
    >>> check_positive_int("30", "horizon_days")
    30
    """
    if isinstance(value, (bool, np.bool_)):
        raise InputError("expected a whole number of 1 or more", file=option)
    if isinstance(value, (int, np.integer)):
        number = int(value)
    elif isinstance(value, (float, np.floating)) and float(value).is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        number = int(value)
    else:
        raise InputError("expected a whole number of 1 or more", file=option)
    if number < 1:
        raise InputError("must be 1 or more", file=option)
    if maximum is not None and number > maximum:
        raise InputError(f"must be at most {maximum}", file=option)
    return number


def pseudonymise(ids, salt: str) -> np.ndarray:
    """Replace identifiers with stable keyed hashes, so outputs can be shared.

    Each distinct id is hashed once with BLAKE2b keyed by ``salt`` (16 hex digits); without
    the salt the pseudonyms cannot be recomputed from a list of phone numbers.

    Parameters
    ----------
    ids : array-like of str
        Identifiers (numbers are hashed as their text).
    salt : str
        Secret key, non-empty. Keys longer than 64 bytes are first hashed to 64 bytes.

    Returns
    -------
    numpy.ndarray of str
        Same length and order as ``ids``; equal ids give equal pseudonyms.

    Example
    -------
    >>> a = pseudonymise(["0123", "0456", "0123"], salt="s3cret")
    >>> bool(a[0] == a[2]) and bool(a[0] != a[1]) and len(a[0]) == 16
    True

    References
    ----------
    J.-P. Aumasson, S. Neves, Z. Wilcox-O'Hearn, C. Winnerlein, "BLAKE2: simpler, smaller,
    fast as MD5", ACNS 2013 (keyed mode = MAC).
    """
    if not isinstance(salt, str) or not salt:
        raise ValueError("pseudonymise needs a non-empty salt")
    key = salt.encode("utf-8")
    if len(key) > 64:
        key = hashlib.blake2b(key).digest()
    values = pd.Series(ids)
    if values.isna().any():
        raise ValueError("pseudonymise got a missing identifier")
    codes, uniques = pd.factorize(values.astype("str"))
    hashed = np.array([hashlib.blake2b(u.encode("utf-8"), key=key, digest_size=8).hexdigest()
                       for u in uniques], dtype="<U16")
    return hashed[codes] if len(codes) else np.array([], dtype="<U16")
