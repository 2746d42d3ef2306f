"""The ``graphchurn`` command. Every subcommand is a thin shell over library functions.

Bad input (an :class:`~graphchurn.errors.InputError`) is reported as one line on stderr with
exit code 2 and no traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

# The model's OpenMP threads wait for each other by sleeping, not spinning, unless the user
# chose otherwise: on a machine other jobs share, a spinning thread holds its core while its
# partner waits to be scheduled, and every boosting iteration paid for it
# (docs/results.md#operator-scale-issue-27). Set before scikit-learn's OpenMP runtime loads,
# which reads it once.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The same for OpenBLAS's own threads (numpy's and scipy's matrix products: the logistic
# regressions and calibrations): after each product they spin for about 2**28 cycles before
# sleeping, and on a shared machine most of a logistic regression's CPU time went to that spin
# (docs/results.md#operator-scale-issue-27). The shortest spin (2**4) keeps the thread count,
# so every result is the same. Read once, when OpenBLAS loads.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from graphchurn.app import interrupt
from graphchurn.errors import InputError

#: The library's parameter names and the flags that set them: errors from the library name the
#: parameter, and the command line shows its flag instead.
FLAGS = {
    "as_of": "--as-of",
    "horizon_days": "--horizon",
    "definition": "--churn",
    "active_window_days": "--active-window",
    "window_days": "--window",
    "n_train_cutoffs": "--train-cutoffs",
    "train_cutoff_step_days": "--train-cutoff-step",
    "n_cutoffs": "--train-cutoffs",
    "step_days": "--train-cutoff-step",
    "seed": "--seed",
    "model_folds": "--model-folds",
    "influence_draws": "--influence-draws",
    "n_jobs": "--jobs",
    "decimal": "--decimal",
    "dayfirst": "--dayfirst",
    "date_format": "--date-format",
    "epoch_unit": "--epoch-unit",
    "encoding": "--encoding",
}

__all__ = [
    "FLAGS",
    "main",
    "build_parser",
]

log = logging.getLogger("graphchurn")


# --------------------------------------------------------------------------- shared options
# Day counts are bounded at a century so that cut-off, window and horizon arithmetic stays
# within the dates pandas can represent (years 1677-2262); no log needs more.
MAX_DAYS = 36500


def _positive_int(option, maximum=None):
    def parse(text):
        from graphchurn.io.readers import check_positive_int

        try:
            return check_positive_int(text, option, maximum)
        except InputError as err:  # argparse prints this text and exits 2
            raise argparse.ArgumentTypeError(err.reason) from None
    return parse


def _days(option):
    return _positive_int(option, MAX_DAYS)


def _jobs(text):
    """argparse type of --jobs: a whole number other than 0 (negative counts back from the
    cores: -1 all of them)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number (-1: one per core)") from None
    if value == 0:
        raise argparse.ArgumentTypeError("must not be 0 (1: one process; -1: one per core)")
    return value


def _int_between(low: int, high: int):
    """argparse type: a whole number in [low, high]."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value
    return parse


def _finite_number(*, zero_allowed: bool):
    """argparse type: a finite number above 0 (or of 0 or more)."""
    def parse(text):
        import math

        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected a number") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero_allowed):
            raise argparse.ArgumentTypeError(
                "must be a number of 0 or more" if zero_allowed else "must be a number above 0")
        return value
    return parse


# numpy and torch seeds are unsigned 32-bit integers.
_seed = _int_between(0, 2**32 - 1)
_port = _int_between(0, 65535)
_positive_float = _finite_number(zero_allowed=False)
_amount = _finite_number(zero_allowed=True)


def _currency(text: str) -> str:
    """argparse type: a currency symbol or code shown in the report (1 to 5 printable characters)."""
    text = text.strip()
    if not 1 <= len(text) <= 5 or not text.isprintable():
        raise argparse.ArgumentTypeError("expected a currency symbol or code of 1 to 5 characters, e.g. € or EUR")
    return text


def _check_out_dir(path) -> Path:
    """Fail before any work when ``--out`` cannot become a directory."""
    out = Path(path)
    for parent in (out, *out.parents):
        if parent.exists():
            if not parent.is_dir():
                raise InputError("exists and is not a directory" if parent == out
                                 else f"cannot be created: {parent} is a file", file="--out")
            break
    return out


def _add_format_options(p: argparse.ArgumentParser) -> None:
    """How foreign input files write numbers, dates and text (docs/input.md)."""
    p.add_argument("--decimal", choices=[".", ","], default=".",
                   help="decimal mark of numbers in the inputs (',' for semicolon files with "
                        "decimal commas; default '.')")
    p.add_argument("--dayfirst", action="store_true",
                   help="dates that are not ISO 8601 are day first: 31/01/2025 14:05")
    p.add_argument("--date-format", metavar="LAYOUT",
                   help="strptime layout of the inputs' dates, e.g. '%%d/%%m/%%Y %%H:%%M'")
    p.add_argument("--epoch-unit", choices=["s", "ms", "us"], default="s",
                   help="unit of numeric (Unix epoch) timestamps (default s)")
    p.add_argument("--encoding", metavar="NAME",
                   help="text encoding of CSV inputs, e.g. cp1252 (default UTF-8; UTF-16 is "
                        "recognised by its byte order mark)")


def _formats(args) -> dict:
    """The loaders' format keywords from the options."""
    return {"decimal": getattr(args, "decimal", "."),
            "dayfirst": getattr(args, "dayfirst", False),
            "date_format": getattr(args, "date_format", None),
            "epoch_unit": getattr(args, "epoch_unit", "s"),
            "encoding": getattr(args, "encoding", None)}


