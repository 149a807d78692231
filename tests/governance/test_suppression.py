"""Small-cell suppression: no count under the threshold is published, nor recoverable by differencing totals."""

from __future__ import annotations

import itertools
import json

import pytest

from governance import Relation, audit_predictions, suppress, write_outputs
from governance._metrics import FIXED_COUNTS, FIXED_RATES, OP_COUNTS, OP_RATES
from governance._suppression import recoverable
from tests.helpers.audit import make_config, make_predictions


def test_a_small_cell_and_one_complement_are_hidden() -> None:
    values = {"total": 40, "a": 3, "b": 17, "c": 20}
    result = suppress(values, [Relation("total", ("a", "b", "c"))], threshold=10)
    assert "a" in result.suppressed and "b" in result.suppressed  # b is the cheapest complement
    assert "total" not in result.suppressed and "c" not in result.suppressed
    assert recoverable(values, [Relation("total", ("a", "b", "c"))], result.suppressed) == set()


def test_two_way_table_with_margins_is_protected() -> None:
    rows, cols = ("r1", "r2", "r3"), ("c1", "c2", "c3")
    cells = {(r, c): 20 for r in rows for c in cols}
    cells[("r1", "c1")] = 4
    values = {**cells, **{r: 60 for r in rows}, **{c: 60 for c in cols}, "all": 180}
    values["r1"] = values["c1"] = 44
    values["all"] = 164
    relations = [Relation(r, tuple((r, c) for c in cols)) for r in rows]
    relations += [Relation(c, tuple((r, c) for r in rows)) for c in cols]
    relations += [Relation("all", rows), Relation("all", cols)]
    result = suppress(values, relations, threshold=10)
    assert ("r1", "c1") in result.suppressed
    assert recoverable(values, relations, result.suppressed) == set()
    assert len(result.suppressed) >= 4  # at least a rectangle


def test_recoverable_spots_a_cell_pinned_down_by_two_relations() -> None:
    values = {"t1": 30, "t2": 30, "a": 5, "b": 25, "c": 25}
    relations = [Relation("t1", ("a", "b")), Relation("t2", ("a", "c"))]
    # hiding a and b leaves a = t2 - c: recoverable through the second relation
    assert recoverable(values, relations, {"a", "b"}) == {"a", "b"}
    assert recoverable(values, relations, {"a", "b", "c", "t2"}) == set()


@pytest.fixture(scope="module")
def report() -> dict:
    # plant small groups: a rare DfE code, a rare sex value, a tiny deprivation decile.
    frame = make_predictions(1500, seed=5, rare={"ethnicity": ("WROM", 3), "sex": ("neither", 2)})
    frame.loc[frame.index[:7], "deprivation_decile"] = None
    return audit_predictions(frame, make_config(), replicates=10).report


def _rows(report: dict):
    yield {"attribute": "*"}, report["overall"]
    for table in report["tables"]:
        for row in table["groups"]:
            yield table, row


def _count(row: dict, op: str, field: str) -> int | None:
    return row["counts"][field] if field in FIXED_COUNTS else row["operating_points"][op]["counts"][field]


def test_no_published_count_is_under_the_threshold(report: dict) -> None:
    assert report["suppression"]["hidden_counts"] > 0
    for _, row in _rows(report):
        counts = [row["counts"], *(b["counts"] for b in row["operating_points"].values())]
        for block in counts:
            assert all(v is None or v >= 10 for v in block.values()), (row["group"], block)
    for block in [*report["age_coverage"]["flagged"].values(), report["age_coverage"]["entrants"]]:
        assert all(v is None or v >= 10 for k, v in block.items() if k in ("aged_5_plus", "total"))


def test_every_suppressed_cell_has_a_reason_and_rates_follow_their_counts(report: dict) -> None:
    for _, row in _rows(report):
        for field, value in row["counts"].items():
            assert (value is None) == (f"counts.{field}" in row["suppressed"])
        for rate, inputs in FIXED_RATES.items():
            if any(row["counts"][f] is None for f in inputs):
                assert row["metrics"][rate] is None and f"metrics.{rate}" in row["suppressed"]
        for op, block in row["operating_points"].items():
            for rate, inputs in OP_RATES.items():
                if any(_count(row, op, f) is None for f in inputs):
                    assert block["metrics"][rate] is None
                    assert f"operating_points.{op}.metrics.{rate}" in row["suppressed"]
                    assert (block.get("disparities") or {}).get(rate) is None
                    assert (block.get("intervals") or {}).get(rate) is None


