"""Scoring: the cohort at an as-of date through the champion model, into explained lists written as one directory
(a region: one directory per council).

`score_cohort` is pure (a model, a feature table, the config in; frames out) so it is tested without the
registry; `write_scoring` writes the agreed output directory atomically (docs/interfaces.md); `run_score`
is what `upstream score` calls: load the extract, build the cohort's features, load the model by alias.
SHAP values are computed only for the children of listed families unless `explain_all` is set.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from core.config import Config
from core.contract import COUNCIL_COLUMN
from core.errors import UpstreamError
from core.io import atomic_dir, write_csv, write_json, write_parquet, write_text
from core.notice import DECISION_SUPPORT
from features.timeline import month_end_on_or_before
from serving import lists as _lists
from serving.explain import Describe, default_describe, explanations_frame, family_reasons, feature_kind
from serving.family import family_risk
from serving.locality import locality_context, locality_table
from training.model import RiskModel

FAMILY_RISK_ASSUMPTION = ("families are ranked by 1 - prod(1 - p_child); siblings' outcomes are positively "
                          "correlated, so that overstates the chance that any child enters care: the family risk "
                          "shown is that score calibrated at family level (any child entered, fitted on held-out "
                          "families) when the model carries the calibration, beside the highest child's risk")


def family_calibration(model: RiskModel):
    """The model's family-level calibration (score 1 - prod(1 - p) -> P(any child enters)), if it has one."""
    calibrator = getattr(model, "calibrator", None)
    return calibrator.family_transform if getattr(calibrator, "has_family", False) else None
INTERVAL_METHOD = "expected entries: sum(p) +/- 1.96*sqrt(sum p(1-p)) (Poisson-binomial, normal approximation)"
TEMPLATES = Path(__file__).resolve().parent / "templates"
SCORE_COLUMNS = ("child_id", "family_id", "hub", "as_of", "age_years", "previously_known", "probability", "margin",
                 "base_value", "rank_in_hub", "listed")


@dataclass
class ScoringResult:
    """Everything one scoring run produced, before it is written."""

    as_of: pd.Timestamp
    model: RiskModel
    scores: pd.DataFrame
    families: pd.DataFrame
    explanations: pd.DataFrame
    locality: pd.DataFrame
    manifest: dict[str, Any]
    explained_ids: np.ndarray
    explained_X: np.ndarray
    explained_shap: np.ndarray
    base_value: float
    previous: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _ages(cohort: pd.DataFrame) -> np.ndarray:
    if "age_months" in cohort.columns:
        return np.floor(pd.to_numeric(cohort["age_months"], errors="coerce").to_numpy(dtype=float) / 12)
    if "age_years" in cohort.columns:
        return np.floor(pd.to_numeric(cohort["age_years"], errors="coerce").to_numpy(dtype=float))
    return np.full(len(cohort), np.nan)


def _hubs(cohort: pd.DataFrame, config: Config) -> np.ndarray:
    if "hub" in cohort.columns:
        return cohort["hub"].astype(str).to_numpy(dtype=object)
    names = np.asarray(config.council.input_hub_names, dtype=object)
    return names[pd.to_numeric(cohort["hub_code"]).to_numpy(dtype=int)]


def _as_of(cohort: pd.DataFrame) -> np.ndarray:
    column = cohort["as_of"]
    # a datetime64 column is already what to_datetime gives: skip its per-call cost (a family is a few rows)
    return column.to_numpy() if column.dtype.kind == "M" else pd.to_datetime(column).to_numpy()


@dataclass(frozen=True)
class RankedChildren:
    """A cohort's scores as arrays in rank order (by hub, probability highest first, child_id): what the scores
    table is made of, for a caller that needs no table (a posted family is three or four rows, and building
    and sorting a DataFrame would cost more than the model)."""

    order: np.ndarray  # the cohort's row positions in rank order
    X: np.ndarray | None  # the feature matrix, rows in rank order (None when the margins were given)
    child_id: np.ndarray
    hub: np.ndarray
    age_years: np.ndarray  # float: whole years, NaN when unknown
    probability: np.ndarray
    margin: np.ndarray
    rank_in_hub: np.ndarray