def _add_pseudonym_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pseudonymise", metavar="KEYFILE",
                   help="write keyed-hash ids (px_ + 16 hex digits of HMAC-SHA256) in every "
                        "output; the key is read from KEYFILE (created with a random key when "
                        "missing); map back with `graphchurn unmask`")
    p.add_argument("--pseudonymise-map", metavar="FILE",
                   help="also write pseudonym,customer_id pairs to FILE (it re-identifies: "
                        "keep it with the key, not with the outputs)")


def _pseudonymiser(args):
    """A Pseudonymiser for --pseudonymise (the key read before any heavy work), or None."""
    if getattr(args, "pseudonymise_map", None) and not getattr(args, "pseudonymise", None):
        raise InputError("given without --pseudonymise", file="--pseudonymise-map")
    if not getattr(args, "pseudonymise", None):
        return None
    from graphchurn.io.pseudonyms import Pseudonymiser, read_key

    return Pseudonymiser(read_key(args.pseudonymise))


def _write_pseudonym_map(args, pseudonymiser) -> None:
    if pseudonymiser is None or not getattr(args, "pseudonymise_map", None):
        return
    from graphchurn.io.atomic import write_csv

    write_csv(pseudonymiser.mapping(), Path(args.pseudonymise_map))
    log.warning("wrote the pseudonym map %s: it re-identifies every id, keep it with the key",
                args.pseudonymise_map)


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--interactions", required=True, metavar="FILE",
                   help="call/SMS/message log: CSV, CSV.gz or Parquet")
    p.add_argument("--customers", metavar="FILE", help="customer table: CSV or Parquet")
    p.add_argument("--columns", metavar="MAP",
                   help="map the log's columns, e.g. src=Source,dst=Target,timestamp=time "
                        "(0-based positions, e.g. src=0,dst=1,timestamp=3, read a headerless file)")
    p.add_argument("--customer-columns", metavar="MAP",
                   help="map the customer table's columns, e.g. customer_id=msisdn,churn_date=left")
    p.add_argument("--as-of", metavar="DATE",
                   help="scoring moment (default: the day after the last interaction)")
    p.add_argument("--horizon", type=_days("--horizon"), default=30, metavar="DAYS",
                   help="predict churn in (as-of, as-of + DAYS] (default 30)")
    p.add_argument("--churn", choices=["contract", "inactivity"],
                   help="churn definition (default: contract when customers have churn_date)")
    p.add_argument("--active-window", type=_days("--active-window"), metavar="DAYS",
                   help="inactivity churn: activity window before a cut-off (default: horizon)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of every random step (default 0)")
    p.add_argument("--model-folds", dest="model_folds", type=_int_between(1, 10), default=1,
                   metavar="N", help="average N cross-fitted churn models (5: steadier between "
                   "seeds on small logs, up to five times the model time; default 1); see "
                   "docs/cli.md, Stable rankings")
    p.add_argument("--influence-draws", dest="influence_draws", type=_int_between(1, 16),
                   default=1, metavar="K",
                   help="average K models, each on its own draw of the influence sampling (4: "
                   "no customer moves more than 0.05 between seeds on the measured worlds, "
                   "about K times the model time; default 1); see docs/cli.md, Stable rankings")
    p.add_argument("--jobs", dest="n_jobs", type=_jobs, default=-1, metavar="N",
                   help="processes building the cut-offs' features side by side (-1: one per "
                   "core, the default; 1: one after the other, the least memory); the results "
                   "do not depend on it")
    _add_format_options(p)


def _load_inputs(args):
    """Read and validate the log and the customer table named by the options."""
    from graphchurn.io.readers import (
        CUSTOMER_KEYS,
        INTERACTION_KEYS,
        check_customers_match,
        load_customers,
        load_interactions,
        parse_column_mapping,
        parse_date_option,
    )

    as_of = parse_date_option(args.as_of, "--as-of") if args.as_of else None
    # Each option maps its own file: a customer key in --columns (or the reverse) is an error
    # that names the right option, not a silently ignored entry.
    log_columns = parse_column_mapping(args.columns, option="--columns", keys=INTERACTION_KEYS)
    customer_columns = parse_column_mapping(args.customer_columns, option="--customer-columns",
                                            keys=CUSTOMER_KEYS)
    if customer_columns and not args.customers:
        raise InputError("given without --customers", file="--customer-columns")
    interactions = load_interactions(args.interactions, log_columns, **_formats(args))
    customers = None
    if args.customers:
        customers = load_customers(args.customers, customer_columns, **_formats(args))
        check_customers_match(interactions, customers, args.customers)
    return interactions, customers, as_of


def _log_inputs(interactions, customers) -> None:
    # Logged only once every input check has passed, so a bad input prints its one line only.
    log.info("read %d interactions%s", len(interactions),
             f" and {len(customers)} customers" if customers is not None else "")


def _config(args, as_of):
    from graphchurn.pipeline import AnalyzeConfig

    return AnalyzeConfig(
        as_of=as_of, horizon_days=args.horizon, definition=args.churn,
        active_window_days=args.active_window, seed=args.seed,
        **{k: getattr(args, k) for k in ("n_train_cutoffs", "train_cutoff_step_days",
                                         "window_days", "estimator",
                                         "community_method", "resolution", "max_degree",
                                         "pooled_churn_rate", "engine", "model_folds",
                                         "influence_draws", "n_jobs", "community_features")
           if hasattr(args, k)},
        # Without a flag the library's default stands ("auto": only on small graphs).
        **({"embeddings": False} if getattr(args, "no_embeddings", False) else
           {"embeddings": True} if getattr(args, "embeddings", False) else {}),
    )