def _published_relations(report: dict) -> list[tuple[object, tuple[object, ...]]]:
    """The additive relations a reader can build from audit.json alone."""
    ops = list(report["operating_points"])
    fields = [("", f) for f in FIXED_COUNTS] + [(op, f) for op in ops for f in OP_COUNTS]
    rels = []
    rows = {(t["attribute"], r["group"]): r for t, r in _rows(report)}
    for (attr, group), _ in rows.items():
        key = lambda f, o="", a=attr, g=group: (a, g, o if f not in FIXED_COUNTS else "", f)  # noqa: E731
        rels.append((key("n"), (key("n_positive"), key("n_negative"))))
        for op in ops:
            for total, parts in (("n", ("n_selected", "n_unselected")), ("n_positive", ("tp", "fn")),
                                 ("n_negative", ("fp", "tn")), ("n_selected", ("tp", "fp")),
                                 ("n_unselected", ("fn", "tn"))):
                rels.append((key(total, op), tuple(key(p, op) for p in parts)))
    for table in report["tables"]:
        for op, f in fields:
            rels.append((("*", "all", op, f), tuple((table["attribute"], r["group"], op, f) for r in table["groups"])))
        if "_x_" in table["attribute"]:
            a, b = table["attribute"].split("_x_")
            for side, margin in ((0, a), (1, b)):
                by_value: dict[str, list[str]] = {}
                for r in table["groups"]:
                    by_value.setdefault(r["group"].split(" / ")[side], []).append(r["group"])
                for value, groups in by_value.items():
                    for op, f in fields:
                        rels.append(((margin, value, op, f), tuple((table["attribute"], g, op, f) for g in groups)))
    groups_of = {"White": ["WBRI", "WOTH", "WROM"], "Asian": ["ABAN", "APKN"], "Black": ["BAFR"], "Mixed": ["MWBC"]}
    for group, codes in groups_of.items():
        for op, f in fields:
            rels.append((("ethnic_group", group, op, f), tuple(("ethnicity", c, op, f) for c in codes)))
    return rels


def test_no_suppressed_count_can_be_recovered_by_differences(report: dict) -> None:
    ops = list(report["operating_points"])
    known: dict[object, float] = {}
    hidden: set[object] = set()
    for table, row in _rows(report):
        for op, f in [("", f) for f in FIXED_COUNTS] + [(op, f) for op in ops for f in OP_COUNTS]:
            key = (table["attribute"], row["group"], op, f)
            value = _count(row, op, f)
            (hidden.add(key) if value is None else known.__setitem__(key, value))
    rels = [(t, p) for t, p in _published_relations(report) if all(c in known or c in hidden for c in (t, *p))]
    # An attacker solving one unknown at a time, repeatedly, from totals and complements:
    solved = dict(known)
    for _ in range(10):
        for total, parts in rels:
            unknown = [c for c in (total, *parts) if c not in solved]
            if len(unknown) == 1:
                cell = unknown[0]
                if cell == total:
                    solved[cell] = sum(solved[p] for p in parts)
                else:
                    solved[cell] = solved[total] - sum(solved[p] for p in parts if p != cell)
    leaked = hidden & set(solved)
    assert not leaked, sorted(leaked, key=repr)[:5]
    # ...and with all the relations at once (linear algebra):
    values = {c: known.get(c, 0.0) for c in known.keys() | hidden}
    assert recoverable(values, [Relation(t, p) for t, p in rels], hidden) == set()


def test_outputs_hold_no_identifiers(tmp_path) -> None:
    frame = make_predictions(600, seed=2)
    result = audit_predictions(frame, make_config(), replicates=5)
    files = write_outputs(result, tmp_path / "audit", make_config())
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    assert "child_id" not in text and "family_id" not in text
    ids = set(frame["child_id"]) | set(frame["family_id"])
    for token in itertools.chain.from_iterable(json.dumps(result.report).split('"')[1::2] for _ in [0]):
        assert token not in ids
    assert not any(i in text for i in list(ids)[:500])