def rank_children(model: RiskModel, cohort: pd.DataFrame, config: Config, *, margin: np.ndarray | None = None
                  ) -> RankedChildren:
    """Calibrated probability and raw margin for every cohort row, ranked within hub.

    Parameters
    ----------
    model : RiskModel
        The model to score with.
    cohort : DataFrame
        Feature rows of one as-of date (`child_id`, `hub` or `hub_code`, the model's inputs).
    config : Config
        Gives the hub names.
    margin : ndarray or None
        The rows' raw margins when already computed elsewhere (by partition on a cluster); the cohort then
        needs no model inputs, and `X` is None.

    Returns
    -------
    RankedChildren
        Arrays in rank order (hub, probability highest first, child_id).
    """
    if cohort.empty:
        raise UpstreamError("the cohort is empty at this as-of date: no resident children under 18 to score")
    if "as_of" in cohort.columns and len(dates := pd.unique(_as_of(cohort))) > 1:
        raise UpstreamError(f"score one as-of date at a time; the table holds {len(dates)}")
    X = model.matrix(cohort) if margin is None else None
    margin = model.margin(X) if margin is None else np.asarray(margin, dtype=np.float64)
    probability = model.calibrate(margin)
    child_id = cohort["child_id"].astype(str).to_numpy()
    hub = _hubs(cohort, config)
    # rank within hub: by hub, probability (highest first), child_id; a stable sort of integer keys (the
    # same order as a pandas multi-key sort_values, without its per-call cost on a one-family table)
    hub_code = pd.factorize(hub, sort=True)[0]
    id_code = pd.factorize(child_id, sort=True)[0]
    order = np.lexsort((id_code, -probability, hub_code))
    hub_sorted = hub_code[order]
    position = np.arange(len(order))
    first_of_hub = np.maximum.accumulate(np.where(np.r_[True, hub_sorted[1:] != hub_sorted[:-1]], position, 0))
    return RankedChildren(order=order, X=None if X is None else X[order], child_id=child_id[order], hub=hub[order],
                          age_years=_ages(cohort)[order], probability=probability[order], margin=margin[order],
                          rank_in_hub=position - first_of_hub + 1)