# --------------------------------------------------------------------------- commands
def cmd_analyze(args) -> int:
    from graphchurn.app.outputs import write_outputs
    from graphchurn.graph.customer_graph import encode_ids
    from graphchurn.pipeline import analyze

    _check_out_dir(args.out)
    masker = _pseudonymiser(args)
    start = time.perf_counter()
    if getattr(args, "engine", "local") == "spark":
        # The log is read, validated and aggregated on Spark (graphchurn.engines.spark).
        from graphchurn.app.spark_cli import analyze_cli

        analysis, read_s = analyze_cli(args, _config)
    else:
        interactions, customers, as_of = _load_inputs(args)
        _log_inputs(interactions, customers)
        # Identifiers become integer codes here, once, so the string columns (about 30 bytes
        # a row) are freed before the analysis starts instead of living beside the coded log.
        interactions = encode_ids(interactions, customers)
        read_s = time.perf_counter() - start
        log.info("inputs read and identifiers coded in %.1f s", read_s)
        # The outputs read no training graph: each is released as soon as its cut-off's
        # table is built, so a worker sends back the table alone.
        analysis = analyze(interactions, customers, _config(args, as_of),
                           keep_training_graphs=False)
    # Reading the files is part of the run the command line times (metrics.json's timings).
    analysis.metrics["timings_s"] = {"read inputs": round(read_s, 3),
                                     **analysis.metrics["timings_s"]}
    if masker is not None:
        from graphchurn.io.pseudonyms import PSEUDONYM_PREFIX

        analysis.scores = masker.frame(analysis.scores)
        analysis.groups = masker.frame(analysis.groups)
        analysis.influencers = masker.frame(analysis.influencers)
        analysis.metrics["pseudonymised"] = {"method": "HMAC-SHA256", "prefix": PSEUDONYM_PREFIX,
                                             "hex_digits": 16}
        analysis.metrics["notes"].append(
            f"identifiers pseudonymised: {PSEUDONYM_PREFIX} + 16 hex digits of HMAC-SHA256 "
            "under the key holder's key (graphchurn unmask maps them back)")
    start = time.perf_counter()
    paths = write_outputs(analysis, args.out, currency=args.currency)
    _write_pseudonym_map(args, masker)
    log.info("outputs written in %.1f s", time.perf_counter() - start)
    m = analysis.metrics
    base = m["baseline_rfm_logistic"]
    print(f"as-of {m['as_of']}, horizon {m['horizon_days']} days, churn definition "
          f"'{m['definition']}': scored {m['n_scored']} customers")
    print(f"backtest ({m['estimator']}) on cut-off {m['cutoff']} (n={m['n']}, "
          f"churn rate {m['base_rate']:.3f}, predicted {m['mean_probability']:.3f}): "
          f"ROC-AUC {m['roc_auc']:.3f}  PR-AUC {m['pr_auc']:.3f}  "
          f"top-decile lift {m['lift_top_decile']:.2f}  EMP {m['emp']:.3f}")
    print(f"  RFM-only logistic baseline:  ROC-AUC {base['roc_auc']:.3f}  "
          f"PR-AUC {base['pr_auc']:.3f}  top-decile lift {base['lift_top_decile']:.2f}")
    print(f"{len(analysis.groups)} groups, {len(analysis.influencers)} influencers listed")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_generate(args) -> int:
    from graphchurn.synth.world import generate_world, write_world

    _check_out_dir(args.out)
    world = generate_world(n_customers=args.customers, days=args.days, seed=args.seed)
    written = write_world(world, args.out, fmt=args.format)
    print(f"generated {len(world.customers)} customers, {len(world.interactions)} interactions "
          f"over {args.days} days (seed {args.seed}) into {args.out}")
    for path in (written.values() if isinstance(written, dict) else written):
        print(f"  {path}")
    return 0


def _parse_leavers(text: str, interactions, customers) -> list[str]:
    """The leaver ids, checked against the inputs before any heavy work (ids never echoed)."""
    import pandas as pd

    leavers = [item.strip() for item in text.split(",") if item.strip()]
    if not leavers:
        raise InputError("give at least one customer id", file="--leaves")
    known = pd.Index(pd.concat([interactions["src"], interactions["dst"]]).unique())
    if customers is not None:
        known = known.union(pd.Index(customers["customer_id"]))
    missing = [i for i, leaver in enumerate(leavers, start=1) if leaver not in known]
    if missing:
        raise InputError(f"{len(missing)} of {len(leavers)} id(s) occur in neither the log nor "
                         f"the customer table (first: item {missing[0]})", file="--leaves")
    return leavers


