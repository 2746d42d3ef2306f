"""Cut-offs, churn labels and departures known at a cut-off (the time contract).

Every function here answers a question *about a cut-off* ``c`` (a midnight
``pd.Timestamp``) and reads only what that question allows:

- features for ``c`` may read interactions with ``timestamp < c`` (:func:`before`) and
  departures known at ``c`` (:func:`known_departures`);
- labels for ``c`` look at the horizon after it (:func:`churn_labels`), so a training
  cut-off is only usable when ``c + horizon <= as_of`` (:func:`training_cutoffs`).

Two churn definitions (see ``docs/INTERNALS.md``):

``contract``
    From the customer table's ``churn_date`` ``d``: the customer is gone from day ``d`` on.
    Active at ``c`` when ``d`` is NaT or ``d > c``; churned in the horizon ``h`` when
    ``c < d <= c + h``.
``inactivity``
    Prepaid style, from outgoing interactions (``src``): active at ``c`` when it made at least
    one outgoing interaction in ``[c - active_window, c)``; churned when it makes none in
    ``[c, c + h)``.

References
----------
.. [1] W. Verbeke, D. Martens, B. Baesens, "Social network analysis for customer churn
   prediction", Applied Soft Computing 14 (2014) 431-446 (prepaid inactivity churn labels
   built from call detail records).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphchurn.errors import InputError

__all__ = [
    "default_as_of",
    "before",
    "training_cutoffs",
    "resolve_churn_definition",
    "active_at",
    "churn_labels",
    "known_departures",
]

DEFINITIONS = ("contract", "inactivity")


# --------------------------------------------------------------------------- helpers


def _days(days, option: str) -> pd.Timedelta:
    """A positive number of days as a Timedelta; nonsense is the user's option to fix."""
    try:
        value = float(days)
    except (TypeError, ValueError):
        raise InputError(f"expected a number of days, got {days!r}", parameter=option) from None
    if not np.isfinite(value) or value <= 0:
        raise InputError(f"expected a positive number of days, got {days!r}", parameter=option)
    return pd.Timedelta(days=value)


def _check_definition(definition: str) -> None:
    if definition not in DEFINITIONS:
        raise InputError(
            f"unknown churn definition {definition!r}; use contract or inactivity",
            parameter="definition",
        )


def _has_churn_dates(customers: pd.DataFrame | None) -> bool:
    return (
        customers is not None
        and "churn_date" in customers.columns
        and bool(customers["churn_date"].notna().any())
    )


def _require_contract_table(customers: pd.DataFrame | None) -> None:
    if customers is None or "churn_date" not in customers.columns:
        raise InputError(
            "the contract churn definition needs a customer table with a churn_date column",
            parameter="definition",
        )


def _as_index(ids, *, name: str = "customer_id") -> pd.Index:
    return pd.Index(ids, name=name)


def _between(interactions: pd.DataFrame, start: pd.Timestamp, stop: pd.Timestamp) -> pd.DataFrame:
    """Rows with ``start <= timestamp < stop`` (binary search when the log is sorted)."""
    ts = interactions["timestamp"]
    if ts.is_monotonic_increasing:
        values = ts.to_numpy()
        lo = np.searchsorted(values, np.datetime64(start, "ns"), side="left")
        hi = np.searchsorted(values, np.datetime64(stop, "ns"), side="left")
        return interactions.iloc[lo:hi]
    return interactions[(ts >= start) & (ts < stop)]


def _senders(interactions: pd.DataFrame, start: pd.Timestamp, stop: pd.Timestamp) -> pd.Index:
    """Identifiers with at least one outgoing interaction in ``[start, stop)``."""
    src = _between(interactions, start, stop)["src"]
    if isinstance(src.dtype, pd.CategoricalDtype):
        # A log coded by graph.encode_ids: unique integer codes, not strings (sorted by id).
        codes = np.unique(src.cat.codes.to_numpy())
        return pd.Index(src.cat.categories[codes[codes >= 0]])
    return pd.Index(pd.unique(src))


