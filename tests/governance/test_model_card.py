"""The model card and the transparency record: honest sections, aggregates only."""

from __future__ import annotations

import pytest

from governance import audit_predictions, render_html, render_model_card, render_transparency_record
from tests.helpers.audit import make_config, make_predictions


@pytest.fixture(scope="module")
def audited():
    frame = make_predictions(800, seed=4)
    model = {"name": "upstream-risk", "version": "3", "run_id": "abc123", "aliases": ["challenger"],
             "tags": {"git_commit": "deadbeef"}, "params": {"test_dates": "2015-03-31..2015-12-31"},
             "metrics": {"test_model_pr_auc": 0.21, "test_model_roc_auc": 0.81}}
    return frame, audit_predictions(frame, make_config(), replicates=5, model=model)


def test_model_card_has_every_section(audited) -> None:
    _, result = audited
    card = render_model_card(result.report, make_config())
    for heading in ("## Intended use and users", "## Uses it must not have", "## Data", "## Performance",
                    "## Fairness", "## Limitations: what the model cannot see", "## Human oversight",
                    "## How to challenge a flag"):
        assert heading in card
    for must in ("No automated decisions", "Not for eligibility", "punitive", "not yet born", "just moved in",
                 "asylum-seeking", "Sudden crises", "not recorded", "Decision support only"):
        assert must in card
    assert "version 3" in card and "PR-AUC" in card and result.verdict in card


def test_transparency_record_is_a_plain_tier_one_summary(audited) -> None:
    _, result = audited
    record = render_transparency_record(result.report, make_config())
    for heading in ("## Name", "## Description", "## Website", "## Contact"):
        assert heading in record
    assert "Algorithmic Transparency Recording Standard" in record
    assert "pre-deployment" in record  # a challenger is not yet in use


def test_no_identifiers_in_any_rendered_output(audited) -> None:
    frame, result = audited
    texts = [render_model_card(result.report, make_config()), render_transparency_record(result.report, make_config()),
             render_html(result, make_config())]
    ids = set(frame["child_id"]) | set(frame["family_id"])
    for text in texts:
        assert "child_id" not in text and "family_id" not in text
        assert not any(i in text for i in ids)


def test_html_leads_with_the_summary_and_marks_suppressed_cells(audited) -> None:
    _, result = audited
    html = render_html(result, make_config())
    assert html.index("Summary") < html.index("<h2>Groups")
    assert "Recall" in html and "calibration" in html
    # 800 children across 6 ethnicity codes and intersections: some cells are small, and the page says so
    assert result.report["suppression"]["hidden_counts"] > 0
    # values the HTML tables show (group size, calibration, recall at each operating point) that are hidden
    hidden_shown = [v for table in result.report["tables"] for row in table["groups"]
                    for v in (row["counts"]["n"], row["metrics"]["calibration"],
                              *(at["metrics"]["recall"] for at in row["operating_points"].values()))
                    if v is None]
    assert hidden_shown
    assert html.count("suppressed (fewer than 10)") >= len(hidden_shown)
