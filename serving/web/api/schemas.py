"""Schemas shared by every domain: the strict base model, the decision-support notice and error bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from core.notice import DECISION_SUPPORT as NOTICE  # the one notice, re-exported for the API's schemas

__all__ = ["NOTICE", "ErrorBody", "FieldError", "Strict"]


class Strict(BaseModel):
    """Request and response models refuse unknown fields, so a typo is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class FieldError(Strict):
    field: str
    message: str


class ErrorBody(Strict):
    """Every 4xx answer: what went wrong, and for input problems each field with its own message."""

    detail: str
    errors: list[FieldError] = []
    notice: str = NOTICE


ERROR_RESPONSES: dict[int | str, dict] = {
    401: {"model": ErrorBody, "description": "No token, or a token no user holds"},
    403: {"model": ErrorBody, "description": "Outside the user's role or hub"},
    413: {"model": ErrorBody, "description": "Payload larger than serving.max_payload_bytes"},
    422: {"model": ErrorBody, "description": "Input breaks a rule; each field is named"},
}