# --------------------------------------------------------------------------- public API


def default_as_of(interactions: pd.DataFrame) -> pd.Timestamp:
    """The default scoring moment: midnight of the day after the last interaction.

    Parameters
    ----------
    interactions : pandas.DataFrame
        Interactions frame (``timestamp`` column, datetime64).

    Returns
    -------
    pandas.Timestamp
        ``floor(max(timestamp), day) + 1 day``.

    Example
    -------
    >>> log = pd.DataFrame({"timestamp": pd.to_datetime(["2024-03-01 10:00", "2024-03-05 23:59"])})
    >>> default_as_of(log)
    Timestamp('2024-03-06 00:00:00')
    """
    if len(interactions) == 0 or interactions["timestamp"].isna().all():
        raise InputError("no interactions with a timestamp; cannot choose an as-of date",
                         parameter="as_of")
    return interactions["timestamp"].max().normalize() + pd.Timedelta(days=1)


def before(interactions: pd.DataFrame, cutoff) -> pd.DataFrame:
    """The rows features for ``cutoff`` may read: ``timestamp < cutoff``.

    Parameters
    ----------
    interactions : pandas.DataFrame
        Interactions frame.
    cutoff : pandas.Timestamp or str
        The cut-off (midnight).

    Returns
    -------
    pandas.DataFrame
        The rows strictly before ``cutoff``, same columns (a slice when the log is sorted by
        time, so it is cheap).

    Example
    -------
    >>> log = pd.DataFrame({"src": ["a", "b"], "dst": ["b", "a"],
    ...                     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    >>> len(before(log, pd.Timestamp("2024-01-02")))
    1
    """
    cutoff = pd.Timestamp(cutoff)
    ts = interactions["timestamp"]
    if ts.is_monotonic_increasing:
        hi = np.searchsorted(ts.to_numpy(), np.datetime64(cutoff, "ns"), side="left")
        return interactions.iloc[:hi]
    return interactions[ts < cutoff]


def training_cutoffs(as_of, horizon_days, n_cutoffs: int = 3, step_days=None) -> list[pd.Timestamp]:
    """Training cut-offs whose labels are fully known by ``as_of``, newest first.

    ``as_of - horizon``, ``as_of - horizon - step``, ... so the newest cut-off's horizon ends
    exactly at ``as_of``.

    Parameters
    ----------
    as_of : pandas.Timestamp or str
        The scoring moment.
    horizon_days : int or float
        Label horizon in days.
    n_cutoffs : int, default 3
        How many cut-offs.
    step_days : int or float, optional
        Days between consecutive cut-offs; defaults to ``horizon_days`` (non-overlapping
        label windows).

    Returns
    -------
    list of pandas.Timestamp

    Example
    -------
    >>> training_cutoffs("2024-04-01", 30, n_cutoffs=2)
    [Timestamp('2024-03-02 00:00:00'), Timestamp('2024-02-01 00:00:00')]
    """
    as_of = pd.Timestamp(as_of)
    horizon = _days(horizon_days, "horizon_days")
    step = horizon if step_days is None else _days(step_days, "step_days")
    if int(n_cutoffs) != n_cutoffs or n_cutoffs < 1:
        raise InputError(f"expected at least one cut-off, got {n_cutoffs!r}", parameter="n_cutoffs")
    return [as_of - horizon - i * step for i in range(int(n_cutoffs))]


def resolve_churn_definition(customers: pd.DataFrame | None, requested: str | None = None) -> str:
    """Choose the churn definition: the user's, else contract when churn dates exist.

    Parameters
    ----------
    customers : pandas.DataFrame or None
        Customers frame (may lack ``churn_date`` or have it all NaT).
    requested : {"contract", "inactivity"}, optional
        The requested definition ("contract" or "inactivity"; None chooses).

    Returns
    -------
    str
        ``"contract"`` or ``"inactivity"``.

    Raises
    ------
    InputError
        ``requested`` is unknown, or is ``"contract"`` while the customer table has no churn
        date at all.

    Example
    -------
    >>> resolve_churn_definition(None)
    'inactivity'
    """
    if requested is not None:
        _check_definition(requested)
    if requested == "inactivity":
        return "inactivity"
    if _has_churn_dates(customers):
        return "contract"
    if requested == "contract":
        what = ("no customer table was given" if customers is None
                else "the customer table has no churn_date values")
        raise InputError(f"the contract definition needs churn dates, but {what}", parameter="definition")
    return "inactivity"


