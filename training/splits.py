"""Temporal splits: train, validation and test blocks of as-of dates whose label windows never overlap."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from core.errors import UpstreamError


def horizon_end(as_of: pd.Timestamp, months: int) -> pd.Timestamp:
    """The last day of the label window that opens at `as_of` (month ends stay month ends)."""
    as_of = pd.Timestamp(as_of).normalize()
    end = as_of + pd.DateOffset(months=months)
    if as_of.is_month_end:
        end = end + pd.offsets.MonthEnd(0)
    return pd.Timestamp(end).normalize()


@dataclass(frozen=True)
class TemporalSplit:
    """Three blocks of as-of dates: every train label window ends by the first validation date, and so on."""

    train: tuple[pd.Timestamp, ...]
    validation: tuple[pd.Timestamp, ...]
    test: tuple[pd.Timestamp, ...]
    horizon_months: int

    def block_of(self, dates: pd.Series) -> pd.Series:
        """'train', 'validation', 'test' or None for each as-of date in `dates`."""
        lookup = {d: name for name, block in (("train", self.train), ("validation", self.validation),
                                              ("test", self.test)) for d in block}
        return pd.to_datetime(dates).map(lookup)

    def as_dict(self) -> dict[str, list[str]]:
        return {name: [d.strftime("%Y-%m-%d") for d in block]
                for name, block in (("train", self.train), ("validation", self.validation), ("test", self.test))}

    def describe(self) -> str:
        def span(block: tuple[pd.Timestamp, ...]) -> str:
            return f"{block[0]:%Y-%m-%d}..{block[-1]:%Y-%m-%d} ({len(block)} dates)"
        return f"train {span(self.train)}; validation {span(self.validation)}; test {span(self.test)}"


def labelled_dates(table: pd.DataFrame, *, horizon_months: int,
                   extract_date: pd.Timestamp | None = None) -> list[pd.Timestamp]:
    """As-of dates that have labelled rows (and, given the extract date, a fully observed label window)."""
    observed = table.loc[table["label"].notna(), "as_of"]
    dates = sorted(pd.Timestamp(d) for d in pd.unique(observed))
    if extract_date is not None:
        dates = [d for d in dates if horizon_end(d, horizon_months) <= pd.Timestamp(extract_date)]
    return dates


def temporal_split(dates: Iterable[pd.Timestamp], *, horizon_months: int, validation_dates: int,
                   test_dates: int, train_dates: int | None = None) -> TemporalSplit:
    """Split labelled as-of dates into blocks; test is the latest `test_dates` of them.

    Validation is the latest `validation_dates` dates whose label window ends on or before the first test
    date; train is every date whose label window ends on or before the first validation date (the latest
    `train_dates` of them, if given).
    """
    ordered = sorted({pd.Timestamp(d).normalize() for d in dates})
    if len(ordered) < test_dates:
        raise UpstreamError(f"only {len(ordered)} as-of dates have observed labels; the test block needs "
                            f"{test_dates} (model.test_dates)")
    test = tuple(ordered[-test_dates:])
    before_test = [d for d in ordered if horizon_end(d, horizon_months) <= test[0]]
    if len(before_test) < validation_dates:
        raise UpstreamError(
            f"not enough history: {len(before_test)} as-of dates end their {horizon_months}-month label window "
            f"by the first test date {test[0]:%Y-%m-%d}; validation needs {validation_dates}")
    validation = tuple(before_test[-validation_dates:])
    train = tuple(d for d in ordered if horizon_end(d, horizon_months) <= validation[0])
    if train_dates is not None:
        train = train[-train_dates:]
    if not train:
        raise UpstreamError(
            f"not enough history: no as-of date ends its {horizon_months}-month label window by the first "
            f"validation date {validation[0]:%Y-%m-%d}; supply a longer extract or fewer validation/test dates")
    return TemporalSplit(train=train, validation=validation, test=test, horizon_months=horizon_months)


def dates_needed(*, horizon_months: int, every_months: int, train_dates: int, validation_dates: int,
                 test_dates: int) -> int:
    """How many consecutive grid dates (ending at the last labelled one) the three blocks and their gaps span."""
    gap = -(-horizon_months // every_months) - 1  # dates skipped so a label window ends by the next block
    return train_dates + gap + validation_dates + gap + test_dates