def cmd_whatif(args) -> int:
    from graphchurn.app.outputs import write_whatif_outputs
    from graphchurn.pipeline import leavers_not_current, what_if, whatif_basis

    out = _check_out_dir(args.out)
    masker = _pseudonymiser(args)
    interactions, customers, as_of = _load_inputs(args)
    leavers = _parse_leavers(args.leaves, interactions, customers)
    _log_inputs(interactions, customers)
    basis = whatif_basis(interactions, customers, _config(args, as_of))
    alerts, at_risk = what_if(basis, leavers)
    stale = leavers_not_current(basis, leavers)
    if stale:
        log.warning("%d of %d leaver(s) are not current customers at as-of (they left already, "
                    "or are off-net numbers): their ties are counted as leaving now",
                    stale, len(leavers))
    if masker is not None:
        at_risk = masker.frame(at_risk)
    paths = write_whatif_outputs(basis, alerts, at_risk, len(leavers), out)
    _write_pseudonym_map(args, masker)
    print(f"probabilities from: {basis.source}")
    top = alerts.head(5)
    for row in top.itertuples(index=False):
        print(f"  group {row.community}: {row.members} members, expected churners "
              f"{row.expected_churners_before:.2f} -> {row.expected_churners_after:.2f} "
              f"(+{row.increase:.2f})")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _departure_events(stream, display: str):
    """Yield (row, customer_id, date, error) from `customer_id,date` lines (header optional).

    ``row`` is the 1-based data row (a header line is not counted), as in every input error;
    ``error`` is an :class:`InputError` for a malformed line (then id and date are None), so a
    stream can report a bad event and go on.
    """
    from graphchurn.io.readers import parse_date_option

    header_lines = 0
    for line_number, line in enumerate(stream, start=1):
        line = line.strip()
        parts = [p.strip() for p in line.split(",")]
        if line_number == 1 and parts[0].lower() in ("customer_id", "id"):
            header_lines = 1
            continue
        row = line_number - header_lines
        if not line or line.startswith("#"):
            continue
        if len(parts) != 2 or not parts[0]:
            yield row, None, None, InputError("expected 'customer_id,date'", file=display, row=row)
            continue
        try:
            date = parse_date_option(parts[1], "date")
        except InputError:
            yield row, None, None, InputError("unparseable date", file=display, row=row,
                                              column="date")
            continue
        yield row, parts[0], date, None


def cmd_watch(args) -> int:
    from graphchurn.io.atomic import SIGNIFICANT_DIGITS, json_value
    from graphchurn.pipeline import leavers_not_current, watcher, whatif_basis

    if args.events and not Path(args.events).is_file():
        raise InputError("no such file", file=args.events)  # before any heavy work
    interactions, customers, as_of = _load_inputs(args)
    _log_inputs(interactions, customers)
    basis = whatif_basis(interactions, customers, _config(args, as_of))
    watch = watcher(basis)
    scored_at = basis.features.cutoff
    log.info("watching departures (%s)", basis.source)
    display = args.events or "stdin"
    stream = open(args.events) if args.events else sys.stdin
    seen: set = set()
    skipped = 0
    try:
        for row, customer_id, date, error in _departure_events(stream, display):
            if error is None:
                try:
                    alerts, at_risk = watch.update(customer_id, date)
                except InputError as err:
                    error = InputError(err.reason, file=display, row=row, column="customer_id")
            if error is not None:
                # One bad event is reported and skipped; the stream goes on.
                print(f"graphchurn: error: {error} (event skipped)", file=sys.stderr, flush=True)
                skipped += 1
                continue
            notes = []
            if customer_id in seen:
                notes.append("already registered: nothing changes")
            elif leavers_not_current(basis, [customer_id]):
                notes.append("not a current customer at as-of (left already, or off-net): "
                             "ties counted as leaving now")
            elif date < scored_at:
                notes.append(f"dated before as-of {scored_at.date()}: applied as a departure now")
            seen.add(customer_id)
            record = {
                "event": row, "date": str(date.date()),
                "affected_customers": int(len(at_risk)),
                "alerts": [
                    json_value(a, digits=SIGNIFICANT_DIGITS)
                    for a in alerts.head(args.top).to_dict("records")],
            }
            if notes:
                record["note"] = "; ".join(notes)
            print(json.dumps(record), flush=True)
    finally:
        if stream is not sys.stdin:
            stream.close()
    if skipped:
        print(f"graphchurn: error: {skipped} event(s) skipped (see above)", file=sys.stderr)
        return 2
    return 0


def _target_effects(args, scores, masker=None):
    """Per-tie follower effects for ``target`` from a what-if basis, or None with a note."""
    import numpy as np

    if args.no_network:
        return None, "network effect off (--no-network): saving is the customer's own"
    if not args.interactions:
        return None, ("no contagion effect available (give --interactions, and --customers, "
                      "to build the what-if basis): saving is the customer's own")
    from graphchurn.pipeline import whatif_basis
    from graphchurn.targeting.network import follower_effects

    interactions, customers, as_of = _load_inputs(args)
    basis = whatif_basis(interactions, customers, _config(args, as_of))
    fs = basis.features
    names = [str(x) for x in fs.graph.names]
    if masker is not None:  # scores.csv holds pseudonyms: match the basis to them
        names = list(masker.ids(names))
    # the contact list's probabilities, where scores.csv has them; the basis's elsewhere
    prob = (scores.set_index("customer_id")["churn_probability"].reindex(names)
            .to_numpy(dtype=float))
    prob = np.where(np.isfinite(prob), prob, basis.base_probability)
    effects = follower_effects(fs.graph.graph, prob, basis.contagion, fs.membership,
                               fs.influence["influencer_score"].to_numpy())
    return effects, f"network effect from the what-if basis: {effects.source}"


