"""Retention campaigns in a generated world: planted responders, past randomised campaigns, and
the simulated outcome of a contact list.

A campaign contacts customers on a day with an offer. A contacted customer *responds* with its
planted, heterogeneous probability ``effect(i, offer)``; a responder is kept for the campaign's
window: a decision to leave that is still fading out is cancelled, and it decides nothing during
the window (:func:`graphchurn.synth.generate_world`'s ``retained``). Everything else runs as in
the world: the responder's staying removes its departure from its contacts' exposure, so the
contagion the world has changes who else leaves. Worlds are regenerated with the same seed, so a
policy's world and the no-campaign world share every random draw (churn uniforms, traffic, and
one response uniform per customer and campaign): the difference is what the contacts caused.

Planted responders. The effect of an offer is its base effect times a responsiveness that
depends on observed attributes in a direction *unlike* the risk's::

    effect(i, o) = min(1, base_o * 2 * sigmoid(1.6 [plan != prepaid] + 1.2 [age < 35]
                                               - 1.4 [support_contacts >= 2] - 0.8))

Risk is highest for prepaid customers with many support contacts (``world._Hazard``); those
respond least. The effect thus falls with risk, but less steeply than risk rises: uplift
(``p_i * effect_i``) still ranks customers much as risk does (``responders="default"``).

``responders="persuadables"`` plants the structure retention studies report instead (Radcliffe
& Surry 2011; Ascarza 2018): the customers most likely to leave are *lost causes*, who leave
whether contacted or not, and the customers a contact changes, the *persuadables*, are at
medium risk. The effect depends on the customer's percentile ``r_i`` among the world's
customers on the observed part of the churn hazard's log (``world._Hazard`` without the
hidden frailty, from the customer table: plan, support contacts, value, tenure)::

    s_i = 0.7 [prepaid] - 0.4 [family] + 0.2 support_contacts - 0.4 log(value / 25)
          + exp(-tenure_months / 12)
    effect(i, o) = min(1, base_o * m(r_i)),  m = 0.1 (lost causes, r >= 0.8),
                                             1.6 (persuadables, 0.4 <= r < 0.8),
                                             1.0 (the rest, rarely leaving, r < 0.4)

The effect is a function of observed attributes, so an uplift model can learn it; the true risk
also carries the hidden frailty and the contagion, so the two rankings differ but not fully.

Sleeping dogs (``sleeping_dogs``, a share; 0 by default, which leaves every world as it was):
customers whom a contact *drives away* (Radcliffe & Surry 2011). The oldest ``sleeping_dogs``
of the customers (by age, which the churn hazard does not read, so risk does not point at them)
get the negative effect ``-base_o``: contacted with offer ``o``, a sleeping dog leaves with
probability ``base_o`` (the same response uniform as a responder's), deciding on the contact
day or within a week after and gone ``fade_days[1]`` days after the contact (a forced departure
of :func:`generate_world`, which replaces whatever the customer would have decided itself).

History. Past randomised campaigns contact a random share of the active customers on given
days with a random offer (or none: the control group) and record ``customer_id, contact_date,
offer, outcome`` (1 = churned within ``history_window`` days), the table an uplift model learns
from. The default, five monthly campaigns each contacting half the customers with 60-day
outcomes before a campaign on day 180, is what it takes for the uplift model to recover the
planted responders at all: the effect is learned from the customers kept, and with a 2.5%
monthly churn rate a campaign of a few hundred calls keeps a dozen (two campaigns with 45-day
windows on 2,000 customers taught little; experiments/uplift_learnability.py).

References
----------
Radcliffe, N. J. & Surry, P. D. (2011). Real-world uplift modelling with significance-based
uplift trees. Stochastic Solutions white paper 2011-1.
Ascarza, E. (2018). Retention futility: targeting high-risk customers might be ineffective.
Journal of Marketing Research 55(1), 80-98.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from graphchurn.synth.world import generate_world

__all__ = [
    "OFFER_BASE_EFFECTS",
    "RESPONDERS",
    "CampaignWorld",
    "observed_risk_score",
    "planted_effects",
]

#: Base effect of each offer in the simulator (before the planted responsiveness).
OFFER_BASE_EFFECTS = {"sms": 0.10, "call": 0.45}


def _responsiveness(customers: pd.DataFrame) -> np.ndarray:
    z = (1.6 * (customers["plan"].astype(str) != "prepaid").to_numpy()
         + 1.2 * (customers["age"].to_numpy() < 35)
         - 1.4 * (customers["support_contacts"].to_numpy() >= 2) - 0.8)
    return 2.0 / (1.0 + np.exp(-z))


#: Planted response structures (module docstring): ``default`` and ``persuadables``.
RESPONDERS = ("default", "persuadables")

#: ``persuadables``: (lower percentile of observed risk, multiplier of the base effect).
_PERSUADABLE_BANDS = ((0.0, 1.0), (0.4, 1.6), (0.8, 0.1))


def observed_risk_score(customers: pd.DataFrame) -> np.ndarray:
    """The log hazard's part that the customer table shows (``world._Hazard`` less frailty)."""
    plan = customers["plan"].astype(str).to_numpy()
    return (0.7 * (plan == "prepaid") - 0.4 * (plan == "family")
            + 0.2 * customers["support_contacts"].to_numpy(dtype=float)
            - 0.4 * np.log(customers["value"].to_numpy(dtype=float) / 25.0)
            + np.exp(-customers["tenure_months"].to_numpy(dtype=float) / 12.0))


