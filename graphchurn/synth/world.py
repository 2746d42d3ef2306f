"""Synthetic telecom worlds with planted truth: communities, households, influencers, contagion.

A world is a population of people (customers of the operator and off-net contacts), a weighted
social network between them, a daily log of calls and SMS drawn from that network, and a churn
process in discrete days in which leaving is contagious. Everything a model could be asked to
recover is kept as ``truth``: community and household of every customer, who the influencers
are, and the true churn hazard at the end (and at chosen days), together with the best
forecast a model of the data could make at those days (a Bayes posterior, see
``World.log_forecast_snapshots``).

The model
---------
Population and attributes
    ``n_customers`` customers plus ``n_offnet = n_customers * offnet_share / (1 - offnet_share)``
    off-net people (customers of other operators: they appear in the log as the other end of a
    call, never in the customer table, never churn). Customers have ``tenure_months``, ``plan``
    (prepaid / postpaid / family; family for customers sharing a household with another
    customer), ``value`` (monthly revenue, log-normal around a plan-specific median), ``age``
    (community-homophilous), ``region`` (mostly the community's home region) and
    ``support_contacts`` (Poisson, more for customers whose hidden frailty makes them risky).
Social network: a degree-corrected planted partition
    Community sizes follow a truncated power law on ``community_sizes`` (8..300 by default).
    Each person has a degree propensity ``theta ~ Pareto(degree_tail)`` (heavy tailed;
    influencers get ``influencer_degree_boost`` times more). Ties are drawn as in the Poisson
    degree-corrected stochastic block model of Karrer & Newman (2011) restricted to a planted
    partition: a share ``1 - mixing`` of a person's expected degree is spent inside its community
    with endpoints chosen proportionally to ``theta`` (Chung-Lu within the block), the rest
    anywhere; multi-edges are merged and self-loops dropped. Households of 2-5 people are cut out
    of communities and fully connected with the strongest ties.
Tie strength and traffic
    Tie strength is log-normal: households strongest, ties across communities weakest. Each
    direction ``u -> v`` of a tie carries a Poisson number of interactions a day with mean
    ``k * strength * activity_u`` (influencers have higher outgoing activity), scaled by a weekly
    rhythm and calibrated so that the log has about ``interactions_per_customer_day`` rows per
    customer per day. Each interaction is an SMS with a probability that falls with the sender's
    age, otherwise a call with a log-normal duration (longer inside households); timestamps
    follow a daily rhythm (quiet nights, evening peak, later weekends). Only interactions with at
    least one customer end are logged (the operator never sees off-net to off-net traffic).
Churn: contagious hazard in discrete days
    A customer at risk decides to leave on day ``t`` with probability ::

        h_i(t) = h0_i(t) * (1 + contagion_strength * E_i(t))
        log h0_i(t) = b + 0.7 prepaid - 0.4 family + 1.0 exp(-tenure_i(t) / 12)
                      + 0.2 support_contacts + 0.5 frailty - 0.4 log(value / 25)
        E_i(t) = sum_j w_ij m_j [j left in (t - contagion_window, t]] / sum_j w_ij

    where ``m_j = influencer_contagion`` for an influencer and 1 otherwise, and ``b`` is set so
    that, without contagion, a customer's chance of deciding to leave within 30 days of the
    start is ``monthly_churn`` on average. This is the
    social-contagion view of churn of Dasgupta et al. (2008): a customer's risk rises with the
    share of its tie strength to recent leavers. A customer who decides on day ``t`` leaves on
    day ``t + L_i`` with ``L_i`` uniform on ``fade_days`` (14..21 by default); in between, its
    traffic (both directions) fades linearly to zero, and from the churn day on it makes and
    receives nothing. Before day 0, customers may already be fading out (decisions on days
    ``-L_max..-1`` at the baseline hazard, kept only if the departure falls on day 1 or later).

Randomness is split into independent streams (structure; churn decisions, one uniform per
customer per day; traffic, one stream per day), so that worlds differing only in
``contagion_strength`` or ``forced_departures`` share the same network and the same draws: a
counterfactual world differs from the factual one only through what the change causes.

References
----------
Karrer, B. & Newman, M. E. J. (2011). Stochastic blockmodels and community structure in
networks. Physical Review E 83, 016107.
Chung, F. & Lu, L. (2002). Connected components in random graphs with given expected degree
sequences. Annals of Combinatorics 6, 125-145.
Dasgupta, K., Singh, R., Viswanathan, B., Chakraborty, D., Mukherjea, S., Nanavati, A. A. &
Joshi, A. (2008). Social ties and their relevance to churn in mobile telecom networks. EDBT.
Onnela, J.-P. et al. (2007). Structure and tie strengths in mobile communication networks.
PNAS 104, 7332-7336.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.polynomial.hermite_e import hermegauss
from scipy import sparse
from scipy.special import logsumexp
from scipy.stats import poisson

from graphchurn.io.atomic import atomic_write
from graphchurn.errors import InputError

__all__ = ["World", "generate_world", "write_world"]

PLANS = ("prepaid", "postpaid", "family")
REGIONS = (
    "London",
    "South East",
    "South West",
    "Midlands",
    "East",
    "North West",
    "North East",
    "Scotland",
    "Wales",
)
_REGION_WEIGHTS = np.array([0.2, 0.15, 0.1, 0.14, 0.1, 0.12, 0.07, 0.08, 0.04])

# Relative call/SMS volume by hour of day (0..23): quiet nights, midday plateau, evening peak.
_HOURS_WEEKDAY = np.array(
    [0.25, 0.12, 0.06, 0.04, 0.04, 0.08, 0.3, 0.75, 1.1, 1.2, 1.25, 1.25,
     1.35, 1.25, 1.15, 1.15, 1.25, 1.45, 1.65, 1.75, 1.6, 1.3, 0.9, 0.5]
)
# Weekends start later and stay busy through the afternoon.
_HOURS_WEEKEND = np.array(
    [0.45, 0.25, 0.12, 0.06, 0.04, 0.04, 0.1, 0.25, 0.55, 0.9, 1.2, 1.35,
     1.45, 1.45, 1.4, 1.35, 1.35, 1.4, 1.5, 1.55, 1.45, 1.2, 0.9, 0.65]
)
# Traffic by day of week (Monday = 0), normalised to mean 1.
_WEEKDAY_FACTOR = np.array([1.0, 1.02, 1.02, 1.04, 1.12, 0.95, 0.8])
_WEEKDAY_FACTOR = _WEEKDAY_FACTOR / _WEEKDAY_FACTOR.mean()

_NEVER = np.iinfo(np.int32).max  # churn day of a customer who never leaves
_SECONDS_PER_DAY = 86_400
_NS = 1_000_000_000


@dataclass
class World:
    """A generated telecom world and its planted truth.

    Attributes
    ----------
    interactions : DataFrame
        The log (see docs/INTERNALS.md): ``src``, ``dst`` (str phone numbers), ``timestamp``
        (datetime64[ns]), ``duration`` (float64 seconds; 0 for SMS), ``kind`` (call | sms),
        sorted by timestamp.
    customers : DataFrame
        ``customer_id``, ``churn_date`` (NaT while still a customer at the end), ``value``,
        ``tenure_months`` (at the start date), ``plan``, ``age``, ``region``,
        ``support_contacts`` (in the 90 days before the start).
    truth : DataFrame
        One row per customer, same order as ``customers``: ``community``, ``household`` (-1 when
        none), ``is_influencer``, ``fade_days`` (L_i), ``decision_date`` and
        ``true_churn_date`` (also for departures scheduled after the end), ``baseline_hazard_end``,
        ``exposure_end``, ``hazard_end`` (true daily hazard at the end; 1.0 if the customer has
        already decided to leave, NaN if gone) and ``p_churn_30d`` (true probability of a churn
        date in ``(end, end + 30 days]``).
    ties : DataFrame
        The true social network over all people (customers and off-net): ``a``, ``b`` (str ids),
        ``weight`` (tie strength), ``household``, ``within_community`` (bool).
    start : Timestamp
        Midnight of day 0; the log covers ``[start, end)``.
    days : int
        Number of simulated days.
    seed : int
        The seed the world was generated with.
    params : dict
        Every knob the world was generated with.
    hazard_snapshots : DataFrame or None
        With ``hazard_days``: index ``customer_id``, one column per requested day ``d`` holding
        the true daily hazard at cut-off ``start + d`` (1.0 for customers who have decided to
        leave but not yet left, NaN for customers already gone).
    log_forecast_snapshots : DataFrame or None
        With ``hazard_days``: same shape, the best forecast a model could make from the data:
        ``P(churn date in (start + d, start + d + 30 days] | the log before start + d, the
        customer table, the generator's parameters)``, a Bayes posterior that integrates out
        what the data do not show (frailty, whether and when a customer has already decided
        to leave). This, not ``hazard_snapshots``, is the ceiling for a model of the log. NaN
        for customers already gone and for days ``d <= fade_days[1]``.
    """

    interactions: pd.DataFrame
    customers: pd.DataFrame
    truth: pd.DataFrame
    ties: pd.DataFrame
    start: pd.Timestamp
    days: int
    seed: int
    params: dict = field(default_factory=dict)
    hazard_snapshots: pd.DataFrame | None = None
    log_forecast_snapshots: pd.DataFrame | None = None

    @property
    def end(self) -> pd.Timestamp:
        """Midnight after the last simulated day (the natural as-of of the world)."""
        return self.start + pd.Timedelta(days=self.days)


# ---------------------------------------------------------------------------- public API
def generate_world(
    n_customers: int = 2000,
    days: int = 120,
    seed: int = 0,
    *,
    start: str | pd.Timestamp = "2025-01-01",
    offnet_share: float = 0.10,
    mean_degree: float = 12.0,
    degree_tail: float = 1.8,
    community_sizes: tuple[int, int] = (8, 300),
    community_size_exponent: float = 1.5,
    mixing: float = 0.2,
    household_share: float = 0.4,
    influencer_share: float = 0.03,
    influencer_degree_boost: float = 4.0,
    influencer_activity: float = 2.0,
    interactions_per_customer_day: float = 1.2,
    monthly_churn: float = 0.025,
    contagion_strength: float = 15.0,
    influencer_contagion: float = 3.0,
    contagion_window: int = 30,
    fade_days: tuple[int, int] = (14, 21),
    hazard_days=None,
    forced_departures: dict | None = None,
    retained: dict | None = None,
    traffic_days: int | None = None,
) -> World:
    """Generate a synthetic telecom world with planted communities, influencers and contagion.

    Parameters
    ----------
    n_customers : int
        Customers of the operator (rows of ``customers``).
    days : int
        Days of traffic; the log covers ``[start, start + days)``.
    seed : int
        Non-negative seed; same arguments and seed give an identical world.
    start : str or Timestamp
        Date of day 0.
    offnet_share : float
        Share of people in the social world who are off-net (not customers), hence roughly
        the share of distinct identifiers in the log that are not in the customer table.
    mean_degree : float
        Nominal mean number of ties per person before caps and merging of duplicates.
    degree_tail : float
        Pareto shape of the degree propensity (smaller = heavier tail).
    community_sizes : (int, int)
        Smallest and largest community size.
    community_size_exponent : float
        Exponent of the power law of community sizes.
    mixing : float
        Share of a person's ties that leave its community.
    household_share : float
        Share of people living in a household of 2-5 members.
    influencer_share : float
        Share of customers planted as influencers.
    influencer_degree_boost, influencer_activity : float
        Multipliers of an influencer's degree propensity and outgoing activity.
    interactions_per_customer_day : float
        Target rows of the log per customer per day (before churn thins it).
    monthly_churn : float
        Mean over customers of the probability of deciding to leave within 30 days of the
        start without contagion (the realised rate then drifts down as the riskiest leave
        and tenures grow, and up with contagion).
    contagion_strength : float
        ``gamma`` in ``h = h0 * (1 + gamma * E)``; 0 switches contagion off.
    influencer_contagion : float
        Weight of an influencer leaver in the exposure ``E``.
    contagion_window : int
        Days a departure keeps exposing the leaver's contacts.
    fade_days : (int, int)
        Smallest and largest delay between deciding to leave and the churn date (inclusive);
        traffic fades to zero over it.
    hazard_days : sequence of int, optional
        Days (0..days, counted from ``start``) at which to record every customer's true
        hazard in ``World.hazard_snapshots`` and the best forecast from the log in
        ``World.log_forecast_snapshots``. The forecast keeps the last ``fade_days[1]`` days of
        per-customer evidence on a grid of 31 frailty values, which makes generation several
        times slower (docs/results.md), so ask for it on experiment-sized worlds.
    forced_departures : dict, optional
        ``{customer_id: day}``: these customers leave on that day (>= 1) whatever their
        hazard; their traffic fades over the ``L_i`` days before. Everything else is drawn as
        without the forcing, so the result is the counterfactual of the world without it.
    retained : dict, optional
        ``{customer_id: [(first_day, last_day), ...]}``: retention campaigns. On ``first_day``
        a pending decision to leave is cancelled, and no new decision is taken on days
        ``first_day <= t < last_day`` (the campaign simulator's responders).
    traffic_days : int, optional
        Draw traffic only on the first ``traffic_days`` days (default: all ``days``); churn,
        the customer table and the truth still cover all ``days``. Traffic never changes who
        leaves (its random draws are separate), so a caller that reads only departures (the
        campaign simulator) skips the log nobody reads. Not with ``hazard_days``, whose log
        forecast reads the traffic.

    Returns
    -------
    World

    Example
    -------
    >>> world = generate_world(n_customers=300, days=30, seed=1)
    >>> sorted(world.interactions.columns) == sorted(["src", "dst", "timestamp", "duration", "kind"])
    True
    >>> bool(world.customers["customer_id"].str.startswith("+447").all())
    True

    References
    ----------
    Karrer & Newman (2011), Phys. Rev. E 83, 016107 (degree-corrected block model).
    Dasgupta et al. (2008), EDBT (social ties and churn contagion in telecom networks).
    """
    params = dict(
        n_customers=n_customers, days=days, seed=seed, start=str(pd.Timestamp(start).date()),
        offnet_share=offnet_share, mean_degree=mean_degree, degree_tail=degree_tail,
        community_sizes=tuple(community_sizes), community_size_exponent=community_size_exponent,
        mixing=mixing, household_share=household_share, influencer_share=influencer_share,
        influencer_degree_boost=influencer_degree_boost, influencer_activity=influencer_activity,
        interactions_per_customer_day=interactions_per_customer_day, monthly_churn=monthly_churn,
        contagion_strength=contagion_strength, influencer_contagion=influencer_contagion,
        contagion_window=contagion_window, fade_days=tuple(fade_days),
    )
    _check_params(params)
    start_ts = pd.Timestamp(start).normalize()
    days = int(days)
    rng = np.random.default_rng([int(seed), 0])

    people = _people(params, rng)
    net = _network(people, params, rng)
    attrs = _attributes(people, net, params, rng)
    hazard = _Hazard(people, net, attrs, params)

    n = people.n_customers
    snap_days = _check_hazard_days(hazard_days, days)
    traffic_days = days if traffic_days is None else int(traffic_days)
    if not 0 <= traffic_days <= days:
        raise InputError(f"traffic_days must lie in 0..{days}", file="generate_world")
    if snap_days and traffic_days < days:
        raise InputError("hazard_days need the traffic of every day (the log forecast reads it)",
                         file="generate_world")
    forced_day = _forced_days(forced_departures, people, n)
    kept = _retained_windows(retained, people, n)
    log, churn, snapshots, forecasts = _simulate(people, net, attrs, hazard, params, start_ts, days,
                                      int(seed), snap_days, forced_day, kept, traffic_days)

    interactions = _interactions_frame(log, people.ids, start_ts)
    customers = _customers_frame(people, attrs, churn, start_ts, days)
    truth = _truth_frame(people, net, attrs, hazard, churn, start_ts, days, params)
    ties = _ties_frame(net, people.ids)
    snap_frame = forecast_frame = None
    if snap_days:
        index = pd.Index(customers["customer_id"], name="customer_id")
        snap_frame = pd.DataFrame({d: snapshots[d] for d in snap_days}, index=index)
        forecast_frame = pd.DataFrame({d: forecasts[d] for d in snap_days}, index=index)
        snap_frame.columns.name = forecast_frame.columns.name = "day"
    params["hazard_days"] = list(snap_days)
    params["traffic_days"] = traffic_days
    params["forced_departures"] = len(forced_departures or {})
    return World(interactions=interactions, customers=customers, truth=truth, ties=ties,
                 start=start_ts, days=days, seed=int(seed), params=params,
                 hazard_snapshots=snap_frame, log_forecast_snapshots=forecast_frame)


def write_world(world: World, out_dir, fmt: str = "csv") -> dict:
    """Write a world's ``interactions``, ``customers.csv`` and ``truth.csv`` into ``out_dir``.

    Each file is written under a temporary name in ``out_dir`` and moved into place with
    :func:`os.replace`, so a reader never sees a half-written file.

    Parameters
    ----------
    world : World
    out_dir : str or Path
        Created if missing.
    fmt : {"csv", "parquet"}
        ``csv`` writes ``interactions.csv.gz`` (timestamps ``YYYY-MM-DDTHH:MM:SS``, durations
        in whole seconds); ``parquet`` writes ``interactions.parquet`` with the frame's dtypes.

    Returns
    -------
    dict
        ``{"interactions": path, "customers": path, "truth": path}``.

    Example
    -------
    >>> import tempfile
    >>> paths = write_world(generate_world(200, 20, seed=3), tempfile.mkdtemp())
    >>> sorted(p.name for p in paths.values())
    ['customers.csv', 'interactions.csv.gz', 'truth.csv']
    """
    if fmt not in ("csv", "parquet"):
        raise InputError(f"unknown format {fmt!r}: use csv or parquet", file="--format")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    if fmt == "csv":
        paths["interactions"] = atomic_write(out / "interactions.csv.gz",
                                        lambda p: _write_interactions_csv(world.interactions, p))
    else:
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(world.interactions, preserve_index=False)
        paths["interactions"] = atomic_write(out / "interactions.parquet",
                                        lambda p: pq.write_table(table, p))
    paths["customers"] = atomic_write(out / "customers.csv",
                                 lambda p: _dated_csv(world.customers, p))
    paths["truth"] = atomic_write(out / "truth.csv", lambda p: _dated_csv(world.truth, p))
    return paths


# ---------------------------------------------------------------------------- checks
def _check_params(p: dict) -> None:
    def bad(name, why):
        raise InputError(f"{name} {why}", file="generate_world")

    if int(p["n_customers"]) < 1:
        bad("n_customers", "must be at least 1")
    if int(p["days"]) < 1:
        bad("days", "must be at least 1")
    if int(p["seed"]) < 0:
        bad("seed", "must be a non-negative integer")
    if not 0 <= p["offnet_share"] < 1:
        bad("offnet_share", "must be in [0, 1)")
    if not 0 <= p["mixing"] <= 1:
        bad("mixing", "must be in [0, 1]")
    if not 0 <= p["household_share"] <= 1:
        bad("household_share", "must be in [0, 1]")
    if not 0 <= p["influencer_share"] <= 1:
        bad("influencer_share", "must be in [0, 1]")
    lo, hi = p["community_sizes"]
    if not 2 <= lo <= hi:
        bad("community_sizes", "must be (min, max) with 2 <= min <= max")
    f_lo, f_hi = p["fade_days"]
    if not 1 <= f_lo <= f_hi:
        bad("fade_days", "must be (min, max) with 1 <= min <= max")
    if p["mean_degree"] <= 0 or p["degree_tail"] <= 0:
        bad("mean_degree and degree_tail", "must be positive")
    if not 0 <= p["monthly_churn"] < 1:
        bad("monthly_churn", "must be in [0, 1)")
    if p["contagion_strength"] < 0 or p["influencer_contagion"] < 0:
        bad("contagion_strength and influencer_contagion", "must be >= 0")
    if int(p["contagion_window"]) < 1:
        bad("contagion_window", "must be at least 1 day")
    if p["interactions_per_customer_day"] < 0:
        bad("interactions_per_customer_day", "must be >= 0")


def _check_hazard_days(hazard_days, days: int) -> list[int]:
    if hazard_days is None:
        return []
    out = sorted({int(d) for d in hazard_days})
    if out and (out[0] < 0 or out[-1] > days):
        raise InputError(f"hazard_days must lie in 0..{days}", file="generate_world")
    return out


def _retained_windows(retained, people, n: int):
    """Retention windows as layers of ``(first, last)`` day arrays (-1: none), or None."""
    if not retained:
        return None
    lookup = {cid.decode(): i for i, cid in enumerate(people.ids[:n])}
    layers = []
    for cid, spec in retained.items():
        if str(cid) not in lookup:
            raise InputError(f"retained customer {cid!r} is not a customer of this world",
                             file="retained")
        windows = [spec] if np.ndim(spec) == 1 else list(spec)
        for k, (a, b) in enumerate(windows):
            if k == len(layers):
                layers.append((np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)))
            layers[k][0][lookup[str(cid)]], layers[k][1][lookup[str(cid)]] = int(a), int(b)
    return layers


def _forced_days(forced, people, n: int) -> np.ndarray:
    """Per-customer forced churn day (``_NEVER`` when not forced)."""
    day = np.full(n, _NEVER, dtype=np.int64)
    if not forced:
        return day
    keys = pd.Index([str(k) for k in forced.keys()])
    values = np.asarray([int(v) for v in forced.values()], dtype=np.int64)
    pos = pd.Index(_str_series(people.ids, np.arange(n))).get_indexer(keys)
    if (pos < 0).any():
        # Never echo the identifiers themselves: they are phone numbers.
        raise InputError(f"forced_departures: {(pos < 0).sum()} id(s) are not customers of "
                         "this world", file="generate_world")
    if (values < 1).any():
        raise InputError("forced_departures: days must be >= 1", file="generate_world")
    day[pos] = values
    return day


# ---------------------------------------------------------------------------- population
@dataclass
class _People:
    n_customers: int
    n: int                      # customers + off-net people; customers are codes 0..n_customers-1
    ids: np.ndarray             # phone numbers, bytes (S13)
    community: np.ndarray       # int32
    community_size: np.ndarray  # per community
    slot_order: np.ndarray      # people in community-block order (random within a block)
    theta: np.ndarray           # degree propensity
    activity: np.ndarray        # outgoing activity
    influencer: np.ndarray      # bool (customers only can be True)
    age: np.ndarray             # int16


def _phone_numbers(n: int, rng) -> np.ndarray:
    """``n`` distinct UK-mobile-looking numbers ``+447`` + 9 digits (bytes), in random order."""
    digits = rng.choice(10**9, size=n, replace=False)
    return np.char.add(b"+447", np.char.zfill(digits.astype("S9"), 9))


def _strings(table: np.ndarray, codes: np.ndarray, lengths=None) -> pa.LargeStringArray:
    """``table[codes]`` as an Arrow large_string array, built straight from the bytes.

    ``table`` is a fixed-width bytes array (``S<w>``; shorter entries are NUL padded) and
    ``lengths`` its entries' lengths (computed when not given). Going through buffers avoids a
    Python object per row and a per-row copy in ``take``.
    """
    width = table.dtype.itemsize
    if lengths is None:
        lengths = np.char.str_len(table).astype(np.int64)
    picked = table[codes]
    offsets = np.zeros(len(picked) + 1, dtype=np.int64)
    if (lengths == width).all():
        offsets[1:] = width * np.arange(1, len(picked) + 1, dtype=np.int64)
        data = picked.view(np.uint8)
    else:
        row_len = lengths[codes]
        np.cumsum(row_len, out=offsets[1:])
        data = picked.view(np.uint8).reshape(-1, width)[np.arange(width) < row_len[:, None]]
    return pa.LargeStringArray.from_buffers(len(picked), pa.py_buffer(offsets),
                                            pa.py_buffer(np.ascontiguousarray(data)))


def _str_series(table: np.ndarray, codes: np.ndarray) -> pd.Series:
    return pd.Series(_strings(table, codes), dtype="str")


def _power_law_sizes(total: int, lo: int, hi: int, exponent: float, rng) -> np.ndarray:
    """Integer sizes from a power law truncated to [lo, hi] that sum exactly to ``total``."""
    if total <= hi:
        return np.array([total], dtype=np.int64)
    a = 1.0 - exponent
    x = np.linspace(lo, hi + 1, 10_000)
    if abs(a) < 1e-9:
        mean = (hi + 1 - lo) / np.log((hi + 1) / lo)
    else:
        pdf = x ** (-exponent)
        mean = float((x * pdf).sum() / pdf.sum())
    n_draw = int(1.3 * total / mean) + 10
    u = rng.random(n_draw)
    if abs(a) < 1e-9:
        sizes = lo * ((hi + 1) / lo) ** u
    else:
        sizes = (lo**a + u * ((hi + 1) ** a - lo**a)) ** (1.0 / a)
    sizes = np.minimum(np.floor(sizes).astype(np.int64), hi)
    csum = np.cumsum(sizes)
    while csum[-1] < total:  # extremely rare: draw more
        more = _power_law_sizes(total, lo, hi, exponent, rng)
        sizes = np.concatenate([sizes, more])
        csum = np.cumsum(sizes)
    k = int(np.searchsorted(csum, total))  # first index where the cumulative size reaches total
    sizes = sizes[: k + 1].copy()
    sizes[-1] -= csum[k] - total
    if sizes[-1] < lo and len(sizes) > 1:  # fold a too-small remainder into the previous one
        sizes[-2] += sizes[-1]
        sizes = sizes[:-1]
    return sizes


def _people(p: dict, rng) -> _People:
    n_c = int(p["n_customers"])
    n_off = int(round(n_c * p["offnet_share"] / (1.0 - p["offnet_share"])))
    n = n_c + n_off
    ids = _phone_numbers(n, rng)
    lo, hi = p["community_sizes"]
    sizes = _power_law_sizes(n, lo, hi, p["community_size_exponent"], rng)
    slot_order = rng.permutation(n)
    community = np.empty(n, dtype=np.int32)
    community[slot_order] = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)

    influencer = np.zeros(n, dtype=bool)
    n_inf = int(round(p["influencer_share"] * n_c))
    influencer[rng.choice(n_c, size=n_inf, replace=False)] = True
    theta = rng.pareto(p["degree_tail"], n) + 1.0
    theta[influencer] *= p["influencer_degree_boost"]
    activity = rng.lognormal(0.0, 0.3, n)
    activity[influencer] *= p["influencer_activity"]

    # Friends are of similar age: a community-level mean plus individual spread.
    community_age = rng.normal(0.0, 8.0, len(sizes))
    age = np.clip(np.rint(rng.normal(42.0, 13.0, n) + community_age[community]), 18, 90)
    return _People(n_customers=n_c, n=n, ids=ids, community=community, community_size=sizes,
                   slot_order=slot_order, theta=theta, activity=activity,
                   influencer=influencer, age=age.astype(np.int16))


# ---------------------------------------------------------------------------- network
@dataclass
class _Network:
    a: np.ndarray          # int32, a < b
    b: np.ndarray
    weight: np.ndarray     # float64 tie strength
    household_edge: np.ndarray
    within: np.ndarray
    household: np.ndarray  # per person, -1 = none


def _weighted_pick(cum: np.ndarray, lo: np.ndarray, width: np.ndarray, hi_index: np.ndarray,
                   rng) -> np.ndarray:
    """Positions drawn proportionally to the increments of ``cum`` inside ``[lo, lo + width)``."""
    u = lo + rng.random(len(lo)) * width
    pos = np.searchsorted(cum, u, side="right")
    return np.minimum(pos, hi_index)  # guard against rounding at a block's right end


def _households(people: _People, share: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Household id per person (-1 = none) and the household pairs (a, b).

    The first ``share`` of each community's (random) slot order is cut into consecutive
    households of 2-5; a household that would straddle two communities is split at the border.
    """
    n = people.n
    sizes = people.community_size
    block_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    slot_comm = np.repeat(np.arange(len(sizes)), sizes)
    pos_in_block = np.arange(n) - block_start[slot_comm]
    covered = pos_in_block < np.floor(share * sizes)[slot_comm]
    k = int(covered.sum())
    household = np.full(n, -1, dtype=np.int64)
    if k < 2:
        return household, np.empty((2, 0), dtype=np.int64)
    hh_sizes = rng.choice([2, 3, 4, 5], size=k // 2 + 1, p=[0.4, 0.27, 0.2, 0.13])
    bounds = np.cumsum(hh_sizes)
    raw = np.searchsorted(bounds, np.arange(k), side="right")
    cov_comm = slot_comm[covered]
    key = raw * (len(sizes) + 1) + cov_comm  # split at community borders
    _, hh, counts = np.unique(key, return_inverse=True, return_counts=True)
    members = counts[hh]
    keep = members >= 2
    _, hh_kept = np.unique(hh[keep], return_inverse=True)
    people_cov = people.slot_order[covered]
    household[people_cov[keep]] = hh_kept
    # Members of a household are consecutive in slot order: pair each with the next 1..4.
    ordered_people = people_cov[keep]
    ordered_hh = hh_kept
    pairs_a, pairs_b = [], []
    for off in range(1, 5):
        same = ordered_hh[off:] == ordered_hh[:-off]
        pairs_a.append(ordered_people[:-off][same])
        pairs_b.append(ordered_people[off:][same])
    return household, np.vstack([np.concatenate(pairs_a), np.concatenate(pairs_b)])


def _network(people: _People, p: dict, rng) -> _Network:
    n = people.n
    mix = p["mixing"]
    expected = p["mean_degree"] * people.theta / people.theta.mean()
    expected = np.minimum(expected, min(1000.0, max(50.0, n / 20)))  # nobody talks to everyone
    size_of = people.community_size[people.community]
    # Chung-Lu inside a block cannot exceed the block: cap the within-community part.
    d_in = np.minimum((1.0 - mix) * expected, 0.6 * (size_of - 1))
    d_out = mix * expected

    # Within communities: Poisson number of ties per block, endpoints proportional to d_in.
    order = people.slot_order  # community blocks are contiguous in slot order
    cum = np.cumsum(d_in[order])
    sizes = people.community_size
    block_end = np.cumsum(sizes)
    block_lo = np.concatenate([[0.0], cum[block_end - 1]])[:-1]
    block_width = cum[block_end - 1] - block_lo
    m_block = rng.poisson(block_width / 2.0)
    e_comm = np.repeat(np.arange(len(sizes)), m_block)
    ends = [order[_weighted_pick(cum, block_lo[e_comm], block_width[e_comm],
                                 block_end[e_comm] - 1, rng)] for _ in range(2)]
    # Across the whole network: endpoints proportional to d_out.
    cum_out = np.cumsum(d_out)
    m_out = rng.poisson(cum_out[-1] / 2.0)
    zeros = np.zeros(m_out)
    widths = np.full(m_out, cum_out[-1])
    last = np.full(m_out, n - 1)
    cross = [_weighted_pick(cum_out, zeros, widths, last, rng) for _ in range(2)]

    household, hh_pairs = _households(people, p["household_share"], rng)
    n_hh = hh_pairs.shape[1]
    a = np.concatenate([hh_pairs[0], ends[0], cross[0]])
    b = np.concatenate([hh_pairs[1], ends[1], cross[1]])
    is_hh = np.zeros(len(a), dtype=bool)
    is_hh[:n_hh] = True
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    lo, hi, is_hh = lo[keep], hi[keep], is_hh[keep]
    # Merge multi-edges; household pairs come first, so np.unique keeps their flag.
    _, first = np.unique(lo.astype(np.int64) * n + hi, return_index=True)
    lo, hi, is_hh = lo[first], hi[first], is_hh[first]
    within = people.community[lo] == people.community[hi]

    # Tie strength: log-normal, households strongest, ties across communities weakest.
    weight = rng.lognormal(0.0, 0.8, len(lo))
    weight[~within] *= 0.5
    weight[is_hh] = rng.lognormal(np.log(5.0), 0.4, int(is_hh.sum()))
    # The operator never sees off-net to off-net traffic: drop those ties.
    seen = (lo < people.n_customers) | (hi < people.n_customers)
    return _Network(a=lo[seen].astype(np.int32), b=hi[seen].astype(np.int32),
                    weight=weight[seen], household_edge=is_hh[seen], within=within[seen],
                    household=household)


# ---------------------------------------------------------------------------- attributes
@dataclass
class _Attributes:
    plan: np.ndarray            # int8 index into PLANS
    tenure: np.ndarray          # months at day 0
    value: np.ndarray
    region: np.ndarray          # int8 index into REGIONS
    support: np.ndarray
    frailty: np.ndarray
    fade: np.ndarray            # L_i, days from decision to churn


def _attributes(people: _People, net: _Network, p: dict, rng) -> _Attributes:
    n = people.n_customers
    age = people.age[:n].astype(np.float64)
    hh = net.household[:n]
    # A family plan needs two customers in the same household.
    on_net_members = np.bincount(hh[hh >= 0], minlength=max(int(hh.max()) + 1, 1))
    shared = (hh >= 0) & (on_net_members[np.maximum(hh, 0)] >= 2)
    p_prepaid = np.clip(0.8 - 0.012 * (age - 18.0), 0.2, 0.8)
    plan = np.where(rng.random(n) < p_prepaid, 0, 1).astype(np.int8)
    plan[shared & (rng.random(n) < 0.75)] = 2
    mean_tenure = np.where(plan == 0, 16.0, 40.0)
    tenure = np.clip(np.floor(rng.exponential(mean_tenure)), 0, 240).astype(np.int64)
    median_value = np.array([11.0, 32.0, 24.0])[plan]
    value = np.round(median_value * rng.lognormal(0.0, 0.35, n), 2)
    home = rng.choice(len(REGIONS), size=len(people.community_size), p=_REGION_WEIGHTS)
    region = home[people.community[:n]]
    moved = rng.random(n) < 0.1
    region[moved] = rng.choice(len(REGIONS), size=int(moved.sum()), p=_REGION_WEIGHTS)
    frailty = rng.normal(0.0, 1.0, n)
    support = rng.poisson(_support_mean(frailty, plan))
    f_lo, f_hi = p["fade_days"]
    fade = rng.integers(f_lo, f_hi + 1, size=n)
    return _Attributes(plan=plan, tenure=tenure, value=value, region=region.astype(np.int8),
                       support=support.astype(np.int64), frailty=frailty, fade=fade)


_FRAILTY_EFFECT = 0.5  # coefficient of the hidden frailty in log h0


def _support_mean(frailty, plan):
    """Mean number of support contacts: frail customers (and prepaid ones) call support more."""
    return 0.5 * np.exp(0.8 * frailty + 0.3 * (plan == 0))


def _calibrate(relative: np.ndarray, monthly: float) -> float:
    """``log b`` such that the mean 30-day probability ``1 - (1 - b r_i)^30`` is ``monthly``."""
    if monthly <= 0 or len(relative) == 0:
        return -np.inf

    def month(log_b):
        daily = np.minimum(np.exp(log_b) * relative, 1.0)
        return np.mean(-np.expm1(30.0 * np.log1p(-np.minimum(daily, 1.0 - 1e-12))))

    guess = np.log(monthly / 30.0) - np.log(relative.mean())
    lo, hi = guess - 1.0, guess + 10.0
    for _ in range(60):  # bisection: the mean is increasing in log b
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if month(mid) < monthly else (lo, mid)
    return 0.5 * (lo + hi)


class _Hazard:
    """The daily churn hazard ``h0(t) * (1 + gamma * E(t))`` of every customer."""

    def __init__(self, people: _People, net: _Network, attrs: _Attributes, p: dict):
        n = people.n_customers
        self.n = n
        self.gamma = float(p["contagion_strength"])
        self.window = int(p["contagion_window"])
        self.tenure = attrs.tenure.astype(np.float64)
        self.static = (0.7 * (attrs.plan == 0) - 0.4 * (attrs.plan == 2)
                       + 0.2 * attrs.support + _FRAILTY_EFFECT * attrs.frailty
                       - 0.4 * np.log(attrs.value / 25.0))
        self.log_b = _calibrate(self.relative(0), p["monthly_churn"])
        # Customer-to-customer tie strengths (symmetric) and each customer's total strength.
        cc = (net.a < n) & (net.b < n)
        a, b, w = net.a[cc], net.b[cc], net.weight[cc]
        self.w_cc = sparse.csr_matrix(
            (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))),
            shape=(n, n))
        ends = np.concatenate([net.a, net.b])
        total = np.bincount(ends, weights=np.concatenate([net.weight, net.weight]),
                            minlength=people.n)[:n]
        self.inv_strength = np.divide(1.0, total, out=np.zeros(n), where=total > 0)
        self.leaver_weight = np.where(people.influencer[:n], p["influencer_contagion"], 1.0)

    def relative(self, t: int) -> np.ndarray:
        """``h0 / b``: the attribute part of the baseline hazard on day ``t``."""
        tenure = np.maximum(self.tenure + t / 30.4, 0.0)
        return np.exp(self.static + 1.0 * np.exp(-tenure / 12.0))

    def baseline(self, t: int) -> np.ndarray:
        return np.minimum(np.exp(self.log_b) * self.relative(t), 1.0)

    def exposure(self, t: int, churn_day: np.ndarray) -> np.ndarray:
        recent = (churn_day <= t) & (churn_day > t - self.window)
        if not recent.any():
            return np.zeros(self.n)
        return (self.w_cc @ (self.leaver_weight * recent)) * self.inv_strength

    def hazard(self, t: int, churn_day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h0 = self.baseline(t)
        e = self.exposure(t, churn_day)
        return np.minimum(h0 * (1.0 + self.gamma * e), 1.0), h0, e


# ---------------------------------------------------------------------------- simulation
@dataclass
class _Churn:
    churn_day: np.ndarray      # int64, _NEVER = stays (also beyond the end)
    decision_day: np.ndarray   # int64, _NEVER = never decided
    h_end: np.ndarray
    h0_end: np.ndarray
    e_end: np.ndarray
    p30: np.ndarray


@dataclass
class _Log:
    src: list
    dst: list
    second: list               # seconds since start (int32)
    duration: list             # float32 whole seconds
    sms: list


def _traffic_arrays(people: _People, net: _Network, p: dict):
    """Directed edge arrays with their base daily rates, SMS probabilities and call lengths."""
    src = np.concatenate([net.a, net.b])
    dst = np.concatenate([net.b, net.a])
    w = np.concatenate([net.weight, net.weight])
    rate = w * people.activity[src]
    n_c = people.n_customers
    target = p["interactions_per_customer_day"] * n_c
    k = target / rate.sum() if rate.sum() > 0 else 0.0
    rate = (k * rate).astype(np.float32)
    age = people.age[src].astype(np.float32)
    p_sms = np.clip(0.7 - 0.011 * (age - 18.0), 0.12, 0.7).astype(np.float32)
    hh = np.concatenate([net.household_edge, net.household_edge])
    p_sms[hh] *= 0.6
    log_dur = np.where(hh, np.log(150.0), np.log(75.0)).astype(np.float32)
    return src, dst, rate, p_sms, log_dur


def _simulate(people, net, attrs, hazard: _Hazard, p, start_ts, days, seed, snap_days,
              forced_day, kept=None, traffic_days=None):
    n = people.n_customers
    fade = attrs.fade.astype(np.int64)
    churn_day = forced_day.copy()
    forced = forced_day != _NEVER
    decision_day = np.where(forced, forced_day - fade, _NEVER)
    churn_rng = np.random.default_rng([seed, 1])
    f_hi = int(p["fade_days"][1])

    # Customers already fading out at day 0: pre-start decisions at the baseline hazard, kept
    # only when the departure falls after the start (they are customers on day 0).
    for t in range(-f_hi, 0):
        u = churn_rng.random(n)
        at_risk = (decision_day == _NEVER) & (t + fade >= 1)
        decide = at_risk & (u < hazard.baseline(t))
        decision_day[decide] = t
        churn_day[decide] = t + fade[decide]

    src_e, dst_e, rate_e, p_sms_e, log_dur_e = _traffic_arrays(people, net, p)
    cum_rate = np.cumsum(rate_e, dtype=np.float64)
    del rate_e
    forecaster = (_LogForecast(people, attrs, hazard, p, snap_days, src_e, dst_e, cum_rate)
                  if snap_days else None)
    forecasts = {}
    hour_cdf = [np.cumsum(h) / h.sum() for h in (_HOURS_WEEKDAY, _HOURS_WEEKEND)]
    dow0 = start_ts.day_of_week
    log = _Log([], [], [], [], [])
    snapshots = {}
    level = np.ones(people.n, dtype=np.float32)  # traffic level of every person (off-net: 1)
    for t in range(days + 1):
        h, h0, e = hazard.hazard(t, churn_day)
        if t in snap_days:
            snapshots[t] = _snapshot(h, t, churn_day, decision_day)
            forecasts[t] = (forecaster.forecast(t, churn_day) if t in forecaster.snap_days
                            else np.full(n, np.nan))
        if t == days:
            break
        u = churn_rng.random(n)
        decide = (decision_day == _NEVER) & (u < h)
        for first, last in kept or ():  # retention campaigns: cancel pending, block new
            cancel = (first == t) & (decision_day != _NEVER) & (churn_day > t) & ~forced
            decision_day[cancel] = _NEVER
            churn_day[cancel] = _NEVER
            decide &= ~((first <= t) & (t < last))
        decision_day[decide] = t
        churn_day[decide] = t + fade[decide]

        if traffic_days is not None and t >= traffic_days:
            continue  # churn above drew from its own stream: skipping traffic changes nothing
        # Traffic fades linearly from the decision to the churn day, then stops.
        deciding = decision_day <= t
        level[:n] = 1.0
        level[:n][deciding] = ((churn_day[deciding] - t)
                               / np.maximum(churn_day[deciding] - decision_day[deciding], 1))
        level[:n][churn_day <= t] = 0.0
        dow = (dow0 + t) % 7
        day_rng = np.random.default_rng([seed, 2, t])
        _day_traffic(log, day_rng, t, cum_rate, _WEEKDAY_FACTOR[dow], level, src_e, dst_e,
                     p_sms_e, log_dur_e, hour_cdf[1 if dow >= 5 else 0])
        if forecaster is not None:
            forecaster.record_day(t, e, churn_day, _WEEKDAY_FACTOR[dow], log.src[-1], log.dst[-1])

    h_end, h0_end, e_end = h, h0, e
    p30 = _p_churn_30d(hazard, churn_day, decision_day, fade, days, int(p["fade_days"][0]))
    churn = _Churn(churn_day=churn_day, decision_day=decision_day, h_end=h_end, h0_end=h0_end,
                   e_end=e_end, p30=p30)
    return log, churn, snapshots, forecasts



class _LogForecast:
    """The best 30-day churn forecast a model could make from the log: a Bayes posterior.

    At cut-off day ``s`` it computes, for every customer still there,
    ``P(churn date in (s, s + 30] | what the log and the customer table show up to s)``,
    knowing the generator's parameters. What a model cannot see is integrated out: the hidden
    ``frailty`` (prior N(0, 1), updated by the customer's support contacts and by its survival
    so far), the fade length ``L`` and whether, and on which day ``D``, the customer has already
    decided to leave. The traffic of the last ``fade_days[1]`` days is the evidence on ``D``: the
    customer's daily count of interactions is Poisson with mean ``level(t) * mu(t)``, ``mu(t)``
    its expected count at full activity from the contacts still there that day and ``level(t) =
    (D + L - t) / L`` once it has decided. What the reference knows beyond the data are the
    generator's *parameters* (coefficients, tie strengths, traffic rates, influencers), which a
    model could learn from unlimited data; of the *state* it sees only what the data show
    (departures done by ``s``, the log, the customer table). Two simplifications: contacts who
    are fading out (a hidden state) count at full activity, and the forecast ignores the
    exposure that departures after ``s`` would add within the horizon. The first reads a
    contact's fade as a little evidence of the customer's own, so the forecast overstates
    churn more the longer fades last (by how much, per fade length: docs/results.md).

    Only cut-offs later than ``fade_days[1]`` get a forecast (earlier ones are NaN): before
    that, the log is too short to show a whole fade.
    """

    def __init__(self, people, attrs, hazard: "_Hazard", p: dict, snap_days, src_e, dst_e,
                 cum_rate, n_frailty: int = 31):
        n = hazard.n
        self.n, self.hazard = n, hazard
        self.f_lo, self.f_hi = (int(x) for x in p["fade_days"])
        self.fades = np.arange(self.f_lo, self.f_hi + 1)
        self.snap_days = [s for s in snap_days if s > self.f_hi]
        self.keep = {t for s in self.snap_days for t in range(s - self.f_hi, s)}
        self.src_e, self.dst_e = src_e, dst_e
        self.rate_e = np.diff(cum_rate, prepend=0.0)
        self.n_people = len(people.activity)
        # Frailty on Gauss-Hermite nodes; prior times the likelihood of the support contacts
        # (drawn from the frailty in _attributes).
        nodes, weights = hermegauss(n_frailty)
        # log h(f) - log h: the hazard at frailty node f relative to the customer's own.
        self.frailty_shift = _FRAILTY_EFFECT * (nodes[None, :] - attrs.frailty[:, None])
        self.log_prior = (np.log(weights / weights.sum())[None, :]
                          + poisson.logpmf(attrs.support[:, None],
                                           _support_mean(nodes[None, :], attrs.plan[:, None])))
        # Not having decided before day 0 (pre-start days at the baseline, at risk only when
        # the departure would fall on day 1 or later): one n x F array per fade length.
        self.log_survival_pre = {}
        cum = np.zeros((n, n_frailty))
        for t in range(-1, -self.f_hi - 1, -1):
            cum += self._log1m(self._by_frailty(hazard.baseline(t)))
            if 1 - t >= self.f_lo:
                self.log_survival_pre[1 - t] = cum.copy()  # no decision on days 1-L .. -1
        if self.f_lo == 1:
            self.log_survival_pre[1] = np.zeros((n, n_frailty))
        self.log_survival = np.zeros((n, n_frailty))  # no decision on days 0 .. t-1
        self.days: dict[int, tuple] = {}

    def _by_frailty(self, h: np.ndarray) -> np.ndarray:
        """Daily hazards ``h`` (one per customer) as they would be at every frailty node."""
        return np.minimum(h[:, None] * np.exp(self.frailty_shift), 1.0)

    @staticmethod
    def _log1m(h: np.ndarray) -> np.ndarray:
        return np.log1p(-np.minimum(h, 1.0 - 1e-12))

    def record_day(self, t: int, exposure: np.ndarray, churn_day: np.ndarray, day_factor: float,
                   src: np.ndarray, dst: np.ndarray) -> None:
        """Day ``t`` is over: its hazard, the traffic it showed and what traffic was expected."""
        h_f = self._by_frailty(self._unclipped(t, exposure))
        if t in self.keep:
            n = self.n
            counts = (np.bincount(src[src < n], minlength=n)
                      + np.bincount(dst[dst < n], minlength=n)).astype(np.float64)
            # Expected count at full own activity from the contacts still there that day (a
            # departure is in the data; a contact's private decision to leave is not).
            here = np.ones(self.n_people)
            here[:n][churn_day <= t] = 0.0
            expected = day_factor * (
                np.bincount(self.src_e, self.rate_e * here[self.dst_e], self.n_people)
                + np.bincount(self.dst_e, self.rate_e * here[self.src_e], self.n_people))[:n]
            log_decide = np.log(np.maximum(h_f, 1e-300)) + self.log_survival
            self.days[t] = (log_decide, counts, expected)
        self.log_survival = self.log_survival + self._log1m(h_f)
        for old in [d for d in self.days if d < t - self.f_hi]:
            del self.days[old]

    def forecast(self, s: int, churn_day: np.ndarray) -> np.ndarray:
        """P(churn date in (s, s + 30]) for every customer given the log before day ``s``.

        ``churn_day`` holds the departures done or scheduled by then; only those done by day
        ``s`` (in the data) feed the future exposure.
        """
        n, horizon = self.n, 30
        known = np.where(churn_day <= s, churn_day, _NEVER)
        # log P(no decision on days s .. s + 30 - L | frailty) of a customer who has not
        # decided yet, for every fade length L, from one running sum over the future days.
        log_stay, running = {}, np.zeros_like(self.log_survival)
        for t in range(s, s + horizon - self.f_lo + 1):
            running += self._log1m(self._by_frailty(
                self._unclipped(t, self.hazard.exposure(t, known))))
            fade = s + horizon - t
            if fade in self.log_survival_pre:
                log_stay[fade] = running.copy()
        # Per customer, log of the total posterior mass and of the mass that churns in the
        # horizon, accumulated term by term (memory stays a few n x frailty arrays).
        total = np.full(n, -np.inf)
        churn = np.full(n, -np.inf)
        for fade in self.fades:
            fade = int(fade)
            base = self.log_prior + self.log_survival_pre[fade] - np.log(len(self.fades))
            # Not decided yet: churns in the horizon if it decides on s .. s + 30 - L (never
            # when the fade is longer than the horizon).
            undecided = base + self.log_survival
            total = np.logaddexp(total, logsumexp(undecided, axis=1))
            if fade in log_stay:
                churn = np.logaddexp(churn, logsumexp(
                    undecided + np.log(np.maximum(-np.expm1(log_stay[fade]), 1e-300)), axis=1))
            # Decided on day D (still here on day s: D + L > s), read from the traffic.
            for decision in range(s - fade + 1, s):
                log_decide, _, _ = self.days[decision]
                evidence = np.zeros(n)
                for t in range(decision, s):
                    _, counts, expected = self.days[t]
                    level = (decision + fade - t) / fade
                    evidence += counts * np.log(level) - expected * (level - 1.0)
                mass = logsumexp(base + log_decide, axis=1) + evidence
                total = np.logaddexp(total, mass)
                if decision + fade <= s + horizon:
                    churn = np.logaddexp(churn, mass)
        out = np.exp(churn - total)
        out[churn_day <= s] = np.nan
        return out

    def _unclipped(self, t: int, exposure: np.ndarray) -> np.ndarray:
        """The daily hazard before it is capped at 1 (the frailty shift applies before the cap)."""
        hz = self.hazard
        return np.exp(hz.log_b) * hz.relative(t) * (1.0 + hz.gamma * exposure)


def _snapshot(h: np.ndarray, t: int, churn_day: np.ndarray, decision_day: np.ndarray):
    """True hazard at cut-off ``t``: 1 for customers who decided already, NaN once gone."""
    out = h.copy()
    out[decision_day < t] = 1.0
    out[churn_day <= t] = np.nan
    return out


def _day_traffic(log: _Log, rng, t, cum_rate, day_factor, level, src_e, dst_e, p_sms_e,
                 log_dur_e, hour_cdf) -> None:
    """Draw one day of interactions.

    Each directed tie carries Poisson(rate * day_factor * level_src * level_dst) events. They
    are drawn by thinning: a Poisson total at the full rates, split over ties proportionally to
    the (fixed) rates, each candidate kept with probability ``level_src * level_dst``. That is
    the same distribution as one Poisson draw per tie, at a cost proportional to the events.
    """
    total = float(cum_rate[-1]) if len(cum_rate) else 0.0
    m = int(rng.poisson(total * day_factor))
    # Sorted uniforms from normalised exponential spacings (O(m), no sort) make the
    # binary searches walk the cumulative rates in order, which is cache friendly.
    spacing = np.cumsum(rng.exponential(1.0, m + 1))
    edge = np.searchsorted(cum_rate, spacing[:-1] * (total / spacing[-1]), side="right")
    np.minimum(edge, len(cum_rate) - 1, out=edge)
    src, dst = src_e[edge], dst_e[edge]
    keep = rng.random(m) < level[src] * level[dst]
    edge, src, dst = edge[keep], src[keep], dst[keep]
    m = len(edge)
    sms = rng.random(m) < p_sms_e[edge]
    hour = np.searchsorted(hour_cdf, rng.random(m), side="right").clip(0, 23)
    second = (hour * 3600 + rng.integers(0, 3600, m)).astype(np.int32)
    duration = np.rint(np.exp(log_dur_e[edge] + rng.normal(0.0, 1.0, m).astype(np.float32)))
    duration = np.clip(duration, 1.0, 4 * 3600.0).astype(np.float32)
    duration[sms] = 0.0
    # Seconds of the day (< 2**17) in time order by a two-pass LSD radix sort (stable sorts
    # of 16-bit keys are radix sorts in numpy): linear time.
    order = np.argsort((second & 0xFFFF).astype(np.uint16), kind="stable")
    order = order[np.argsort((second[order] >> 16).astype(np.uint8), kind="stable")]
    log.src.append(src[order])
    log.dst.append(dst[order])
    log.second.append(second[order] + np.int32(t * _SECONDS_PER_DAY))
    log.duration.append(duration[order])
    log.sms.append(sms[order])


def _p_churn_30d(hazard: _Hazard, churn_day, decision_day, fade, days: int, f_lo: int):
    """Probability of a churn date in ``(days, days + 30]`` given the state at the end.

    Decided customers leave on their scheduled day. A customer still at risk churns in the
    horizon if it decides on a day ``t`` with ``t + L_i <= days + 30``; its hazard on those
    days is computed from the departures already known (done or scheduled). Departures decided
    after the end could only act on the last few useful days and are left out.
    """
    n = hazard.n
    log_stay = np.zeros(n)
    at_risk = decision_day == _NEVER
    for t in range(days, days + 30 - f_lo + 1):
        h, _, _ = hazard.hazard(t, churn_day)
        useful = at_risk & (t + fade <= days + 30)
        log_stay[useful] += np.log1p(-np.minimum(h[useful], 1.0 - 1e-12))
    p = 1.0 - np.exp(log_stay)
    scheduled = ~at_risk
    p[scheduled] = ((churn_day[scheduled] > days)
                    & (churn_day[scheduled] <= days + 30)).astype(np.float64)
    p[churn_day <= days] = np.nan
    return p


# ---------------------------------------------------------------------------- frames
def _interactions_frame(log: _Log, ids: np.ndarray, start_ts: pd.Timestamp) -> pd.DataFrame:
    kinds = np.array([b"call", b"sms"])
    id_len = np.char.str_len(ids).astype(np.int64)
    src_chunks, dst_chunks, kind_chunks = [], [], []
    for i in range(len(log.src)):
        # Convert one day at a time and drop the integer codes: keeps the peak small.
        src_chunks.append(_strings(ids, log.src[i], id_len))
        dst_chunks.append(_strings(ids, log.dst[i], id_len))
        kind_chunks.append(_strings(kinds, log.sms[i].astype(np.int8)))
        log.src[i] = log.dst[i] = log.sms[i] = None
    # Seconds since the start are int32 (fine for 68 years); widen once, in place.
    timestamp = np.concatenate(log.second).astype(np.int64) if log.second else np.empty(0, np.int64)
    log.second.clear()
    timestamp *= _NS
    timestamp += start_ts.value
    timestamp = timestamp.view("datetime64[ns]")
    duration = (np.concatenate(log.duration) if log.duration
                else np.empty(0, np.float32)).astype(np.float64)
    log.duration.clear()

    def strings(chunks):
        return pd.Series(pa.chunked_array(chunks, type=pa.large_string()), dtype="str")

    return pd.DataFrame({
        "src": strings(src_chunks),
        "dst": strings(dst_chunks),
        "timestamp": timestamp,
        "duration": duration,
        "kind": strings(kind_chunks),
    })


def _dates(day: np.ndarray, start_ts: pd.Timestamp, keep: np.ndarray) -> np.ndarray:
    out = np.full(len(day), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[keep] = np.datetime64(start_ts) + day[keep].astype("timedelta64[D]")
    return out


def _customers_frame(people, attrs, churn: _Churn, start_ts, days) -> pd.DataFrame:
    n = people.n_customers
    cd = churn.churn_day
    return pd.DataFrame({
        "customer_id": _str_series(people.ids, np.arange(n)),
        # Departures on or before the end are known; later ones are not (yet) in the table.
        "churn_date": _dates(cd, start_ts, cd <= days),
        "value": attrs.value.astype(np.float64),
        "tenure_months": attrs.tenure,
        "plan": _str_series(np.array(PLANS, dtype="S"), attrs.plan),
        "age": people.age[:n].astype(np.int64),
        "region": _str_series(np.array(REGIONS, dtype="S"), attrs.region),
        "support_contacts": attrs.support,
    })


def _truth_frame(people, net, attrs, hazard, churn: _Churn, start_ts, days, p) -> pd.DataFrame:
    n = people.n_customers
    gone = churn.churn_day <= days
    decided = churn.decision_day < days
    h_end = churn.h_end.copy()
    h_end[decided] = 1.0
    h_end[gone] = np.nan
    return pd.DataFrame({
        "customer_id": _str_series(people.ids, np.arange(n)),
        "community": people.community[:n].astype(np.int64),
        "household": net.household[:n].astype(np.int64),
        "is_influencer": people.influencer[:n],
        "fade_days": attrs.fade.astype(np.int64),
        "decision_date": _dates(churn.decision_day, start_ts, churn.decision_day != _NEVER),
        "true_churn_date": _dates(churn.churn_day, start_ts, churn.churn_day != _NEVER),
        "baseline_hazard_end": np.where(gone, np.nan, churn.h0_end),
        "exposure_end": np.where(gone, np.nan, churn.e_end),
        "hazard_end": h_end,
        "p_churn_30d": churn.p30,
    })


def _ties_frame(net: _Network, ids: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "a": _str_series(ids, net.a),
        "b": _str_series(ids, net.b),
        "weight": net.weight.astype(np.float64),
        "household": net.household_edge,
        "within_community": net.within,
    })


# ---------------------------------------------------------------------------- writing
def _write_interactions_csv(frame: pd.DataFrame, path: Path, batch_rows: int = 2_000_000):
    import pyarrow.csv as pacsv

    # pyarrow quotes every string; ours never hold commas, quotes or newlines, so write them
    # bare, with a plain header line.
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with pa.CompressedOutputStream(str(path), "gzip") as stream:
        stream.write(b"src,dst,timestamp,duration,kind\n")
        for lo in range(0, max(len(frame), 1), batch_rows):
            part = frame.iloc[lo: lo + batch_rows]
            ts = pa.array(part["timestamp"].to_numpy("datetime64[s]"))
            table = pa.table({
                "src": pa.array(part["src"]).cast(pa.string()),
                "dst": pa.array(part["dst"]).cast(pa.string()),
                "timestamp": pc.strftime(ts, format="%Y-%m-%dT%H:%M:%S"),
                "duration": pa.array(part["duration"].to_numpy().round().astype(np.int64)),
                "kind": pa.array(part["kind"]).cast(pa.string()),
            })
            pacsv.write_csv(table, stream, write_options=options)


def _dated_csv(frame: pd.DataFrame, path: Path) -> None:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    out.to_csv(path, index=False, na_rep="")