def _target_uplift(args, scores, table, offer_names, masker=None):
    """Learned effect per customer and offer from ``--history``, or None with a note."""
    from graphchurn.targeting.uplift import fit_uplift, load_history

    history = load_history(args.history)
    if masker is not None:  # scores.csv holds pseudonyms: the history is matched to them
        history["customer_id"] = masker.ids(history["customer_id"])
    fallback = "ranking by risk x assumed effect"
    known = history["customer_id"].isin(table["customer_id"].astype(str))
    if not known.any():
        return None, (f"no customer of the campaign history is in the customer table: uplift "
                      f"cannot be learned; {fallback}")
    try:
        result = fit_uplift(history[known], table)
    except InputError as err:  # history without a control group or without contacts
        return None, f"{err.reason}; {fallback}"
    learned = [o for o in result.uplift.columns if o in offer_names]
    if not learned:
        return None, (f"the campaign history's offers ({', '.join(result.uplift.columns)}) match "
                      f"no offer or channel ({', '.join(offer_names)}): {fallback}")
    comparison = result.comparison[result.comparison["selected"]].set_index("offer")
    # the decision's note names the ranking each offer uses (learned, or risk x average effect)
    parts = [f"{result.decision.loc[o, 'note']} ({int(comparison.loc[o, 'n_folds'])} "
             f"campaign(s) held out in turn, {int(comparison.loc[o, 'n_test'])} rows)"
             for o in learned]
    note = (f"uplift learned from {int(known.sum())} past contacts in "
            f"{history.loc[known, 'contact_date'].nunique()} campaign(s): {'; '.join(parts)}; "
            f"ranking by risk x effect x value")
    assumed = [o for o in offer_names if o not in learned]
    if assumed:
        note += f" (assumed effect for {', '.join(assumed)}: not in the history)"
    if len(known) > known.sum():
        note += f"; {int(len(known) - known.sum())} history row(s) of unknown customers ignored"
    return result.effects()[learned], note


def cmd_target(args) -> int:
    import pandas as pd

    from graphchurn.targeting.contact_list import contact_list
    from graphchurn.targeting.network import network_contact_list
    from graphchurn.io.atomic import write_csv

    if Path(args.out).is_dir():
        raise InputError("is a directory; give the contact list's file name", file="--out")
    if not Path(args.out).exists():  # an existing file is overwritten, as documented
        _check_out_dir(args.out)
    if args.channels and args.offers:
        raise InputError("give either --channels or --offers", file="--offers")
    if args.history and not args.customers:
        raise InputError("needs --customers: the attributes uplift is learned from",
                         file="--history")
    if args.history and not Path(args.history).is_file():
        raise InputError("no such file", file=args.history)  # before any heavy work
    masker = _pseudonymiser(args)
    channels = None
    if args.channels:
        try:
            channels = json.loads(args.channels)
        except json.JSONDecodeError as err:
            raise InputError(f"not valid JSON ({err.msg} at character {err.pos + 1}); expected "
                             'e.g. \'{"sms": {"cost": 0.05, "effect": 0.03}}\'',
                             file="--channels") from None
    offers = None
    if args.offers:
        if not Path(args.offers).is_file():
            raise InputError("no such file", file=args.offers)
        try:
            offers = json.loads(Path(args.offers).read_text())
        except json.JSONDecodeError as err:
            raise InputError(f"not valid JSON ({err.msg} at line {err.lineno})",
                             file=args.offers) from None
    scores_path = Path(args.scores)
    if scores_path.is_dir():
        scores_path = scores_path / "scores.csv"
    if not scores_path.exists():
        raise InputError("no such file (run `graphchurn analyze` first)", file=scores_path)
    # Ids stay text exactly as written ("NA" and "0123" are phone-like ids, not missing/numbers).
    scores = pd.read_csv(scores_path, dtype={"customer_id": str}, keep_default_na=False,
                         na_values={"value": [""], "churn_probability": [""]})
    from graphchurn.io.atomic import spreadsheet_text
    from graphchurn.io.pseudonyms import is_pseudonym

    scores["customer_id"] = spreadsheet_text(scores["customer_id"]).astype(str)
    # scores.csv already pseudonymised (analyze --pseudonymise): the inputs are matched to it
    # under the same key; without the key they cannot be.
    masked = bool(len(scores)) and bool(is_pseudonym(scores["customer_id"]).all())
    if masked and masker is None and (args.customers or (args.interactions
                                                         and not args.no_network)):
        raise InputError("scores.csv holds pseudonyms: give the key (--pseudonymise KEYFILE) "
                         "to match the inputs' ids to them", file=scores_path)
    table = None
    if args.customers:
        # attributes (value, plan, segment...) for values and eligibility rules
        from graphchurn.io.readers import load_customers

        table = load_customers(args.customers, None, **_formats(args)).drop(
            columns=["churn_date"], errors="ignore")
        if masked:
            table["customer_id"] = masker.ids(table["customer_id"])
        extra = [c for c in table.columns if c not in scores.columns or c == "customer_id"]
        scores = scores.merge(table[extra].astype({"customer_id": str}), on="customer_id",
                              how="left")
    value_kw = {"default_value": args.default_value, "horizon_months": args.months}
    uplift = None
    if args.history:
        from graphchurn.targeting.actions import parse_offers
        from graphchurn.targeting.contact_list import DEFAULT_CHANNELS, normalise_channels

        if offers is None:
            # learned effects differ per customer: each channel becomes an offer of that name
            chans = normalise_channels(channels if args.channels else DEFAULT_CHANNELS)
            offers = {"offers": {name: {"channel": name, "cost": c.cost, "effect": c.effect}
                                 for name, c in chans.items()}}
        offer_names = list(parse_offers(offers)[0])
        uplift, uplift_note = _target_uplift(args, scores, table, offer_names,
                                             masker if masked else None)
        print(uplift_note)
    effects, note = _target_effects(args, scores, masker if masked else None)
    print(note)
    if offers is not None:
        from graphchurn.targeting.actions import next_best_action

        actions = next_best_action(scores, args.budget, offers, effects=effects, uplift=uplift,
                                   **value_kw)
        if masker is not None:
            actions = masker.frame(actions)
        write_csv(actions, Path(args.out))
        _write_pseudonym_map(args, masker)
        spent = float(actions["cost"].sum()) if len(actions) else 0.0
        saving = float(actions["net_saving"].sum()) if len(actions) else 0.0
        counts = actions["action"].value_counts().to_dict() if len(actions) else {}
        print(f"{len(actions)} actions ({', '.join(f'{k} {v}' for k, v in counts.items())}), "
              f"cost {spent:.2f} of budget {args.budget:.2f}, expected net saving "
              f"{saving:.2f}; wrote {args.out}")
        return 0
    kw = {"channels": channels} if args.channels else {}
    # Given --channels is used as given ({} or null is an error there, not the defaults).
    if effects is not None:
        contacts = network_contact_list(scores, args.budget, effects, **kw, **value_kw)
    else:
        contacts = contact_list(scores, args.budget, **kw, **value_kw)
    if masker is not None:
        contacts = masker.frame(contacts)
    write_csv(contacts, Path(args.out))
    _write_pseudonym_map(args, masker)
    spent = float(contacts["cost"].sum()) if len(contacts) else 0.0
    saving = float(contacts["net_saving"].sum()) if len(contacts) else 0.0
    print(f"{len(contacts)} contacts, cost {spent:.2f} of budget {args.budget:.2f}, "
          f"expected net saving {saving:.2f}; wrote {args.out}")
    return 0


