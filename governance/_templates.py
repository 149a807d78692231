"""The Jinja2 environment the audit's documents are rendered with (templates/*.j2) and their shared wording."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"
SUPPRESSED_TEXT = "suppressed (fewer than {threshold})"


def environment() -> Environment:
    """The environment, with the `pct` and `num` filters; HTML templates are autoescaped.

    Returns
    -------
    jinja2.Environment
    """
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["pct"] = lambda v, d=1: "–" if v is None else f"{100 * v:.{d}f}%"
    env.filters["num"] = lambda v, d=3: "–" if v is None else (f"{v:,}" if isinstance(v, int) else f"{v:.{d}f}")
    return env
