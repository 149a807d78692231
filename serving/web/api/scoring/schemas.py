"""Request and response shapes for scoring a posted family: the data contract's two tables as JSON rows."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import BeforeValidator, Field, StrictInt, StrictStr

from serving.web.api.schemas import NOTICE, Strict

MAX_CHILDREN = 30
MAX_EVENTS = 5000
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: object) -> object:
    # Dates travel as 'YYYY-MM-DD' strings only: no timestamps, no numbers that happen to parse as dates.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO.fullmatch(value):
        raise ValueError("must be a date in YYYY-MM-DD form")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Id = Annotated[StrictStr, Field(min_length=1, max_length=100)]
Code = Annotated[StrictStr, Field(max_length=50)]


class ChildIn(Strict):
    """One `children` row of the data contract."""

    child_id: Id
    family_id: Id
    date_of_birth: IsoDate
    sex: Code
    ethnicity: Code
    disability: Code
    hub: Annotated[StrictStr, Field(max_length=100)]
    deprivation_decile: Annotated[StrictInt, Field(ge=1, le=10)]
    arrived_on: IsoDate
    left_on: IsoDate | None = None


class EventIn(Strict):
    """One `events` row of the data contract (codes only, never free text)."""

    event_id: Id
    family_id: Id
    child_id: Id | None = None
    event_type: Code
    event_date: IsoDate
    end_date: IsoDate | None = None
    source: Code | None = None
    detail: Code | None = None


class ScoreRequest(Strict):
    """One family's contact history. `as_of` defaults to the last month end on or before today; give
    `child_id` to score one child of the family (the family context still counts)."""

    children: Annotated[list[ChildIn], Field(min_length=1, max_length=MAX_CHILDREN)]
    events: Annotated[list[EventIn], Field(max_length=MAX_EVENTS)] = []
    as_of: IsoDate | None = None
    child_id: Id | None = None


class ChildScore(Strict):
    child_id: str
    age_years: int | None
    probability: float = Field(description="calibrated probability of entering care within the horizon")
    band: str
    margin: float = Field(description="raw model log-odds")


class NotScored(Strict):
    child_id: str
    why: str


class ScoreResponse(Strict):
    """The family's risk (or, with `child_id`, that child's), its top reasons and protective factor."""

    notice: str = NOTICE
    model_version: str
    as_of: date
    horizon_months: int
    family_id: str
    subject: str = Field(description="'family', or 'child' when a child_id was given")
    risk: float | None = Field(description="family: 1 - prod(1 - p) over its scored children; child: its probability")
    band: str | None
    reasons: list[str]
    protective: str | None
    children: list[ChildScore]
    not_scored: list[NotScored] = Field(description="posted children outside the cohort at the as-of date")