def score_children(model: RiskModel, cohort: pd.DataFrame, config: Config, *, margin: np.ndarray | None = None
                   ) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Calibrated probability and raw margin for every cohort row, ranked within hub.

    Parameters
    ----------
    model : RiskModel
        The model to score with.
    cohort : DataFrame
        Feature rows of one as-of date.
    config : Config
        Gives the hub names.
    margin : ndarray or None
        Margins computed elsewhere (see `rank_children`); X is then None.

    Returns
    -------
    scores : DataFrame
        One row per child in rank order (the scores.parquet columns but `listed` and `base_value`).
    X : ndarray
        The model inputs, rows in the same order.
    """
    ranked = rank_children(model, cohort, config, margin=margin)
    order = ranked.order
    scores = pd.DataFrame({
        "child_id": ranked.child_id,
        "family_id": cohort["family_id"].astype(str).to_numpy()[order],
        "hub": ranked.hub,
        "as_of": _as_of(cohort)[order] if "as_of" in cohort.columns else pd.NaT,
        "age_years": pd.array(ranked.age_years, dtype="Int64"),
        "previously_known": cohort["previously_known"].astype(bool).to_numpy()[order] if "previously_known" in cohort
        else False,
        "probability": ranked.probability,
        "margin": ranked.margin,
        "rank_in_hub": ranked.rank_in_hub,
    })
    return scores, ranked.X


def _family_slices(family_ids: np.ndarray) -> dict[str, np.ndarray]:
    """family_id -> row positions, for rows in any order."""
    order = np.argsort(family_ids, kind="stable")
    sorted_ids = family_ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]]) if len(order) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(order)]
    return {sorted_ids[a]: order[a:b] for a, b in zip(starts, ends, strict=True)}


def _fingerprint(cohort: pd.DataFrame, feature_names: list[str]) -> str:
    cols = [c for c in ("child_id", "as_of", *feature_names) if c in cohort.columns]
    return hashlib.sha256(pd.util.hash_pandas_object(cohort[cols], index=False).values.tobytes()).hexdigest()[:16]


def score_cohort(model: RiskModel, cohort: pd.DataFrame, config: Config, *,
                 previous: pd.DataFrame | None = None, explain_all: bool = False, describe: Describe | None = None,
                 data_fingerprint: str | None = None, extract_date: pd.Timestamp | None = None) -> ScoringResult:
    """Score one as-of date's cohort: children's risks, family risks and lists, SHAP for the listed families'
    children (everyone with `explain_all`), reasons, what changed since `previous`, locality insight.

    Parameters
    ----------
    model : RiskModel
        The model to score and explain with.
    cohort : DataFrame
        Feature rows of one as-of date.
    config : Config
        Hubs, capacities, the list threshold and risk bands.
    previous : DataFrame or None
        An earlier run's families table (`serving.lists.read_previous`).
    explain_all : bool
        SHAP for every child, not only the children of listed families.
    describe : callable or None
        Feature value -> plain English (default: the feature dictionary).
    data_fingerprint : str or None
        The extract's fingerprint for the manifest (default: a hash of the cohort).
    extract_date : Timestamp or None
        Recorded in the manifest.

    Returns
    -------
    ScoringResult
        Every table of the output directory, before it is written.
    """
    t0 = time.perf_counter()
    scores, X = score_children(model, cohort, config)
    timings = {"predict": time.perf_counter() - t0}

    def explain(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        X_exp = X[mask]
        return (X_exp, *model.explain(X_exp))

    fingerprint = data_fingerprint or _fingerprint(cohort, model.feature_names)
    return scored_result(model, scores, explain, config, previous=previous, explain_all=explain_all,
                         describe=describe, data_fingerprint=fingerprint, extract_date=extract_date, timings=timings)


def scored_result(model: RiskModel, scores: pd.DataFrame,
                  explain: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, float]], config: Config, *,
                  previous: pd.DataFrame | None, explain_all: bool, describe: Describe | None, data_fingerprint: str,
                  extract_date: pd.Timestamp | None, timings: dict[str, float]) -> ScoringResult:
    """From the children's ranked scores (`score_children`) to the whole result: family lists, SHAP for the
    explained children through `explain(mask)` (their inputs, contributions and the base value, rows in
    `scores` order), reasons, what changed, locality insight and the manifest. The scorers in one process
    (`score_cohort`) and on a cluster (`serving.distributed`) differ only in how they predict and explain."""
    describe = describe or default_describe()
    t0 = time.perf_counter()
    families = _lists.rank_families(scores, config, family_calibration=family_calibration(model))
    listed_ids = set(families.loc[families["listed"], "family_id"])
    scores["listed"] = scores["family_id"].isin(listed_ids)
    explain_mask = np.ones(len(scores), bool) if explain_all else scores["listed"].to_numpy()
    ids = scores["child_id"].to_numpy(dtype=object)[explain_mask]
    X_exp, shap, base = explain(explain_mask)
    scores["base_value"] = base
    timings["shap"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    exp_scores = scores.loc[explain_mask].reset_index(drop=True)
    slices = _family_slices(exp_scores["family_id"].to_numpy(dtype=object))
    probs, ages = exp_scores["probability"].to_numpy(), exp_scores["age_years"].to_numpy(dtype=float, na_value=np.nan)
    reasons_col, features_col, groups_col, protective_col = {}, {}, {}, {}
    for fid, rows in slices.items():
        reasons, protective = family_reasons(ids[rows], X_exp[rows], shap[rows], model.feature_names,
                                             probabilities=probs[rows], ages=ages[rows], describe=describe)
        reasons_col[fid] = json.dumps([r.text for r in reasons])
        features_col[fid] = json.dumps([r.feature for r in reasons])
        groups_col[fid] = json.dumps([r.group for r in reasons])
        protective_col[fid] = protective.text if protective is not None else None
    families["reasons"] = families["family_id"].map(reasons_col).fillna("[]")
    families["reason_features"] = families["family_id"].map(features_col).fillna("[]")
    families["reason_groups"] = families["family_id"].map(groups_col).fillna("[]")
    families["protective"] = families["family_id"].map(protective_col).astype(object)
    families["protective"] = families["protective"].where(families["protective"].notna(), None)
    families["changes"] = _lists.what_changed(families, previous)
    timings["reasons"] = time.perf_counter() - t0

    locality = locality_table(scores, families, config, explained_hubs=exp_scores["hub"].to_numpy(dtype=object),
                              shap=shap, feature_names=model.feature_names)
    explanations = explanations_frame(ids, X_exp, shap, model.feature_names)
    as_of = pd.Timestamp(scores["as_of"].iloc[0]) if scores["as_of"].notna().any() else pd.NaT
    manifest = {
        "model": {"name": model.name, "version": model.version, "alias": model.alias, "run_id": model.run_id},
        "as_of": None if pd.isna(as_of) else f"{as_of:%Y-%m-%d}",
        "extract_date": None if extract_date is None else f"{pd.Timestamp(extract_date):%Y-%m-%d}",
        "data_fingerprint": data_fingerprint,
        "config_hash": config.config_hash(),
        "counts": {
            "children": int(len(scores)), "families": int(len(families)),
            "families_listed": int(families["listed"].sum()), "children_listed": int(scores["listed"].sum()),
            "children_explained": int(explain_mask.sum()),
            "families_listed_by_hub": {h: int(n) for h, n in
                                       families[families["listed"]].groupby("hub").size().items()},
        },
        "explained": "all children" if explain_all else "children of listed families",
        "list_rule": (f"per hub: the top `capacity` families by family risk, plus any family with risk >= "
                      f"{config.serving.list_probability_threshold}"),
        "family_risk": FAMILY_RISK_ASSUMPTION,
        "interval": INTERVAL_METHOD,
        "previous": previous is not None,
        "notice": DECISION_SUPPORT,
    }
    return ScoringResult(as_of=as_of, model=model, scores=scores[list(SCORE_COLUMNS)], families=families,
                         explanations=explanations, locality=locality, manifest=manifest, explained_ids=ids,
                         explained_X=X_exp, explained_shap=shap, base_value=base, previous=previous, timings=timings)


def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    # autoescape everything: family ids and reasons come from data
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def _charts(result: ScoringResult, lists_dir: Path, describe: Describe, *, workers: int | None = None) -> int:
    """One waterfall PNG per listed family, for its highest-risk child. Drawn on a few threads: PNG encoding
    releases the GIL, which halves the time on two cores."""
    from concurrent.futures import ThreadPoolExecutor

    from serving.charts import waterfall_png

    fam = result.families[result.families["listed"]]
    pos = {cid: i for i, cid in enumerate(result.explained_ids)}
    best = (result.scores[result.scores["listed"]].sort_values(["family_id", "probability", "child_id"],
                                                               ascending=[True, False, True])
            .drop_duplicates("family_id").set_index("family_id"))
    risk = fam.set_index("family_id")["family_risk"]

    def draw(fid: str, hub: str) -> Path:
        child = best.loc[fid]
        i = pos[child["child_id"]]
        age = "" if pd.isna(child["age_years"]) else f", aged {int(child['age_years'])}"
        title = (f"Family {fid}: child {child['child_id']}{age}, risk {_lists.percent(child['probability'])} "
                 f"(family {_lists.percent(risk[fid])})")
        return waterfall_png(result.explained_shap[i], result.explained_X[i], result.model.feature_names,
                             result.base_value, lists_dir / _lists.hub_slug(hub) / f"{fid}.png",
                             calibrate=lambda m: float(result.model.calibrate(m)[0]), title=title, describe=describe)

    for hub in set(fam["hub"]):
        (lists_dir / _lists.hub_slug(hub)).mkdir(parents=True, exist_ok=True)
    workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = list(pool.map(draw, fam["family_id"], fam["hub"]))
    return len(done)


def write_scoring(result: ScoringResult, out: str | Path, config: Config, *, charts: bool = True,
                  describe: Describe | None = None) -> Path:
    """Write the scoring output directory (docs/interfaces.md) atomically: all of it appears, or none.

    Parameters
    ----------
    result : ScoringResult
        What `score_cohort` produced.
    out : str or Path
        The directory, replaced whole.
    config : Config
        Hubs and list settings for the reports.
    charts : bool
        Draw one waterfall PNG per listed family.
    describe : callable or None
        Feature value -> plain English.

    Returns
    -------
    Path
        `out`.
    """
    describe = describe or default_describe()
    env = _environment()
    hubs = [*config.council.hub_names, *sorted(set(result.families["hub"]) - set(config.council.hub_names))]
    t0 = time.perf_counter()
    with atomic_dir(out) as tmp:
        write_parquet(result.scores, tmp / "scores.parquet")
        write_parquet(result.explanations, tmp / "explanations.parquet")
        write_parquet(_lists.family_record(result.families), tmp / "families.parquet")
        lists_dir = tmp / "lists"
        lists_dir.mkdir()
        t1 = time.perf_counter()
        n_charts = _charts(result, lists_dir, describe) if charts else 0
        result.timings["charts"] = time.perf_counter() - t1
        for hub in hubs:
            slug = _lists.hub_slug(hub)
            write_csv(_lists.hub_list(result.families, hub), lists_dir / f"{slug}.csv")
            ctx = _lists.list_context(result.families, hub, config=config, as_of=result.as_of,
                                      chart_dir=slug if charts else None, previous=result.previous,
                                      model_label=result.model.label)
            write_text(env.get_template("list_report.html").render(**ctx), lists_dir / f"{slug}.html")
        write_csv(result.locality, tmp / "locality.csv")
        ctx = locality_context(result.locality, as_of=result.as_of, config=config, model_label=result.model.label,
                               notice=DECISION_SUPPORT)
        ctx["drivers_over"] = ("all children" if result.manifest["explained"] == "all children"
                               else "the children of listed families")
        write_text(env.get_template("locality.html").render(**ctx), tmp / "locality.html")
        result.timings["write"] = time.perf_counter() - t0
        manifest = {**result.manifest, "charts": n_charts,
                    "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "timings_seconds": {k: round(v, 3) for k, v in result.timings.items()}}
        write_json(manifest, tmp / "manifest.json")
    return Path(out)


class CohortScorer(Protocol):
    """Where a cohort's features are built and scored: this process (`LocalScorer`) or a Dask cluster
    (`serving.distributed.DaskScorer`). `run_score` and `score_region` go through it."""

    def build(self, extract: Any, as_of: pd.Timestamp, config: Config, *,
              extract_date: pd.Timestamp | None) -> Any: ...
    def size(self, cohort: Any) -> int: ...
    def council(self, cohort: Any, code: str) -> Any: ...
    def score(self, model: RiskModel, cohort: Any, config: Config, **kwargs: Any) -> ScoringResult: ...


class LocalScorer:
    """The cohort as a DataFrame in this process: `features.build_features`, then `score_cohort`."""

    def build(self, extract: Any, as_of: pd.Timestamp, config: Config, *,
              extract_date: pd.Timestamp | None) -> pd.DataFrame:
        import features

        return features.build_features(extract, [as_of], config, extract_date=extract_date)

    def size(self, cohort: pd.DataFrame) -> int:
        return len(cohort)

    def council(self, cohort: pd.DataFrame, code: str) -> pd.DataFrame:
        """One council's rows of a region's cohort, without the council column."""
        rows = cohort.loc[cohort[COUNCIL_COLUMN].to_numpy() == code].drop(columns=COUNCIL_COLUMN)
        return rows.reset_index(drop=True)

    def score(self, model: RiskModel, cohort: pd.DataFrame, config: Config, **kwargs: Any) -> ScoringResult:
        return score_cohort(model, cohort, config, **kwargs)


def run_score(config: Config, *, out: str | Path, data: str | Path | Callable[[], Any],
              as_of: pd.Timestamp | None = None, alias: str = "champion", previous: str | Path | None = None,
              explain_all: bool = False, charts: bool = True, tracking_uri: str | None = None,
              model: RiskModel | None = None, log: Callable[[str], None] | None = None,
              scorer: CohortScorer | None = None) -> ScoringResult | RegionScoring:  # a region: per (council, hub)
    """`upstream score`: load the extract, build the cohort's features at the as-of date, load the model behind
    `alias`, score, explain and write the output directory.

    Parameters
    ----------
    config : Config
        The council, features, model name and serving settings.
    out : str or Path
        The output directory, replaced atomically.
    data : str, Path or callable
        An extract directory, or a function returning a `features.Extract` (the CLI passes one that simulates
        the configured council); it is called only after the cheap checks of the other arguments.
    as_of : Timestamp or None
        A month end; default: the month end on or before the extract's last date.
    alias : str
        The registered alias or version to load when `model` is not given.
    previous : str, Path or None
        An earlier output directory; lists then say what changed.
    explain_all : bool
        SHAP for every child, not only the children of listed families.
    charts : bool
        Draw the waterfall PNGs.
    tracking_uri : str or None
        The MLflow store.
    model : RiskModel or None
        A model to use instead of loading one.
    log : callable or None
        Progress lines.
    scorer : CohortScorer or None
        Where the cohort's features are built and scored: in this process (default, `LocalScorer`) or on a Dask
        cluster (`serving.distributed.DaskScorer`); the lists are the same.

    Returns
    -------
    ScoringResult
        What was written.
    """
    import features

    say = log or (lambda _msg: None)
    timings: dict[str, float] = {}
    # everything a user can get wrong is checked before the slow steps (loading or simulating, building features)
    # a region's previous output is read council by council (serving.region)
    prev = _lists.read_previous(previous) if previous is not None and not config.is_region else None
    if as_of is not None:
        as_of = pd.Timestamp(as_of).normalize()
        if not as_of.is_month_end:
            raise UpstreamError(f"--as-of {as_of:%Y-%m-%d} is not a month end (as-of dates are month ends, "
                                f"e.g. {month_end_on_or_before(as_of):%Y-%m-%d})")
    if not callable(data) and not Path(data).is_dir():
        raise UpstreamError(f"--data {data}: no such directory")
    t0 = time.perf_counter()
    if model is None:
        model = load_model(config, alias=alias, tracking_uri=tracking_uri)
    timings["model"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    extract = data() if callable(data) else features.load_extract(Path(data), hubs=config.contract_hubs)
    timings["load"] = time.perf_counter() - t0
    last = extract.last_date  # the extract's date, whatever the model's scenario leaves out
    extract = _scenario_extract(model, extract)
    if as_of is None:
        as_of = month_end_on_or_before(last)
    elif as_of > last:
        raise UpstreamError(f"--as-of {as_of:%Y-%m-%d} is after the extract's last date {last:%Y-%m-%d}")
    scorer = scorer or LocalScorer()
    t0 = time.perf_counter()
    cohort = scorer.build(extract, as_of, config, extract_date=last)
    timings["features"] = time.perf_counter() - t0
    say(f"cohort at {as_of:%Y-%m-%d}: {scorer.size(cohort):,} children; model {model.label}")
    if config.is_region:  # lists per (council, hub): OUT/<code>/ in the single-council layout
        return score_region(model, cohort, config, out=out, previous=previous, explain_all=explain_all,
                            charts=charts, data_fingerprint=extract.fingerprint(), extract_date=last,
                            timings=timings, scorer=scorer)
    result = scorer.score(model, cohort, config, previous=prev, explain_all=explain_all,
                          data_fingerprint=extract.fingerprint(), extract_date=last)
    result.timings = {**timings, **result.timings}
    write_scoring(result, out, config, charts=charts)
    return result


def _scenario_extract(model: RiskModel, extract: Any) -> Any:
    """The extract cut to the partner feeds the model was trained on; refused if it lacks one of them."""
    from features.scenario import feeds_present, parse_feeds, restrict_to_feeds

    if "feeds" not in model.tags:  # trained before scenarios were recorded: every event type, as before
        return extract
    needed = parse_feeds(model.tags["feeds"])
    missing = [f for f in needed if f not in feeds_present(extract)]
    if missing:
        raise UpstreamError(f"{model.label} was trained with scenario '{model.tags.get('scenario', '?')}', which "
                            f"needs partner feeds the extract does not have: {', '.join(missing)}")
    return restrict_to_feeds(extract, needed)


def load_model(config: Config, *, alias: str = "champion", tracking_uri: str | None = None) -> RiskModel:
    """The registered model behind an alias (or a version number), ready for scoring.

    Parameters
    ----------
    config : Config
        Gives the registered model name.
    alias : str
        'champion', 'challenger' or a version number.
    tracking_uri : str or None
        The MLflow store.

    Returns
    -------
    RiskModel
        With its registry provenance.

    Raises
    ------
    UpstreamError
        If the version is not proven loadable in a child process first (checksums, load, smoke prediction):
        a malformed model that would abort this process (LightGBM's abort cannot be caught) is one line.
    """
    from training.loadcheck import check_loadable
    from training.registry import load_version

    check = check_loadable(alias, name=config.model.registered_name, tracking_uri=tracking_uri)
    if not check.ok:
        raise UpstreamError(f"--alias {alias}: the model cannot be used: {check.detail}")
    # exactly the version that was checked, even if the alias has moved since; labelled with the alias asked for
    model = load_version(check.version, name=config.model.registered_name, tracking_uri=tracking_uri)
    return model if str(alias).isdigit() else model.registered(alias=str(alias).rsplit("@", 1)[-1])


def summary(result: ScoringResult | RegionScoring, out: str | Path) -> str:
    """What `upstream score` prints."""
    if isinstance(result, RegionScoring):
        return region_summary(result, out)
    c = result.manifest["counts"]
    lines = [f"scored {c['children']:,} children in {c['families']:,} families at {result.manifest['as_of']} "
             f"with {result.model.label}",
             f"listed {c['families_listed']:,} families ({c['children_listed']:,} children); "
             f"explained {c['children_explained']:,} children",
             "per hub: " + ", ".join(f"{h} {n}" for h, n in c["families_listed_by_hub"].items()),
             "seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()),
             f"written to {out}", DECISION_SUPPORT]
    return "\n".join(lines)


def score_family(model: RiskModel, rows: pd.DataFrame, config: Config, *, describe: Describe | None = None
                 ) -> dict[str, Any]:
    """One family's risk, children, reasons and protective factor (the same rules as the lists), for the API.

    Parameters
    ----------
    model : RiskModel
        The model to score and explain with.
    rows : DataFrame
        The family's feature rows at one as-of date.
    config : Config
        Hubs and risk bands.
    describe : callable or None
        Feature value -> plain English.

    Returns
    -------
    dict
        `family_risk`, `band`, `base_value`, `children` (id, age, probability, margin), `reasons`,
        `reason_features`, `protective`, `notice`, `signals`.
    """
    ranked = rank_children(model, rows, config)
    shap, base = model.explain(ranked.X)
    reasons, protective = family_reasons(ranked.child_id, ranked.X, shap, model.feature_names,
                                         probabilities=ranked.probability, ages=ranked.age_years, describe=describe)
    risk = family_risk(ranked.probability)
    calibrate_family = family_calibration(model)
    if calibrate_family is not None:
        risk = float(calibrate_family([risk])[0])
    return {
        "family_risk": risk, "band": config.serving.band_for(risk), "base_value": base,
        "highest_child_risk": float(max(ranked.probability)) if len(ranked.probability) else 0.0,
        "children": [{"child_id": c, "age_years": None if math.isnan(a) else int(a), "probability": p, "margin": m}
                     for c, a, p, m in zip(ranked.child_id.tolist(), ranked.age_years.tolist(),
                                           ranked.probability.tolist(), ranked.margin.tolist(), strict=True)],
        "reasons": [r.text for r in reasons], "reason_features": [r.feature for r in reasons],
        "protective": protective.text if protective is not None else None, "notice": DECISION_SUPPORT,
        "signals": sorted({feature_kind(r.feature)[1] for r in reasons}),
    }


# --- a region: lists per (council, hub) ---------------------------------------------------------------------
# The cohort is built once for the whole region (the model's inputs are the region's); each council's rows are then
# scored, explained and listed exactly as a single council's are (its hubs' capacities from `Config.for_council`)
# and written to OUT/<council code>/ in the single-council layout; OUT/manifest.json names the councils. A single
# council's output layout is unchanged.


@dataclass
class RegionScoring:
    """Each council's scoring result, by council code."""

    councils: dict[str, ScoringResult]
    timings: dict[str, float]


def score_region(model: RiskModel, cohort: pd.DataFrame, config: Config, *, out: str | Path,
                 previous: str | Path | None = None, explain_all: bool = False, charts: bool = True,
                 data_fingerprint: str | None = None, extract_date: pd.Timestamp | None = None,
                 timings: dict[str, float] | None = None, scorer: CohortScorer | None = None) -> RegionScoring:
    """Score a region's cohort council by council and write `OUT/<code>/` for each (replaced whole, atomically).

    Parameters
    ----------
    model : RiskModel
        The pooled model.
    cohort : DataFrame
        The region's feature rows at one as-of date (with `council`).
    config : Config
        The region config.
    out : str or Path
        The output directory.
    previous : str or Path, optional
        An earlier region output: each council's lists say what changed since `previous/<code>/`.
    explain_all, charts, data_fingerprint, extract_date
        As for `score_cohort` / `write_scoring`.
    timings : dict, optional
        Seconds spent before scoring (model, load, features), recorded in each council's manifest.
    scorer : CohortScorer, optional
        Where `cohort` lives and is scored (default: a DataFrame, in this process).

    Returns
    -------
    RegionScoring
    """
    scorer = scorer or LocalScorer()
    results = {}
    codes = [c.code for c in config.region]
    with atomic_dir(out) as tmp:
        for code in codes:
            rows = scorer.council(cohort, code)
            if scorer.size(rows) == 0:
                continue
            council = config.for_council(code)
            before = Path(previous) / code if previous is not None else None
            prev = _lists.read_previous(before) if before is not None and before.is_dir() else None
            result = scorer.score(model, rows, council, previous=prev, explain_all=explain_all,
                                  data_fingerprint=data_fingerprint, extract_date=extract_date)
            result.timings = {**(timings or {}), **result.timings}
            write_scoring(result, Path(tmp) / code, council, charts=charts)
            results[code] = result
        write_json({"region": [{"council": code, "name": config.for_council(code).council.name,
                                **{k: v for k, v in r.manifest["counts"].items()}}
                               for code, r in results.items()],
                    "layout": "one directory per council code, each in the single-council layout",
                    "model": next(iter(results.values())).manifest["model"] if results else None,
                    "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "notice": DECISION_SUPPORT},
                   Path(tmp) / "manifest.json")
    return RegionScoring(councils=results, timings=dict(timings or {}))


def region_summary(result: RegionScoring, out: str | Path) -> str:
    """What `upstream score` prints for a region: one line per council."""
    lines = []
    for code, r in result.councils.items():
        c = r.manifest["counts"]
        lines.append(f"council {code}: {c['children']:,} children, {c['families_listed']:,} families listed "
                     f"({', '.join(f'{h} {n}' for h, n in c['families_listed_by_hub'].items())}); "
                     f"{out}/{code}/lists/")
    lines += [f"written to {out} (one directory per council)", DECISION_SUPPORT]
    return "\n".join(lines)
