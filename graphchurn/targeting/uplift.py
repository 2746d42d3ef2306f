"""Who responds to a contact: uplift models learned from past randomised campaigns.

History: one row per customer and past campaign, ``customer_id, contact_date, offer, outcome``
with ``offer = "none"`` for the control group and ``outcome = 1`` when the customer churned in
the campaign's window. The *uplift* of offer ``o`` for customers like ``x`` is the rise of their
probability of staying when contacted, ``P(stay | o, x) - P(stay | none, x)``, the fall of their
churn; for would-be leavers kept with probability ``effect(x)`` it is ``q(x) * effect(x)``
with ``q(x) = P(churn | none, x)`` the control group's churn. The contact list needs the
*effect* (:meth:`UpliftResult.effects`: uplift / q, the share of would-be leavers the offer
keeps), which it multiplies by each customer's own current risk: ranking by ``risk x learned
effect x value`` instead of ``risk x assumed effect x value``. Dividing by the customer's own
risk instead would be wrong: the uplift is an average over customers *like* it in past
campaigns, and a customer who has already decided to leave (risk near 1) would get the
average customer's small uplift as its effect.

Three learners per offer (scikit-learn gradient boosting on the customer attributes), all on the
churn outcome ``y`` (1 = churned), which is rare, so its transformed outcome below has far less
variance than the same on staying (``1 - y``, whose transform adds a zero-mean term of size
``1 / e`` to every row):

- ``two_model`` (T-learner): one classifier of churn on the treated, one on the controls;
  uplift is the difference of their probabilities.
- ``class_transformation`` (transformed outcome; Jaskowski & Jaroszewicz 2012, Athey & Imbens
  2015): ``y* = y * ((1 - T) / (1 - e) - T / e)`` with ``e`` the share treated, whose
  expectation given ``x`` is the uplift; one regressor on ``y*``.
- ``risk_bands``: the control group's churn ``q(x)`` cut into quintiles (on the training rows),
  and in each band the offer's average effect ``(churn_C - churn_T) / churn_C``; uplift =
  ``q(x) x`` the band's effect. Five averages instead of a function of every attribute: far
  less variance, and it finds what retention studies report, that the riskiest customers often
  respond least (lost causes; Ascarza 2018), but no structure that risk does not order.

The control group's churn ``q(x)`` comes from one more classifier, on every control row.

The learner is chosen per offer on *held-out campaigns*: each campaign in turn is held out, the
learners are fitted on the others and the held-out campaign is scored by the Qini coefficient;
the learner with the best mean Qini is then refitted on all of them. (Every past campaign's
outcome is known when the history is read, and the campaigns are randomised, so fitting on later
campaigns to score an earlier one peeks at nothing; one campaign's Qini is too noisy to choose
on: its ~100 leavers among a few thousand rows.) A single campaign: a seeded 30% of its rows
held out.

The learned ranking must also beat the risk ranking. A churn score ranks customers for uplift
too (``risk x effect`` with one effect for all), and a learned uplift that does not rank the
held-out campaigns better than it only adds estimation noise. So the same held-out campaigns are
ranked by the control group's churn learned on the other campaigns, ``q(x)``, and when the
chosen learner's mean Qini does not exceed that ranking's (ties included: a learner that cannot split
the data ranks like a constant), the offer falls back to the risk ranking with the offer's
*average* effect in the history, ``(churn_C - churn_T) / churn_C`` over all its campaigns
(clipped to [0, 1]): randomised history measures that level well even where it cannot tell
customers apart. ``UpliftResult.decision`` says which ranking each offer uses and why. The
learner's Qini is the best of the candidates on the same campaigns, a slight optimism in the
learned ranking's favour.

Even a learned ranking that wins on the whole ranking is partly noise, and the contact list
reads it where noise matters most. A budget reaches the top few percent of ``risk x effect x
value``, the customers whose estimated effect is highest, noise included (the winner's curse);
and the list multiplies the effect by each customer's *own* risk, which for the customers it
reaches is often far above ``q(x)`` (the risk the attributes alone explain): an effect
estimated from the few leavers among customers like a low-``q`` customer counts at full size
there, though it barely moves that customer's uplift, which the Qini ranks by. The Qini of
the list's top alone is no guide either (a few dozen held-out rows; :func:`qini_at_depth`).
So the learned effect is *shrunk* towards the average effect by how much of its departure
from the average the held-out campaigns confirm: ``effect = average + w (learned -
average)`` with ``w`` (:func:`reliability_slope`) the least-squares slope, over the held-out
rows, of the observed effect's departure from the average (the transformed outcome over
``q(x)``) on the learned effect's, clipped to [0, 1]: a calibration slope (Copas 1983) on
the scale the list reads, every customer's effect counting alike. ``w = 1`` keeps the learned
effect, ``w = 0`` is the fallback (and is recorded as one). Qini curve (Radcliffe 2007): customers sorted by predicted uplift, ``Q(k) = R_T(k) -
R_C(k) N_T(k) / N_C(k)`` with ``R`` the stayers and ``N`` the customers of each arm among the
top ``k``; the Qini coefficient is the mean over ``k`` of ``Q(k) - (k/n) Q(n)`` divided by
the number of treated customers: the area between the model's curve and random targeting, in
customers kept per treated customer (0 = no better than random).

References
----------
Radcliffe, N. J. (2007). Using control groups to target on predicted lift. Direct Marketing
Analytics Journal 1, 14-21.
Jaskowski, M. & Jaroszewicz, S. (2012). Uplift modeling for clinical trial data. ICML workshop.
Athey, S. & Imbens, G. (2015). Machine learning methods for estimating heterogeneous causal
effects. arXiv:1504.01132.
Copas, J. B. (1983). Regression, prediction and shrinkage. Journal of the Royal Statistical
Society B 45(3), 311-354.
Ascarza, E. (2018). Retention futility: targeting high-risk customers might be ineffective.
Journal of Marketing Research 55(1), 80-98.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from graphchurn.errors import InputError

__all__ = ["qini_curve", "qini_coefficient", "qini_at_depth", "reliability_slope", "fit_uplift",
           "load_history", "UpliftResult", "average_effect", "LEARNERS", "HISTORY_COLUMNS"]

HISTORY_COLUMNS = ["customer_id", "contact_date", "offer", "outcome"]
LEARNERS = ("two_model", "class_transformation", "risk_bands")
_N_BANDS = 5


def load_history(path) -> pd.DataFrame:
    """Read and check a campaign history file (CSV, CSV.gz or Parquet).

    One row per customer and past campaign: ``customer_id`` (text), ``contact_date`` (ISO 8601
    date or date-time: the campaign's day), ``offer`` (the offer or channel given, ``none`` for
    the control group) and ``outcome`` (``1`` if the customer churned in the campaign's window,
    ``0`` if it stayed). Other columns are ignored.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    pandas.DataFrame
        :data:`HISTORY_COLUMNS`, ``contact_date`` as timestamps, ``outcome`` as int.

    Raises
    ------
    InputError
        Naming the file, the first bad data row and its column.
    """
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", file=path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            # ids stay text as written ("0123" is an id, "NA" is not missing)
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as err:  # a parser's own message, on one line, naming the file
        raise InputError(f"cannot read the campaign history ({type(err).__name__}: {err})",
                         file=path) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in HISTORY_COLUMNS:
        if column not in frame.columns:
            raise InputError(f"campaign history needs columns {', '.join(HISTORY_COLUMNS)}",
                             file=path, column=column)
    if len(frame) == 0:
        raise InputError("campaign history has no rows", file=path)

    def first_bad(mask, column, why):
        bad = np.flatnonzero(np.asarray(mask, dtype=bool))
        if bad.size:
            raise InputError(why, file=path, row=int(bad[0]) + 1, column=column)

    ids = frame["customer_id"].astype(str).str.strip()
    first_bad(ids.eq("") | frame["customer_id"].isna(), "customer_id", "empty customer id")
    offer = frame["offer"].astype(str).str.strip()
    first_bad(offer.eq("") | frame["offer"].isna(), "offer",
              "empty offer (write 'none' for the control group)")
    dates = pd.to_datetime(frame["contact_date"].astype(str).str.strip(), errors="coerce",
                           format="ISO8601")
    first_bad(dates.isna(), "contact_date", "not an ISO 8601 date")
    outcome = pd.to_numeric(frame["outcome"].astype(str).str.strip(), errors="coerce")
    first_bad(~outcome.isin([0, 1]), "outcome", "outcome must be 0 (stayed) or 1 (churned)")
    # one row per customer and campaign: a repeated row would count its outcome twice
    first_bad(pd.DataFrame({"c": ids, "d": dates}).duplicated(), "customer_id",
              "the customer appears twice in one campaign (same contact_date)")
    out = pd.DataFrame({"customer_id": ids, "contact_date": dates.dt.tz_localize(None)
                        if dates.dt.tz is not None else dates,
                        "offer": offer, "outcome": outcome.astype(int)})
    return out.reset_index(drop=True)


def qini_curve(uplift, treated, stayed):
    """Qini curve: ``(k, Q(k))`` for the top-k customers by predicted uplift, k = 0..n."""
    uplift = np.asarray(uplift, dtype=float)
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(stayed, dtype=float)
    order = np.argsort(-uplift, kind="stable")
    t, y = t[order], y[order]
    n_t = np.concatenate([[0], np.cumsum(t)])
    n_c = np.concatenate([[0], np.cumsum(~t)])
    r_t = np.concatenate([[0], np.cumsum(y * t)])
    r_c = np.concatenate([[0], np.cumsum(y * ~t)])
    q = r_t - np.divide(r_c * n_t, n_c, out=np.zeros(len(n_c)), where=n_c > 0)
    return np.arange(len(q)), q


def qini_coefficient(uplift, treated, stayed) -> float:
    """Area between the Qini curve and random targeting per treated customer (see module)."""
    k, q = qini_curve(uplift, treated, stayed)
    n = k[-1]
    n_treated = max(int(np.asarray(treated, dtype=bool).sum()), 1)
    if n == 0:
        return 0.0
    return float(np.mean(q - k / n * q[-1]) / n_treated)


def _design(customers: pd.DataFrame) -> pd.DataFrame:
    """Numeric design matrix of the customer attributes (one-hot categories), by customer id."""
    table = customers.drop(columns=[c for c in ("churn_date",) if c in customers.columns])
    table = table.set_index(table["customer_id"].astype(str)).drop(columns="customer_id")
    num = table.select_dtypes(include="number")
    cat = table.select_dtypes(exclude="number")
    cat = cat.loc[:, cat.nunique() <= 30]
    parts = [num] + ([pd.get_dummies(cat.astype(str), dtype=float)] if cat.shape[1] else [])
    return pd.concat(parts, axis=1).fillna(0.0)


_MIN_Q = 1e-3
_BOOSTING = {"max_iter": 150, "max_depth": 3, "learning_rate": 0.05, "min_samples_leaf": 30}


def _churn_rate(X, churned, X_new, seed, *more):
    """P(churn | x) by gradient boosting at ``X_new`` (and at each of ``more``, one fit); the
    mean where one class is missing."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    if len(np.unique(churned)) < 2:
        level = churned.mean() if len(churned) else 0.0
        out = [np.full(len(Z), level) for Z in (X_new, *more)]
    else:
        clf = HistGradientBoostingClassifier(**_BOOSTING, random_state=seed).fit(X, churned)
        out = [clf.predict_proba(Z)[:, 1] for Z in (X_new, *more)]
    return out[0] if not more else out