def _persuadable_multiplier(customers: pd.DataFrame) -> np.ndarray:
    r = pd.Series(observed_risk_score(customers)).rank(pct=True, method="average").to_numpy()
    m = np.empty(len(r))
    for lower, multiplier in _PERSUADABLE_BANDS:
        m[r >= lower] = multiplier
    return m


def planted_effects(customers: pd.DataFrame, offers=OFFER_BASE_EFFECTS,
                    responders: str = "default", sleeping_dogs: float = 0.0) -> pd.DataFrame:
    """True response probability of every customer to every offer (index customer_id).

    Negative for sleeping dogs: minus the probability that a contact drives them away.

    Parameters
    ----------
    customers : pandas.DataFrame
        The world's customer table.
    offers : mapping
        Base effect per offer.
    responders : {"default", "persuadables"}
        Planted structure (module docstring).
    sleeping_dogs : float, default 0
        Share of the customers, the oldest, whom a contact drives away (module docstring).
    """
    if responders == "default":
        r = _responsiveness(customers)
    elif responders == "persuadables":
        r = _persuadable_multiplier(customers)
    else:
        raise ValueError(f"responders must be one of {RESPONDERS}, not {responders!r}")
    sign = np.where(_sleeping_dogs(customers, sleeping_dogs), -1.0, 1.0)
    return pd.DataFrame({o: sign * np.minimum(1.0, base * np.where(sign < 0, 1.0, r))
                         for o, base in offers.items()},
                        index=pd.Index(customers["customer_id"].astype(str), name="customer_id"))


