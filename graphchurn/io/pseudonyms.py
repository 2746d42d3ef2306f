"""Keyed pseudonyms for shareable outputs (``--pseudonymise KEYFILE``, issue 22).

Every identifier in an output becomes ``px_`` followed by the first 16 hex digits (64 bits) of
HMAC-SHA256(key, id as UTF-8). The same key gives the same pseudonym in every run and every
file, so outputs can still be joined with each other; without the key nobody can test a phone
number against them. The key holder maps pseudonyms back with ``graphchurn unmask`` by
hashing the identifiers of the original inputs (or from a mapping file written only when asked,
``--pseudonymise-map``).

References
----------
H. Krawczyk, M. Bellare, R. Canetti, "HMAC: Keyed-Hashing for Message Authentication",
RFC 2104 (1997).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

import numpy as np
import pandas as pd

from graphchurn.errors import InputError

__all__ = [
    "PSEUDONYM_PREFIX",
    "PSEUDONYM_HEX_DIGITS",
    "ID_COLUMNS",
    "LIST_COLUMNS",
    "read_key",
    "keyed_pseudonyms",
    "is_pseudonym",
    "Pseudonymiser",
]

#: Every pseudonym starts with this, so a pseudonymised file is recognisable as one.
PSEUDONYM_PREFIX = "px_"
#: Hex digits of HMAC-SHA256 kept (64 bits: a collision among a billion ids has odds ~3%
#: only beyond 600 million; one is checked for and refused).
PSEUDONYM_HEX_DIGITS = 16
_PSEUDONYM_RE = re.compile(rf"^{PSEUDONYM_PREFIX}[0-9a-f]{{{PSEUDONYM_HEX_DIGITS}}}$")
#: Output columns holding one identifier, and ones holding a ``;``-separated list.
ID_COLUMNS = ("customer_id",)
LIST_COLUMNS = ("top_influencers",)
#: A key shorter than this is refused (a guessable key makes the pseudonyms reversible).
MIN_KEY_BYTES = 16


def read_key(path, create: bool = True) -> bytes:
    """The secret key in ``path`` (its bytes, surrounding whitespace removed).

    A missing file is created with 32 random bytes as 64 hex digits, readable by its owner
    only, when ``create``. A key of fewer than :data:`MIN_KEY_BYTES` bytes is refused.
    """
    path = Path(path)
    if not path.exists():
        if not create:
            raise InputError("key file not found", file=str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    if not path.is_file():
        raise InputError("the key is not a regular file", file=str(path))
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_BYTES:
        raise InputError(f"the key holds {len(key)} bytes; use at least {MIN_KEY_BYTES} "
                         "(a missing key file is created with a random key)", file=str(path))
    return key


def keyed_pseudonyms(ids, key: bytes) -> np.ndarray:
    """``px_`` + 16 hex digits of HMAC-SHA256(key, id) for each id (equal ids, equal
    pseudonyms); an id that already is a pseudonym is kept.

    Example
    -------
    >>> p = keyed_pseudonyms(["+447700900123", "0123", "+447700900123"], b"k" * 16)
    >>> bool(p[0] == p[2]) and p[0].startswith("px_") and len(p[0]) == 19
    True
    """
    values = pd.Series(ids, dtype=object)
    codes, uniques = pd.factorize(values.astype(str))
    hashed = np.array([u if _PSEUDONYM_RE.match(u) else PSEUDONYM_PREFIX + hmac.new(
        key, u.encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_DIGITS]
        for u in uniques], dtype=object)
    if len(set(hashed)) != len(hashed):
        raise InputError("two identifiers share a pseudonym (a 64-bit collision): use another "
                         "key", parameter="pseudonymise")
    return hashed[codes] if len(codes) else np.array([], dtype=object)


def is_pseudonym(values) -> np.ndarray:
    """Whether each value is a pseudonym (``px_`` + 16 lower-case hex digits)."""
    return pd.Series(values, dtype=object).astype(str).str.match(_PSEUDONYM_RE).to_numpy()


class Pseudonymiser:
    """Replaces the identifiers of output tables, remembering each pseudonym's identifier.

    Example
    -------
    >>> p = Pseudonymiser(b"k" * 16)
    >>> out = p.frame(pd.DataFrame({"customer_id": ["a", "b"], "top_influencers": ["a;b", ""]}))
    >>> out["top_influencers"][0] == ";".join(out["customer_id"]), out["top_influencers"][1]
    (True, '')
    >>> sorted(p.mapping()["customer_id"])
    ['a', 'b']
    """

    def __init__(self, key: bytes):
        self.key = key
        self._seen: dict[str, str] = {}

    def ids(self, values) -> np.ndarray:
        """Pseudonyms of ``values`` (recorded for :meth:`mapping`)."""
        values = np.asarray(pd.Series(values, dtype=object).astype(str), dtype=object)
        out = keyed_pseudonyms(values, self.key)
        self._seen.update(zip(out, values))
        return out

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``frame`` with :data:`ID_COLUMNS` and :data:`LIST_COLUMNS` pseudonymised."""
        out = frame.copy()
        for column in ID_COLUMNS:
            if column in out.columns:
                out[column] = pd.array(self.ids(out[column]), dtype="str") if len(out) else \
                    out[column]
        for column in LIST_COLUMNS:
            if column in out.columns and len(out):
                lists = out[column].fillna("").astype(str).str.split(";")
                flat = [x for items in lists for x in items if x]
                mapped = dict(zip(flat, self.ids(flat))) if flat else {}
                out[column] = [";".join(mapped[x] for x in items if x) for items in lists]
        return out

    def mapping(self) -> pd.DataFrame:
        """Every pseudonym written so far and its identifier."""
        pairs = sorted((p, i) for p, i in self._seen.items() if p != i)
        return pd.DataFrame(pairs, columns=["pseudonym", "customer_id"])