def _band_effects(q_train, treated, churned, q_new):
    """Average effect in quintile bands of the control churn ``q`` (module docstring)."""
    edges = np.unique(np.quantile(q_train, np.linspace(0, 1, _N_BANDS + 1)[1:-1]))
    band_train = np.searchsorted(edges, q_train, side="right")
    eff = np.array([average_effect(treated[band_train == b], churned[band_train == b])
                    for b in range(len(edges) + 1)])
    return eff[np.searchsorted(edges, q_new, side="right")]


def _fit_predict(learner, X, treated, churned, X_new, seed):
    """Predicted uplift (fall of churn when contacted) of ``X_new``."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    if learner == "two_model":
        return (_churn_rate(X[~treated], churned[~treated], X_new, seed)
                - _churn_rate(X[treated], churned[treated], X_new, seed))
    if learner == "risk_bands":
        q_new, q_train = _churn_rate(X[~treated], churned[~treated], X_new, seed, X)
        return q_new * _band_effects(q_train, treated, churned, q_new)
    if learner == "class_transformation":
        e = treated.mean()
        y_star = churned * ((~treated) / (1 - e) - treated / e)
        return HistGradientBoostingRegressor(**_BOOSTING, random_state=seed).fit(
            X, y_star).predict(X_new)
    raise ValueError(f"unknown learner {learner!r}")


@dataclass
class UpliftResult:
    """Learned uplift per customer and offer, and how the learners compared.

    Attributes
    ----------
    uplift : pandas.DataFrame
        Index customer_id, one column per offer: predicted rise of the probability of staying
        in a campaign's window for customers like this one.
    control_churn : pandas.Series
        Index customer_id: predicted churn in a campaign's window without contact, ``q(x)``.
    comparison : pandas.DataFrame
        ``offer, learner, qini, selected, n_train, n_test, n_folds``: ``qini`` is the mean
        over the held-out campaigns, ``n_train`` the rows of the final fit, ``n_test`` the rows
        held out (each once).
    decision : pandas.DataFrame
        Index offer: ``learner`` (the selected one), ``qini`` (its mean held-out Qini),
        ``qini_risk`` (the risk ranking's on the same campaigns), ``ranking`` (``"learned"`` when
        ``qini > qini_risk`` and ``reliability > 0``, else ``"risk"``), ``average_effect`` (the
        offer's effect over the whole history), ``reliability`` (:func:`reliability_slope` of
        the selected learner on the held-out campaigns: the share of its departure from the
        average effect that :meth:`effects` keeps) and ``note`` (the decision in words).
    held_out : pandas.DataFrame or None
        The held-out rows of every offer, each scored by the models fitted without its
        campaign: ``offer, fold, customer_id, uplift`` (the selected learner's),
        ``control_churn`` (``q(x)``), ``average_effect`` (the other campaigns'), ``treated,
        churned, share_treated``; the risk ranking's uplift is ``control_churn x
        average_effect``. For Qini curves at any depth (:func:`qini_at_depth`); None without
        a fold to hold out.
    """

    uplift: pd.DataFrame
    control_churn: pd.Series
    comparison: pd.DataFrame
    decision: pd.DataFrame | None = None
    held_out: pd.DataFrame | None = None

    def effects(self, fallback: bool = True, shrink: bool = True) -> pd.DataFrame:
        """Per-customer effect: the share of would-be leavers the offer keeps, in [0, 1].

        What :func:`graphchurn.targeting.actions.next_best_action` takes as ``uplift`` and
        multiplies by each customer's own risk (see the module docstring).

        Parameters
        ----------
        fallback : bool, default True
            For an offer whose learned ranking did not beat the risk ranking on the held-out
            campaign (``decision.ranking == "risk"``), every customer gets the offer's average
            effect; False gives the learned uplift / q(x) for every offer.
        shrink : bool, default True
            With ``fallback``, an offer that keeps its learned ranking gets
            ``average + reliability x (learned - average)`` (``decision.reliability``); False
            gives the learned effect unshrunk.
        """
        q = self.control_churn.reindex(self.uplift.index).to_numpy(dtype=float)
        eff = pd.DataFrame(_effect(self.uplift.to_numpy(), q[:, None]),
                           index=self.uplift.index, columns=self.uplift.columns)
        if fallback and self.decision is not None:
            for o in eff.columns:
                if o not in self.decision.index:
                    continue
                avg = float(self.decision.loc[o, "average_effect"])
                if self.decision.loc[o, "ranking"] == "risk":
                    eff[o] = avg
                elif shrink and "reliability" in self.decision.columns:
                    eff[o] = avg + float(self.decision.loc[o, "reliability"]) * (eff[o] - avg)
        return eff


def fit_uplift(history: pd.DataFrame, customers: pd.DataFrame, learners=LEARNERS,
               seed: int = 0) -> UpliftResult:
    """Learn who responds to each offer from past randomised campaigns.

    Parameters
    ----------
    history : pandas.DataFrame
        :data:`HISTORY_COLUMNS`; ``offer == "none"`` marks the control group.
    customers : pandas.DataFrame
        ``customer_id`` and attributes (numeric, or categorical with at most 30 levels).
    learners : sequence of str
        Candidates among :data:`LEARNERS`.

    Raises
    ------
    InputError
        Without history (no rows, no control group, or no treated customer): the caller falls
        back to risk x assumed effect and says so.
    """
    if history is None or len(history) == 0:
        raise InputError("no campaign history: uplift cannot be learned", file="history")
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise InputError(f"campaign history needs column(s) {', '.join(missing)}",
                         file="history")
    h = history.copy()
    h["customer_id"] = h["customer_id"].astype(str)
    h["offer"] = h["offer"].astype(str)
    if not (h["offer"] == "none").any() or (h["offer"] == "none").all():
        raise InputError("campaign history needs a control group (offer 'none') and contacts",
                         file="history")
    X_all = _design(customers)
    if X_all.shape[1] == 0:
        raise InputError("the customer table has no attribute to learn uplift from "
                         "(numeric, or categorical with at most 30 levels)", file="customers")
    h = h[h["customer_id"].isin(X_all.index)]
    dates = np.sort(h["contact_date"].unique())
    offers = sorted(set(h["offer"]) - {"none"})
    rows, uplift, decisions, scored = [], {}, [], []
    X_new = X_all.to_numpy(dtype=float)
    for o in offers:
        part = h[h["offer"].isin([o, "none"])]
        X = X_all.loc[part["customer_id"]].to_numpy(dtype=float)
        t = (part["offer"] == o).to_numpy()
        y = part["outcome"].to_numpy(dtype=float)
        if len(dates) >= 2:
            folds = [(part["contact_date"] == d).to_numpy() for d in dates]
        else:  # a single campaign: a seeded 30% of its customers held out
            folds = [np.random.default_rng(seed).random(len(part)) < 0.3]
        # a fold needs both arms on both sides (an offer given in some campaigns only)
        folds = [f for f in folds if t[f].any() and (~t[f]).any() and t[~f].any()
                 and (~t[~f]).any()]
        scores = {learner: [] for learner in learners}
        risk_scores = []
        held_out = {learner: [] for learner in learners}
        averages, risks, test_rows = [], [], []
        for test in folds:
            for learner in learners:
                pred = _fit_predict(learner, X[~test], t[~test], y[~test], X[test], seed)
                scores[learner].append(qini_coefficient(pred, t[test], 1.0 - y[test]))
                held_out[learner].append(pred)
            control = ~test & ~t
            risk_rank = _churn_rate(X[control], y[control], X[test], seed)
            risk_scores.append(qini_coefficient(risk_rank, t[test], 1.0 - y[test]))
            averages.append(np.full(test.sum(), average_effect(t[~test], y[~test])))
            risks.append(risk_rank)
            test_rows.append(np.flatnonzero(test))
        scores = {name: float(np.mean(v)) if v else 0.0 for name, v in scores.items()}
        qini_risk = float(np.mean(risk_scores)) if risk_scores else 0.0
        best = max(learners, key=lambda name: (scores[name], -learners.index(name)))
        reliability = 0.0
        if folds:
            rows_ = np.concatenate(test_rows)
            scored.append(pd.DataFrame({
                "offer": o, "fold": np.repeat(np.arange(len(folds)), [f.sum() for f in folds]),
                "customer_id": part["customer_id"].to_numpy()[rows_],
                "uplift": np.concatenate(held_out[best]),
                "control_churn": np.concatenate(risks),
                "average_effect": np.concatenate(averages),
                "treated": t[rows_], "churned": y[rows_].astype(int),
                "share_treated": np.concatenate([np.full(f.sum(), t[f].mean()) for f in folds])}))
            f = scored[-1]
            reliability = reliability_slope(f["uplift"], f["control_churn"], f["average_effect"],
                                            f["treated"], f["churned"], f["share_treated"])
        for learner in learners:
            rows.append({"offer": o, "learner": learner, "qini": scores[learner],
                         "selected": learner == best, "n_train": len(part),
                         "n_test": int(sum(f.sum() for f in folds)), "n_folds": len(folds)})
        decisions.append(_decide(o, best, scores[best], qini_risk, t, y, reliability))
        uplift[o] = _fit_predict(best, X, t, y, X_new, seed)
    control = h[h["offer"] == "none"]
    q = _churn_rate(X_all.loc[control["customer_id"]].to_numpy(dtype=float),
                    control["outcome"].to_numpy(dtype=float), X_new, seed)
    return UpliftResult(uplift=pd.DataFrame(uplift, index=X_all.index),
                        control_churn=pd.Series(q, index=X_all.index, name="control_churn"),
                        comparison=pd.DataFrame(rows),
                        decision=pd.DataFrame(decisions).set_index("offer"),
                        held_out=pd.concat(scored, ignore_index=True) if scored else None)


def average_effect(treated, churned) -> float:
    """The offer's effect over a randomised history: ``(churn_C - churn_T) / churn_C`` in
    [0, 1] (0 without a leaver among the controls)."""
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(churned, dtype=float)
    if t.all() or not t.any():
        return 0.0
    q = y[~t].mean()
    return float(np.clip((q - y[t].mean()) / q, 0.0, 1.0)) if q > 0 else 0.0


def _effect(uplift, control_churn):
    """The share of would-be leavers kept, ``uplift / q`` in [0, 1] (``UpliftResult.effects``)."""
    # q below _MIN_Q: too few leavers like this customer to estimate a share of them
    q = np.maximum(np.asarray(control_churn, dtype=float), _MIN_Q)
    return np.clip(np.maximum(np.asarray(uplift, dtype=float), 0.0) / q, 0.0, 1.0)


def reliability_slope(uplift, control_churn, average, treated, churned, share_treated) -> float:
    """How much of the learned effect's departure from the average effect is real, in [0, 1].

    On held-out rows, the least-squares slope of the observed effect's departure from the
    average on the learned effect's departure from it (centred), on the scale the contact list
    reads: effects, which it multiplies by each customer's own risk. The observed effect of a
    row is its transformed outcome over its control churn, ``y* / q(x)`` with
    ``y* = churned ((1 - T) / (1 - e) - T / e)``, whose expectation given ``x`` is the uplift
    (so ``y* / q`` has the effect's). 1 when the learned differences between customers are
    found in the outcomes at full size, 0 when they are not found at all or point the wrong way:
    a calibration slope (Copas 1983) of the effect.

    Parameters
    ----------
    uplift : array-like
        Predicted uplift (fall of churn when contacted) of each held-out row.
    control_churn : array-like
        Predicted churn without contact ``q(x)`` of each row (floored at 0.001, as in
        :meth:`UpliftResult.effects`).
    average : float or array-like
        The average effect the learned one departs from (each row's, from the campaigns it
        was not in).
    treated, churned : array-like of {0, 1}
    share_treated : float or array-like
        The share treated in each row's campaign, ``e``.

    Returns
    -------
    float
        The slope clipped to [0, 1]; 0 when the learned effect is the same for every row.
    """
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(churned, dtype=float)
    e = np.broadcast_to(np.asarray(share_treated, dtype=float), t.shape)
    q = np.maximum(np.asarray(control_churn, dtype=float), _MIN_Q)
    avg = np.broadcast_to(np.asarray(average, dtype=float), t.shape)
    observed = y * (~t / (1.0 - e) - t / e) / q
    d = _effect(uplift, q) - avg
    d = d - d.mean()
    var = float(np.dot(d, d))
    # a learned effect that departs from the average by a constant ranks nobody differently
    if var <= 1e-12 * max(len(d), 1):
        return 0.0
    return float(np.clip(np.dot(d, observed - avg) / var, 0.0, 1.0))


def qini_at_depth(uplift, treated, stayed, share) -> float:
    """The Qini coefficient of the top ``share`` of the ranking only: the mean over
    ``k = 1..ceil(share n)`` of ``Q(k) - (k / n) Q(n)``, per treated customer.

    What a list that contacts the top ``share`` of the customers gains from the ranking over
    random targeting; ``share = 1`` averages over ``k = 1..n`` (:func:`qini_coefficient`
    includes ``k = 0`` as well).
    """
    k, q = qini_curve(uplift, treated, stayed)
    n = k[-1]
    if n == 0:
        return 0.0
    top = max(1, min(n, int(np.ceil(share * n))))
    n_treated = max(int(np.asarray(treated, dtype=bool).sum()), 1)
    return float(np.mean(q[1:top + 1] - k[1:top + 1] / n * q[-1]) / n_treated)


def _decide(offer, learner, qini, qini_risk, treated, churned, reliability=1.0) -> dict:
    """Which ranking an offer uses: the learned uplift only when it ranks the held-out
    campaign better than the churn risk does, shrunk by its reliability (module docstring)."""
    avg = average_effect(treated, churned)
    if qini > qini_risk and reliability > 0:
        ranking = "learned"
        note = (f"{offer}: {learner} (mean Qini {qini:.4f} on held-out campaigns, risk ranking "
                f"{qini_risk:.4f}): risk x learned effect, shrunk towards the average effect "
                f"({avg:.2f}) by its held-out reliability {reliability:.2f}")
    elif qini > qini_risk:
        ranking = "risk"
        note = (f"{offer}: the learned uplift ({learner}, mean Qini {qini:.4f}, risk ranking "
                f"{qini_risk:.4f}) departs from the risk ranking in ways the held-out campaigns "
                f"do not confirm (reliability 0): risk x the offer's average effect in the "
                f"history ({avg:.2f})")
    else:
        ranking = "risk"
        note = (f"{offer}: the learned uplift ({learner}, mean Qini {qini:.4f}) does not beat "
                f"the risk ranking (Qini {qini_risk:.4f}) on held-out campaigns: risk x the "
                f"offer's average effect in the history ({avg:.2f})")
    return {"offer": offer, "learner": learner, "qini": qini, "qini_risk": qini_risk,
            "ranking": ranking, "average_effect": avg, "reliability": float(reliability),
            "note": note}
