"""Transparency record: a tier-1 public summary in the style of the UK Algorithmic Transparency Recording Standard."""

from __future__ import annotations

from typing import Any

from core.config import Config


def render_transparency_record(report: dict[str, Any], config: Config) -> str:
    """transparency_record.md: plain-English name, description, use in decisions, oversight and contact."""
    from governance.audit_report import environment
    from governance.model_card import card_context

    return environment().get_template("transparency_record.md.j2").render(**card_context(report, config))
