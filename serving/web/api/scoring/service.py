"""Score one posted family with the code batch scoring uses: contract validation, feature builders, model, reasons.

Nothing here re-implements a rule: the rows are checked by `features.validation.validate_raw` (the same
checks as `upstream validate`), features come from `features.build_features`, and probabilities, TreeSHAP,
family risk and reasons from `serving.scoring.score_family` (the code that writes the batch lists).
"""

from __future__ import annotations

from datetime import date
from operator import attrgetter
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import Config
from core.contract import TABLES
from features import build_features
from features.cohort import outside_cohort
from features.loaders import Extract, RawTable
from features.scenario import parse_feeds, restrict_to_feeds
from features.timeline import month_end_on_or_before
from features.validation import MAX_ROWS_SHOWN, validate_raw
from serving.scoring import score_family
from serving.web.api.errors import InputProblem
from serving.web.api.scoring.schemas import ChildScore, NotScored, ScoreRequest, ScoreResponse
from training.model import RiskModel

_ROWS_KEY = {"children": "children", "events": "events"}
# pandas timestamps stop at 1677; nobody is scored as of a date before their records could exist.
EARLIEST_AS_OF = date(1900, 1, 1)


# Each table's column labels, built once: a frame takes a view (its own Index object, so a name set on one
# frame's columns stays there), a small fraction of the cost of building the labels from a list again.
_COLUMNS = {table: pd.Index(list(columns)) for table, columns in TABLES.items()}
_FIELDS = {table: attrgetter(*columns) for table, columns in TABLES.items()}  # a row's values, in column order


def _frame(rows: list, table: str) -> pd.DataFrame:
    """Request rows as the raw (all-string) table validation reads, in the contract's column order.

    Built as one object array in one pass over the rows: a frame from a dict per row costs several times more."""
    columns, fields = _COLUMNS[table], _FIELDS[table]
    # most posted values are text already (str() of a str is the same string)
    values = [v if type(v) is str else None if v is None else v.isoformat() if isinstance(v, date) else str(v)
              for r in rows for v in fields(r)]
    return pd.DataFrame(np.array(values, dtype=object).reshape(len(rows), len(columns)), columns=columns.view(),
                        dtype=object)


def raw_tables(req: ScoreRequest) -> dict[str, RawTable]:
    return {name: RawTable(name=name, path=Path(name), frame=_frame(getattr(req, name), name))
            for name in ("children", "events")}


def check_contract(req: ScoreRequest, hubs: tuple[str, ...], today: pd.Timestamp) -> Extract:
    """The posted rows under the contract's rules (dates after today are future dates), as typed tables;
    raise InputProblem naming every broken field ('events[3].event_type: code not in the list ...')."""
    families = {c.family_id for c in req.children}
    errors: list[dict[str, str]] = []
    if len(families) > 1:
        errors.append({"field": "children[].family_id",
                       "message": f"one family per request; got {len(families)} family_ids"})
    report = validate_raw(raw_tables(req), hubs=hubs, extract_date=today)
    for msg in report.fatal:
        errors.append({"field": "body", "message": msg})
    for p in report.problems:
        for r in p.rows[:MAX_ROWS_SHOWN]:
            errors.append({"field": f"{_ROWS_KEY[p.table]}[{int(r)}].{p.column}", "message": p.rule})
    if req.as_of is not None and req.as_of < EARLIEST_AS_OF:
        errors.append({"field": "as_of", "message": f"date is before {EARLIEST_AS_OF:%Y-%m-%d}"})
    elif req.as_of is not None and pd.Timestamp(req.as_of) > today:
        errors.append({"field": "as_of", "message": f"date is after today ({today:%Y-%m-%d})"})
    if req.child_id is not None and req.child_id not in {c.child_id for c in req.children}:
        errors.append({"field": "child_id", "message": "not one of the posted children"})
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InputProblem(f"{first['field']}: {first['message']}{more}", errors)
    return Extract(children=report.typed["children"], events=report.typed["events"], source=None)


def score_request(req: ScoreRequest, model: RiskModel, config: Config, *,
                  today: pd.Timestamp | None = None) -> ScoreResponse:
    today = pd.Timestamp(today if today is not None else pd.Timestamp.today()).normalize()
    extract = check_contract(req, config.council.hub_names, today)
    if "feeds" in model.tags:  # a scenario model sees only the partner feeds it was trained on, as in batch scoring
        extract = restrict_to_feeds(extract, parse_feeds(model.tags["feeds"]))
    as_of = pd.Timestamp(req.as_of) if req.as_of is not None else month_end_on_or_before(today)
    table = build_features(extract, [as_of], config, extract_date=today)
    built = set(table.columns)
    missing = [c for c in model.feature_names if c not in built]
    if missing:  # the champion was trained on another feature set: a deployment problem, said plainly
        raise InputProblem(f"the champion model needs features this service cannot build: {', '.join(missing[:5])}",
                           status_code=503)
    subject = "family" if req.child_id is None else "child"
    rows = table if req.child_id is None else table[table["child_id"].to_numpy() == req.child_id]
    result: dict = {"family_risk": None, "band": None, "reasons": [], "protective": None, "children": []}
    if len(rows):
        # the batch lists' own code: probabilities, TreeSHAP, family risk, reason codes
        result = score_family(model, rows, config)
    scored = {c["child_id"] for c in result["children"]}
    # the ids from their column, not iterrows (a Series per child); the unscored children's rows only
    ids = [str(c) for c in extract.children["child_id"].tolist()]
    unscored = [i for i, c in enumerate(ids) if c not in scored and req.child_id in (None, c)]
    # the cohort's own rules say why (features.cohort), never a second copy of them here
    whys = outside_cohort(extract.children, extract.events, as_of) if unscored else {}
    not_scored = [NotScored(child_id=ids[i], why=whys.get(ids[i]) or "not in the cohort at the as-of date")
                  for i in unscored]
    children = [ChildScore(child_id=c["child_id"], age_years=c["age_years"], probability=c["probability"],
                           band=config.serving.band_for(c["probability"]), margin=c["margin"])
                for c in result["children"]]
    return ScoreResponse(model_version=model.version, as_of=as_of.date(), horizon_months=config.outcome.horizon_months,
                         family_id=req.children[0].family_id, subject=subject, risk=result["family_risk"],
                         band=result["band"], reasons=result["reasons"], protective=result["protective"],
                         children=children, not_scored=not_scored)
