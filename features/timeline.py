"""Calendar arithmetic on whole days: month shifts that keep month ends, completed months, the as-of grid."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.errors import UpstreamError

if TYPE_CHECKING:
    from core.config import Config
    from features.loaders import Extract

# Days are int64 counts since 1970-01-01; "never" / "still open" is a day far in the future.
NEVER = np.int64(10**8)


def to_days(values: pd.Series | pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    """Dates (datetime64, NaT allowed) as int64 days since 1970-01-01; NaT becomes NEVER."""
    arr = np.asarray(values, dtype="datetime64[ns]").astype("datetime64[D]")
    out = arr.astype(np.int64)
    out[np.isnat(arr)] = NEVER
    return out


_EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()


def day_of(ts: pd.Timestamp) -> int:
    return pd.Timestamp(ts).toordinal() - _EPOCH_ORDINAL


def from_day(day: int) -> pd.Timestamp:
    return pd.Timestamp(np.datetime64(int(day), "D"))


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(months since 1970-01, 0-based day of month, days in that month) for int days."""
    days = np.asarray(days, dtype=np.int64)
    if days.size > 1000:  # many rows, few distinct days (as-of dates, birthdays): work on the distinct range
        lo, hi = int(days.min()), int(days.max())
        if hi - lo < days.size:
            mon, dom, length = _ymd_direct(np.arange(lo, hi + 1, dtype=np.int64))
            i = days - lo
            return mon[i], dom[i], length[i]
    return _ymd_direct(days)