def active_at(interactions: pd.DataFrame, customers: pd.DataFrame | None, cutoff, definition: str,
              active_window_days) -> pd.Index:
    """Customers still active at ``cutoff`` (the population scored or labelled there).

    Parameters
    ----------
    interactions : pandas.DataFrame
        Interactions frame.
    customers : pandas.DataFrame or None
        Customers frame; required for ``"contract"``.
    cutoff : pandas.Timestamp or str
        The cut-off.
    definition : {"contract", "inactivity"}
    active_window_days : int or float
        Inactivity only: length of the window ``[cutoff - window, cutoff)`` in which a customer
        must have made an outgoing interaction.

    Returns
    -------
    pandas.Index
        ``customer_id`` values. ``contract``: every customer of the table with ``churn_date``
        NaT or after ``cutoff``, in table order, including customers without interactions.
        ``inactivity``: identifiers with an outgoing interaction in the window; with a customer
        table only its ids (table order) that have not departed by ``churn_date <= cutoff``;
        without one, every such identifier (sorted). With a ``start_date`` column, customers
        whose contract starts on or after the cut-off's day are not customers there yet
        (without it, a customer who joined later would look like a silent stayer at an
        earlier training cut-off).

    Notes
    -----
    Reads only interactions in ``[cutoff - window, cutoff)`` and churn dates compared with
    ``cutoff``, so rows after ``cutoff`` never change the answer.

    Example
    -------
    >>> log = pd.DataFrame({"src": ["a", "b"], "dst": ["b", "a"],
    ...                     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-20"])})
    >>> list(active_at(log, None, "2024-01-25", "inactivity", 10))
    ['b']
    """
    _check_definition(definition)
    cutoff = pd.Timestamp(cutoff)
    if definition == "contract":
        _require_contract_table(customers)
        d = customers["churn_date"]
        keep = (d.isna() | (d > cutoff)).to_numpy() & _started(customers, cutoff)
        return _as_index(customers["customer_id"].to_numpy()[keep])

    window = _days(active_window_days, "active_window_days")
    senders = _senders(interactions, cutoff - window, cutoff)
    if customers is None:
        return _as_index(senders.sort_values().to_numpy(dtype=object))
    keep = customers["customer_id"].isin(senders)
    if "churn_date" in customers.columns:
        d = customers["churn_date"]
        keep &= d.isna() | (d > cutoff)
    keep = keep.to_numpy() & _started(customers, cutoff)
    return _as_index(customers["customer_id"].to_numpy()[keep])


def _started(customers: pd.DataFrame, cutoff: pd.Timestamp) -> np.ndarray:
    """Customers whose contract began before ``cutoff`` (all when there is no ``start_date``:
    a customer without one counts as a customer all along)."""
    if "start_date" not in customers.columns:
        return np.ones(len(customers), dtype=bool)
    start = customers["start_date"]
    return (start.isna() | (start < cutoff)).to_numpy()