def cmd_unmask(args) -> int:
    """Map pseudonyms back to identifiers, for the key holder."""
    import pandas as pd

    from graphchurn.io.atomic import csv_text, spreadsheet_text, write_csv
    from graphchurn.io.pseudonyms import (ID_COLUMNS, LIST_COLUMNS, is_pseudonym,
                                          keyed_pseudonyms, read_key)
    from graphchurn.io.readers import load_customers, load_interactions

    key = read_key(args.key, create=False)
    if not (args.interactions or args.customers or args.map):
        raise InputError("give the original --interactions and/or --customers (their ids are "
                         "hashed under the key), or a --map written by --pseudonymise-map",
                         file="--ids")
    known: dict[str, str] = {}
    if args.map:
        pairs = pd.read_csv(args.map, dtype=str, keep_default_na=False)
        known.update(zip(spreadsheet_text(pairs["pseudonym"]),
                         spreadsheet_text(pairs["customer_id"])))
    candidates = []
    if args.interactions:
        log_ = load_interactions(args.interactions, args.columns, **_formats(args))
        candidates += [log_["src"], log_["dst"]]
    if args.customers:
        candidates.append(load_customers(args.customers, args.customer_columns,
                                         **_formats(args))["customer_id"])
    if candidates:
        ids = pd.unique(pd.concat(candidates, ignore_index=True).astype(str))
        known.update(zip(keyed_pseudonyms(ids, key), ids))
    source = Path(args.ids)
    table = None
    if source.is_file():
        table = pd.read_csv(source, dtype=str, keep_default_na=False)
        if not any(c in table.columns for c in ID_COLUMNS + LIST_COLUMNS):
            # one pseudonym per line, no header
            table = pd.read_csv(source, dtype=str, keep_default_na=False, header=None)
            pseudonyms = spreadsheet_text(table.iloc[:, 0]).tolist()
            table = None
        else:
            pseudonyms = None
    else:
        pseudonyms = [x.strip() for x in str(args.ids).split(",") if x.strip()]
    missing = 0
    if table is None:
        if not all(is_pseudonym(pseudonyms)):
            raise InputError("expected pseudonyms (px_ + 16 hex digits), a file of them, or a "
                             "CSV with a customer_id column", file="--ids")
        out = pd.DataFrame({"pseudonym": pseudonyms,
                            "customer_id": [known.get(p, "") for p in pseudonyms]})
        missing = int((out["customer_id"] == "").sum())
    else:
        out = table.copy()
        for column in ID_COLUMNS:
            if column in out.columns:
                values = spreadsheet_text(out[column]).astype(str)
                mapped = values.map(known)
                missing += int((mapped.isna() & pd.Series(is_pseudonym(values))).sum())
                out[column] = mapped.fillna(values)
        for column in LIST_COLUMNS:
            if column in out.columns:
                out[column] = [";".join(known.get(x, x) for x in str(v).split(";") if x)
                               for v in spreadsheet_text(out[column])]
    if missing:
        log.warning("%d pseudonym(s) not found among the given ids (another key, or ids not "
                    "in these inputs); left as they are", missing)
    if args.out:
        write_csv(out, Path(args.out))
        print(f"unmasked {len(out) - missing} of {len(out)} row(s); wrote {args.out}")
    else:
        sys.stdout.write(csv_text(out))
    return 0


def cmd_serve(args) -> int:
    if args.data:
        from graphchurn.app.web.workspace import Settings, serve_workspace

        max_bytes = None if args.max_upload_mb is None else int(args.max_upload_mb * 2**20)
        serve_workspace(Settings(args.data, database_url=args.database_url, max_upload_bytes=max_bytes,
                                 workers=args.workers), host=args.host, port=args.port)
        return 0
    from graphchurn.app.web.app import serve

    serve(args.dir, host=args.host, port=args.port)
    return 0