def _ymd_direct(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = days.astype("datetime64[D]")
    mon = d.astype("datetime64[M]")
    first = mon.astype("datetime64[D]")
    dom = (d - first).astype(np.int64)
    length = ((mon + 1).astype("datetime64[D]") - first).astype(np.int64)
    return mon.astype(np.int64), dom, length


def shift_months(days: np.ndarray | int, months: int | np.ndarray) -> np.ndarray:
    """Move dates by whole months. A month end stays a month end (so quarterly windows tile exactly);
    any other day keeps its day of month, clamped to the target month's length. An array of months
    broadcasts against the days (months[:, None] with 1-D days gives every shift of every day)."""
    days = np.atleast_1d(np.asarray(days, dtype=np.int64))
    mon, dom, length = _ymd(days)
    target = (mon + months).astype("datetime64[M]")
    first = target.astype("datetime64[D]")
    tlen = ((target + 1).astype("datetime64[D]") - first).astype(np.int64)
    tdom = np.where(dom == length - 1, tlen - 1, np.minimum(dom, tlen - 1))
    return first.astype(np.int64) + tdom


@lru_cache(maxsize=256)
def month_shifts(days: tuple[int, ...], months: tuple[int, ...]) -> np.ndarray:
    """shift_months of every day by every number of months, as a read-only (months x days) array; cached,
    as the same as-of dates come back request after request."""
    out = (shift_months(np.asarray(days, dtype=np.int64), np.asarray(months, dtype=np.int64)[:, None]) if days
           else np.zeros((len(months), 0), dtype=np.int64))
    out.flags.writeable = False
    return out


def completed_months(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whole months from `start` to `end` (an age in months: a birthday on the 31st completes a month on
    the 31st, or on the 1st of the next month when the month is shorter, as English law counts ages)."""
    smon, sdom, _ = _ymd(start)
    emon, edom, _ = _ymd(end)
    return emon - smon - (edom < sdom)


def month_end_on_or_before(ts: pd.Timestamp) -> pd.Timestamp:
    """The month end on or before `ts` (itself if it is one): the default as-of date for an extract's last date."""
    ts = pd.Timestamp(ts).normalize()
    return ts if ts.is_month_end else (ts - pd.offsets.MonthEnd(1)).normalize()


def normalise_dates(dates: Sequence[pd.Timestamp] | pd.Timestamp) -> list[pd.Timestamp]:
    """Sorted, distinct, midnight-normalised timestamps."""
    if isinstance(dates, (pd.Timestamp, str)) or not isinstance(dates, Sequence | pd.Index | np.ndarray):
        dates = [dates]  # type: ignore[list-item]
    out = sorted({pd.Timestamp(d).normalize() for d in dates})
    if any(pd.isna(d) for d in out):
        raise UpstreamError("as-of dates must be dates, not missing values")
    return out


def as_of_grid(extract: Extract, config: Config, *, start: pd.Timestamp | None = None,
               end: pd.Timestamp | None = None, every_months: int | None = None) -> list[pd.Timestamp]:
    """Month-end as-of dates, ascending: anchored at the month end on or before `end` (default the
    extract's last date), stepping back `every_months` (default config) to `start` (inclusive; default
    `history_years` before the anchor, exclusive, so 5 years quarterly is 20 dates).

    Parameters
    ----------
    extract : Extract
        Its last date is the default anchor.
    config : Config
        `features.every_months` and `features.history_years`.
    start, end : Timestamp, optional
        The grid's range.
    every_months : int, optional
        The step. Default: `config.features.every_months`.

    Returns
    -------
    list of Timestamp
    """
    step = config.features.every_months if every_months is None else int(every_months)
    if step <= 0:
        raise UpstreamError(f"the as-of grid step must be a positive number of months (got {step})")
    anchor = month_end_on_or_before(end if end is not None else extract.last_date)
    inclusive = start is not None
    floor = (pd.Timestamp(start).normalize() if inclusive
             else anchor - pd.DateOffset(years=config.features.history_years))
    if floor > anchor:
        raise UpstreamError(f"the as-of range is empty: start {floor:%Y-%m-%d} is after end {anchor:%Y-%m-%d}")
    out: list[pd.Timestamp] = []
    for k in range(100_000):
        d = from_day(int(shift_months(day_of(anchor), -step * k)[0]))
        if d < floor or (d == floor and not inclusive):
            break
        out.append(d)
    return sorted(out)


def parse_every(text: str | int | None) -> int | None:
    """A grid step such as "3M", "3m" or "3" as a number of months."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[mM]?\s*", str(text))
    if not m or int(m.group(1)) <= 0:
        raise UpstreamError(f"--every: '{text}' is not a step in months such as 3M")
    return int(m.group(1))


def resolve_as_of(extract: Extract, config: Config, *, as_of: Sequence[pd.Timestamp] = (),
                  start: pd.Timestamp | None = None, end: pd.Timestamp | None = None,
                  every_months: int | None = None, extract_date: pd.Timestamp | None = None
                  ) -> list[pd.Timestamp]:
    """The as-of dates a command asked for: explicit month-end dates, or a grid (the configured one when
    nothing is given, from the extract's `earliest_as_of` note on where it has one). Refuses (UpstreamError)
    dates that are not month ends or lie after the extract date: features there would treat the unknown future
    as "nothing happened"."""
    last = pd.Timestamp(extract_date).normalize() if extract_date is not None else extract.last_date
    if as_of and (start is not None or end is not None or every_months is not None):
        raise UpstreamError("give either --as-of dates or a grid (--from/--to/--every), not both")
    if as_of:
        dates = normalise_dates(list(as_of))
        for d in dates:
            if not d.is_month_end:
                raise UpstreamError(f"--as-of {d:%Y-%m-%d}: as-of dates are month ends "
                                    f"(e.g. {month_end_on_or_before(d):%Y-%m-%d})")
    else:
        dates = as_of_grid(extract, config, start=start, end=end if end is not None else last,
                           every_months=every_months)
        # the default grid never starts before what the source says its records support (`extract.json`,
        # written by `upstream import`); an explicit --from is the user's own choice
        floor = getattr(extract, "earliest_as_of", None) if start is None else None
        if floor is not None:
            dates = [d for d in dates if d >= floor]
    late = [d for d in dates if d > last]
    if late:
        raise UpstreamError(f"as-of date {late[0]:%Y-%m-%d} is after the extract date {last:%Y-%m-%d}")
    if not dates:
        raise UpstreamError("no as-of dates in the requested range")
    return dates