def _sleeping_dogs(customers: pd.DataFrame, share: float) -> np.ndarray:
    """The oldest ``share`` of the customers (ties in table order)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"sleeping_dogs must lie in [0, 1], not {share!r}")
    n_dogs = round(share * len(customers))
    dogs = np.zeros(len(customers), dtype=bool)
    if n_dogs:
        dogs[np.argsort(-customers["age"].to_numpy(), kind="stable")[:n_dogs]] = True
    return dogs


@dataclass
class CampaignWorld:
    """A generator world with campaigns: history before ``as_of_day``, a policy on it.

    Parameters
    ----------
    world_kwargs : dict
        Arguments of :func:`generate_world` (``n_customers``, ``seed``, ...; not ``days``).
    as_of_day : int
        Day of the campaign to evaluate (the world's log ends there).
    horizon_days : int
        Window of a campaign: responders are kept that long, and a customer counts as lost
        when it has decided to leave by as-of (still fading out) or decides in the window.
    history_days : tuple of int
        Days of the past randomised campaigns (their window must end by as-of).
    history_window : int
        Days after a past campaign in which its responders are kept and its outcome counted.
    history_share : float
        Share of the active customers contacted in each past campaign.
    offers : mapping
        Base effect per offer.
    responders : {"default", "persuadables"}
        Planted response structure (module docstring); the default keeps earlier worlds.
    sleeping_dogs : float
        Share of the customers whom a contact drives away (module docstring); 0 keeps earlier
        worlds.
    """

    world_kwargs: dict
    as_of_day: int = 180
    horizon_days: int = 60
    history_days: tuple = (0, 30, 60, 90, 120)
    history_window: int = 60
    history_share: float = 0.5
    offers: dict = None
    responders: str = "default"
    sleeping_dogs: float = 0.0

    def __post_init__(self):
        if self.offers is None:
            self.offers = dict(OFFER_BASE_EFFECTS)
        if self.history_days and max(self.history_days) + self.history_window > self.as_of_day:
            # a past campaign's outcome would be read after as-of: the history would peek
            raise ValueError("every past campaign's window must end by as_of_day")
        seed = int(self.world_kwargs.get("seed", 0))
        self._rng_seed = seed
        # Only the as-of world keeps its log (a pipeline may read it); the others are read for
        # departures alone and skip the traffic (generate_world's traffic_days).
        first = generate_world(days=self.as_of_day, traffic_days=0, **self.world_kwargs)
        self.effects = planted_effects(first.customers, self.offers, self.responders,
                                       self.sleeping_dogs)
        # a driven-away customer decides at the contact or up to a week later, and is gone
        # this many days after the contact
        self._gone_after = int(self.world_kwargs.get("fade_days", (14, 21))[1])
        self.ids = self.effects.index
        n = len(self.ids)
        # one response uniform per customer and campaign, the same for every policy
        self._u = {d: np.random.default_rng([seed, 7, d]).random(n)
                   for d in (*self.history_days, self.as_of_day)}
        self.history, self._history_kept, self._history_gone = self._run_history(first)
        self.world = generate_world(days=self.as_of_day, retained=self._history_kept,
                                    forced_departures=self._history_gone or None,
                                    **self.world_kwargs)
        self.baseline_lost = self.lost({})

    # ------------------------------------------------------------------ history
    def _run_history(self, first):
        rng = np.random.default_rng([self._rng_seed, 8])
        rows, kept, gone = [], {}, {}
        offers = list(self.offers)
        world = first
        for d in self.history_days:
            churn = world.customers["churn_date"]
            active = (churn.isna() | (churn > world.start + pd.Timedelta(days=d))).to_numpy()
            contacted = active & (rng.random(len(active)) < self.history_share)
            offer = np.where(contacted, rng.choice(offers, size=len(active)), "none")
            eff = np.zeros(len(active))
            for o in offers:
                eff[offer == o] = self.effects[o].to_numpy()[offer == o]
            respond = contacted & (self._u[d] < eff)
            for cid in self.ids[respond]:
                kept.setdefault(cid, []).append((d, d + self.history_window))
            for cid in self.ids[contacted & (self._u[d] < -eff)]:
                gone.setdefault(cid, d + self._gone_after)
            world = generate_world(days=self.as_of_day, retained=kept, traffic_days=0,
                                   forced_departures=gone or None, **self.world_kwargs)
            churn = world.customers["churn_date"]
            start = world.start + pd.Timedelta(days=d)
            out = (churn > start) & (churn <= start + pd.Timedelta(days=self.history_window))
            rows.append(pd.DataFrame({"customer_id": self.ids[active],
                                      "contact_date": start,
                                      "offer": offer[active],
                                      "outcome": out.to_numpy()[active].astype(int)}))
        return pd.concat(rows, ignore_index=True), kept, gone

    # ------------------------------------------------------------------ evaluation
    def lost(self, contacts: dict, *, horizon_days: int | None = None,
             kept=()) -> np.ndarray:
        """Per customer, 1 if lost in the window after as-of under ``contacts``
        (``{customer_id: offer}``), simulating the world with the responders kept.

        Parameters
        ----------
        contacts : dict
            ``{customer_id: offer}`` contacted on as-of; a responder is kept for the campaign's
            window (``self.horizon_days``).
        horizon_days : int, optional
            Days after as-of in which a decision to leave counts as a loss (default the
            campaign's window). A longer one also counts the contacts whom a departure in the
            window pulls out after the window ends.
        kept : iterable of str
            Customers kept from as-of to the end of the counted window whatever their response
            (what keeping exactly these customers is worth).
        """
        d = self.as_of_day
        h = self.horizon_days if horizon_days is None else int(horizon_days)
        retained = {cid: list(w) for cid, w in self._history_kept.items()}
        gone = dict(self._history_gone)
        if contacts:
            pos = self.ids.get_indexer(list(contacts))
            eff = np.array([self.effects.iloc[p][o] for p, o in zip(pos, contacts.values())])
            for cid, p, e in zip(contacts, pos, eff):
                if self._u[d][p] < e:
                    retained.setdefault(cid, []).append((d, d + self.horizon_days))
                elif self._u[d][p] < -e:
                    gone.setdefault(cid, d + self._gone_after)
        for cid in kept:
            retained.setdefault(cid, []).append((d, d + h))
        w = generate_world(days=d + h + 1, retained=retained, forced_departures=gone or None,
                           traffic_days=0, **self.world_kwargs)
        decided = w.truth["decision_date"]
        churn = w.truth["true_churn_date"]
        as_of = w.start + pd.Timedelta(days=d)
        pending = (decided < as_of) & (churn > as_of)
        new = (decided >= as_of) & (decided < as_of + pd.Timedelta(days=h))
        return (pending | new).to_numpy().astype(int)

    def retained_value(self, contacts: dict, months: float = 12.0) -> float:
        """Value kept by ``contacts`` versus no campaign: sum of value x months over the
        customers lost without it and kept with it, minus the reverse."""
        lost = self.lost(contacts)
        value = self.world.customers["value"].to_numpy()
        return float(((self.baseline_lost - lost) * value * months).sum())

    def true_risk(self) -> pd.Series:
        """The true probability of being lost in the window without a campaign, from the
        hazard at as-of (1 for a pending decision; held constant over the window)."""
        t = self.world.truth
        h = t["hazard_end"].to_numpy(dtype=float)
        p = np.where(h >= 1.0, 1.0, 1.0 - (1.0 - np.nan_to_num(h)) ** self.horizon_days)
        p = np.where(np.isnan(h), np.nan, p)
        return pd.Series(p, index=self.ids, name="churn_probability")