def _read_password() -> str:
    """The password from standard input: one line, or a prompt without echo on a terminal."""
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise InputError("the two passwords differ", parameter="password")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def cmd_users(args) -> int:
    from sqlalchemy import select

    from graphchurn.app.web.auth import add_user, new_token
    from graphchurn.app.web.db import Team, User, open_database

    Session = open_database(args.data, args.database_url)
    with Session() as s:
        if args.users_command == "add":
            try:
                user = add_user(s, args.name, _read_password(), team=args.team, admin=args.admin)
            except ValueError as exc:
                raise InputError(str(exc), parameter="name") from None
            print(f"added user {user.name} (team {args.team}{', admin' if user.is_admin else ''})")
        elif args.users_command == "token":
            user = s.scalar(select(User).where(User.name == args.name))
            if user is None:
                raise InputError("no such user", parameter="name")
            print(f"API token for {user.name} (shown once; send it as 'Authorization: Bearer TOKEN'): "
                  f"{new_token(s, user)}")
        else:
            teams = {t.id: t.name for t in s.scalars(select(Team))}
            for user in s.scalars(select(User).order_by(User.name)):
                print(f"{user.name}\t{teams.get(user.team_id)}\t{'admin' if user.is_admin else ''}")
    return 0


# --------------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (with a pointer to --help), exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="graphchurn",
        description="Predict customer churn from the social graph of call records.")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print results")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("analyze", help="score churn risk, groups and influencers")
    _add_input_options(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--estimator", choices=["by_size", "ensemble", "gbm", "logistic", "auto"],
                   default="by_size",
                   help="churn model (default by_size: the soft-voting ensemble of boosting and "
                        "L1 logistic regression below 50,000 training rows, boosting alone "
                        "above); auto picks one of gbm, logistic, ensemble by validation on "
                        "the training cut-offs")
    p.add_argument("--no-embeddings", action="store_true", help="skip GraphSAGE embeddings")
    p.add_argument("--embeddings", action="store_true",
                   help="GraphSAGE embeddings at any graph size (default: only up to 50,000 "
                        "vertices, where they are cheap; their measured gain is nil)")
    p.add_argument("--community-method", default="leiden",
                   choices=["leiden", "louvain", "label_propagation", "infomap"])
    p.add_argument("--resolution", type=_positive_float, default=1.0,
                   help="community resolution: higher = smaller groups (default 1)")
    p.add_argument("--community-features", action="store_true",
                   help="let the churn model read the group columns too (group size and "
                        "churn, leaders, susceptibility; off by default: their measured gain "
                        "is nil and they need communities at every training cut-off)")
    p.add_argument("--max-degree", type=_positive_int("--max-degree"), metavar="N",
                   help="drop hub numbers (call centres) with more than N contacts")
    p.add_argument("--train-cutoffs", dest="n_train_cutoffs", type=_positive_int("--train-cutoffs"),
                   default=4, metavar="N", help="earlier training cut-offs, where the log reaches (default 4)")
    p.add_argument("--train-cutoff-step", dest="train_cutoff_step_days",
                   type=_days("--train-cutoff-step"), metavar="DAYS",
                   help="days between training cut-offs (default: the horizon)")
    p.add_argument("--window", dest="window_days", type=_days("--window"), default=90,
                   metavar="DAYS", help="days of interactions behind each cut-off (default 90)")
    p.add_argument("--pooled-churn-rate", action="store_true",
                   help="keep the average churn level of all training cut-offs instead of "
                        "matching the newest one's rate (recalibration in the large)")
    # The Spark engine (graphchurn.engines.spark, docs/spark.md).
    p.add_argument("--engine", choices=["local", "spark"], default="local",
                   help="where the log is read and aggregated: this process (default) or "
                        "Apache Spark (needs graphchurn[spark] and Java 17+)")
    p.add_argument("--spark-master", default=None, metavar="URL",
                   help="Spark master for --engine spark (default local[*]; under "
                        "spark-submit, the one it sets)")
    p.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                   help="a Spark setting for --engine spark (repeatable)")
    p.add_argument("--spark-features", choices=["driver", "executors"], default="driver",
                   help="--engine spark: where the training cut-offs' graph features are "
                        "computed: on the driver from its tie graph (default), or on the "
                        "executors, no training graph on the driver (influence within two "
                        "hops; docs/spark.md)")
    p.add_argument("--currency", type=_currency, metavar="SYMBOL",
                   help="currency of the values and costs, shown in front of the report's amounts "
                        "(e.g. € or EUR; default: plain numbers)")
    _add_pseudonym_options(p)
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("generate", help="write a synthetic telecom world with known truth")
    p.add_argument("--customers", type=_positive_int("--customers"), default=2000)
    p.add_argument("--days", type=_days("--days"), default=120)
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("whatif", help="groups at risk if given customers leave")
    _add_input_options(p)
    p.add_argument("--leaves", required=True, metavar="ID[,ID...]",
                   help="customer ids of the leavers, comma-separated")
    p.add_argument("--out", required=True, metavar="DIR")
    _add_pseudonym_options(p)
    p.add_argument("--no-embeddings", action="store_true", help="skip GraphSAGE embeddings")
    p.add_argument("--embeddings", action="store_true",
                   help="GraphSAGE embeddings at any graph size (default: only up to 50,000 "
                        "vertices, where they are cheap; their measured gain is nil)")
    p.set_defaults(func=cmd_whatif)

    p = sub.add_parser("watch", help="re-score affected neighbourhoods as departures stream in")
    _add_input_options(p)
    p.add_argument("--events", metavar="FILE",
                   help="'customer_id,date' lines (default: standard input)")
    p.add_argument("--top", type=_positive_int("--top"), default=5,
                   help="alerts printed per event (default 5)")
    p.add_argument("--no-embeddings", action="store_true", help="skip GraphSAGE embeddings")
    p.add_argument("--embeddings", action="store_true",
                   help="GraphSAGE embeddings at any graph size (default: only up to 50,000 "
                        "vertices, where they are cheap; their measured gain is nil)")
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("target", help="contact list that fits a budget")
    p.add_argument("--scores", required=True, metavar="FILE_OR_DIR",
                   help="scores.csv from analyze, or its output directory")
    p.add_argument("--budget", type=_amount, required=True)
    p.add_argument("--channels", metavar="JSON",
                   help='channel costs and effects, e.g. \'{"sms": {"cost": 0.05, "effect": 0.03}}\'')
    p.add_argument("--offers", metavar="FILE",
                   help="offers JSON (cost, effect, channel, eligibility, capacity, rules): "
                        "one next best action per customer, written as actions")
    p.add_argument("--default-value", type=_amount, metavar="V",
                   help="monthly value of customers without one (default: median known)")
    p.add_argument("--months", type=_positive_float, default=12.0, metavar="M",
                   help="months of value a retained customer is worth (default 12)")
    p.add_argument("--interactions", metavar="FILE",
                   help="the log: with it, followers' value from the contagion model (default "
                        "when given)")
    p.add_argument("--customers", metavar="FILE",
                   help="customer table: values and attributes for eligibility rules")
    p.add_argument("--as-of", metavar="DATE", help="scoring moment of the what-if basis")
    p.add_argument("--horizon", type=_days("--horizon"), default=30, metavar="DAYS")
    p.add_argument("--no-network", action="store_true",
                   help="ignore followers: own expected saving only")
    p.add_argument("--history", metavar="FILE",
                   help="past campaigns (customer_id, contact_date, offer, outcome; offer 'none' "
                        "= control): learn who responds (needs --customers); writes actions")
    _add_format_options(p)
    _add_pseudonym_options(p)
    p.add_argument("--out", required=True, metavar="FILE")
    p.set_defaults(func=cmd_target, columns=None, customer_columns=None, churn=None,
                   active_window=None, seed=0)

    p = sub.add_parser("unmask", help="map pseudonymised ids back (for the key holder)")
    p.add_argument("--key", required=True, metavar="KEYFILE", help="the key of --pseudonymise")
    p.add_argument("--ids", required=True, metavar="FILE_OR_LIST",
                   help="an output CSV (its customer_id / top_influencers columns are mapped "
                        "back), a file of pseudonyms one a line, or pseudonyms comma-separated")
    p.add_argument("--interactions", metavar="FILE", help="the original log (its ids)")
    p.add_argument("--customers", metavar="FILE", help="the original customer table (its ids)")
    p.add_argument("--columns", metavar="MAP", help="as in analyze")
    p.add_argument("--customer-columns", metavar="MAP", help="as in analyze")
    p.add_argument("--map", metavar="FILE", help="a map written by --pseudonymise-map")
    p.add_argument("--out", metavar="FILE", help="write the CSV here (default: standard output)")
    _add_format_options(p)
    p.set_defaults(func=cmd_unmask)

    p = sub.add_parser("serve", help="web workspace (--data) or a read-only view of one analysis (--dir)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--data", metavar="DIR", help="workspace directory: database, uploads and runs")
    where.add_argument("--dir", metavar="DIR", help="output directory of analyze (read-only dashboard)")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface (default 127.0.0.1; another one needs users, see `graphchurn users`)")
    p.add_argument("--port", type=_port, default=8000)
    p.add_argument("--database-url", metavar="URL",
                   help="SQLAlchemy URL of the database (default: SQLite DIR/graphchurn.db)")
    p.add_argument("--max-upload-mb", type=_positive_float, metavar="MB",
                   help="largest upload accepted (default 1024)")
    p.add_argument("--workers", type=_int_between(1, 64), metavar="N",
                   help="worker processes running analyses (default 2)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("users", help="accounts of a web workspace")
    users = p.add_subparsers(dest="users_command", required=True, metavar="ACTION", parser_class=_Parser)
    u = users.add_parser("add", help="add a user; the password is read from standard input")
    u.add_argument("name")
    u.add_argument("--team", default="default", help="team (created when new; default 'default')")
    u.add_argument("--admin", action="store_true", help="may add users from the API")
    u2 = users.add_parser("token", help="print a new API token (the last word of the output)")
    u2.add_argument("name")
    u3 = users.add_parser("list", help="list the users")
    for q in (u, u2, u3):
        q.add_argument("--data", required=True, metavar="DIR", help="workspace directory")
        q.add_argument("--database-url", metavar="URL", help="SQLAlchemy URL (default: SQLite DIR/graphchurn.db)")
    p.set_defaults(func=cmd_users)
    # -q is accepted after the subcommand too (`graphchurn analyze ... -q`); SUPPRESS keeps a
    # -q given before the subcommand from being reset by the subcommand's default.
    for command in sub.choices.values():
        command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                             help="only print results")
    return parser


def main(argv=None) -> int:
    # Ctrl-C / SIGTERM: one line, exit 130 / 143; the caller's handlers come back at the end.
    previous = interrupt.install()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                            format="graphchurn: %(message)s", stream=sys.stderr)
        return args.func(args)
    except InputError as err:
        print(f"graphchurn: error: {err.renamed(FLAGS)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        # Ctrl-C or SIGTERM (app.interrupt): outputs are staged and renamed at the end, so
        # nothing of this run was written.
        return interrupt.report(err)
    finally:
        interrupt.restore(previous)


if __name__ == "__main__":
    sys.exit(main())
