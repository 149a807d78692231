"""The decision a practitioner records on a listed family."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StrictStr, field_validator, model_validator

from serving.web.api.families.schemas import DecisionOut
from serving.web.api.schemas import NOTICE, Strict
from serving.web.data import MAX_REASON_CHARS


class DecisionKind(StrEnum):
    offered_early_help = "offered_early_help"
    not_needed = "not_needed"
    already_open = "already_open"
    disagree = "disagree"


NEEDS_REASON = {DecisionKind.not_needed, DecisionKind.disagree}


class DecisionIn(Strict):
    """`not_needed` and `disagree` need a reason. The reason is free text: it stays in the serving database."""

    decision: DecisionKind
    reason: Annotated[StrictStr | None, Field(max_length=MAX_REASON_CHARS)] = None

    @field_validator("reason")
    @classmethod
    def _printable(cls, v: str | None) -> str | None:
        # control characters (NUL above all) have no place in a note and some databases refuse them
        if v is not None and any(ord(ch) < 32 and ch not in "\n\r\t" for ch in v):
            raise ValueError("must not contain control characters")
        return v

    @model_validator(mode="after")
    def _reason_when_needed(self) -> DecisionIn:
        if self.decision in NEEDS_REASON and not (self.reason or "").strip():
            raise ValueError(f"reason: required when the decision is '{self.decision.value}'")
        return self


class DecisionRecorded(Strict):
    notice: str = NOTICE
    family_id: str
    decision: DecisionOut