def churn_labels(interactions: pd.DataFrame, customers: pd.DataFrame | None, cutoff, horizon_days,
                 definition: str, active_window_days=None) -> pd.Series:
    """Churn labels at ``cutoff`` for every customer active there.

    Parameters
    ----------
    interactions : pandas.DataFrame
        Interactions frame.
    customers : pandas.DataFrame or None
        Customers frame; required for ``"contract"``.
    cutoff : pandas.Timestamp or str
        The cut-off.
    horizon_days : int or float
        Horizon ``h`` in days.
    definition : {"contract", "inactivity"}
    active_window_days : int or float, optional
        Inactivity active window; defaults to ``horizon_days``.

    Returns
    -------
    pandas.Series
        int8, named ``churned``, indexed by ``customer_id`` (:func:`active_at` order).
        ``contract``: 1 iff ``cutoff < churn_date <= cutoff + h``.
        ``inactivity``: 1 iff no outgoing interaction in ``[cutoff, cutoff + h)``.

    Example
    -------
    >>> log = pd.DataFrame({"src": ["a", "b", "b"], "dst": ["b", "a", "a"],
    ...     "timestamp": pd.to_datetime(["2024-01-20", "2024-01-20", "2024-02-01"])})
    >>> churn_labels(log, None, "2024-01-25", 30, "inactivity").to_dict()
    {'a': 1, 'b': 0}
    """
    _check_definition(definition)
    cutoff = pd.Timestamp(cutoff)
    horizon = _days(horizon_days, "horizon_days")
    if active_window_days is None:
        active_window_days = horizon_days
    population = active_at(interactions, customers, cutoff, definition, active_window_days)
    if definition == "contract":
        dates = customers.set_index("customer_id")["churn_date"].reindex(population)
        churned = (dates > cutoff) & (dates <= cutoff + horizon)
    else:
        still_calling = _senders(interactions, cutoff, cutoff + horizon)
        churned = ~population.isin(still_calling)
    values = np.asarray(churned, dtype=np.int8)
    return pd.Series(values, index=population, name="churned", dtype=np.int8)


def known_departures(interactions: pd.DataFrame, customers: pd.DataFrame | None, cutoff,
                     definition: str, horizon_days) -> pd.Series:
    """Departures already known at ``cutoff`` (for "recent leavers" exposure features).

    Parameters
    ----------
    interactions : pandas.DataFrame
        Interactions frame (only rows before ``cutoff`` are read).
    customers : pandas.DataFrame or None
        Customers frame; required for ``"contract"``. With ``"inactivity"`` it restricts the
        answer to its ids (off-net numbers never depart).
    cutoff : pandas.Timestamp or str
        The cut-off.
    definition : {"contract", "inactivity"}
    horizon_days : int or float
        Horizon ``h``: an inactivity departure is only confirmed after ``h`` silent days.

    Returns
    -------
    pandas.Series
        datetime64 departure dates named ``departure_date``, indexed by ``customer_id``.
        ``contract``: customers with ``churn_date <= cutoff`` (date = ``churn_date``).
        ``inactivity``: with ``t`` the last outgoing interaction before ``cutoff`` and
        ``D = floor(t, day) + 1 day`` (the departure date), customers with ``D + h <= cutoff``:
        the same silence over ``[D, D + h)`` that :func:`churn_labels` calls churn at cut-off
        ``D``, fully observed before ``cutoff``.

    Example
    -------
    >>> log = pd.DataFrame({"src": ["a", "b"], "dst": ["b", "a"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 09:00", "2024-01-25 18:00"])})
    >>> known_departures(log, None, "2024-01-31", "inactivity", 10).to_dict()
    {'a': Timestamp('2024-01-02 00:00:00')}
    """
    _check_definition(definition)
    cutoff = pd.Timestamp(cutoff)
    horizon = _days(horizon_days, "horizon_days")
    if definition == "contract":
        _require_contract_table(customers)
        d = customers["churn_date"]
        gone = (d <= cutoff).to_numpy()
        out = pd.Series(d.to_numpy()[gone], index=_as_index(customers["customer_id"].to_numpy()[gone]),
                        name="departure_date")
        return out.astype("datetime64[ns]")

    past = before(interactions, cutoff)
    last = past.groupby("src", sort=True, observed=True)["timestamp"].max()
    departure = last.dt.normalize() + pd.Timedelta(days=1)
    departure = departure[departure + horizon <= cutoff]
    if customers is not None:
        departure = departure[departure.index.isin(customers["customer_id"])]
    out = pd.Series(departure.to_numpy(), index=_as_index(departure.index.to_numpy(dtype=object)),
                    name="departure_date")
    return out.astype("datetime64[ns]")
