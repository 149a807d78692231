"""The audit's files: audit.json (every number), audit.html, model_card.md and transparency_record.md."""

from __future__ import annotations

from pathlib import Path

from core.config import Config
from core.io import write_json, write_text
from governance._audit import AuditResult
from governance._cards import render_model_card, render_transparency_record
from governance._html import render_html

OUTPUT_FILES = ("audit.json", "audit.html", "model_card.md", "transparency_record.md")


def write_outputs(result: AuditResult, out_dir: str | Path, config: Config) -> list[Path]:
    """Write audit.json, audit.html, model_card.md and transparency_record.md into `out_dir`, each atomically.

    Files are written one by one (not the directory swapped) so that other files in `out_dir` survive.

    Parameters
    ----------
    result : AuditResult
        The audit to write.
    out_dir : str or Path
        The directory (created if missing).
    config : Config
        The configuration the documents quote.

    Returns
    -------
    list of Path
        The files written, in the order of OUTPUT_FILES.
    """
    out_dir = Path(out_dir)
    rendered = {"audit.html": render_html(result, config),
                "model_card.md": render_model_card(result.report, config),
                "transparency_record.md": render_transparency_record(result.report, config)}
    paths = [write_json(result.report, out_dir / "audit.json")]
    paths += [write_text(text, out_dir / name) for name, text in rendered.items()]
    return paths
