"""Month arithmetic for the simulator: months are integers (year * 12 + month - 1), days are days since 1970-01-01."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from core.errors import UpstreamError

_EPOCH_MONTH = 1970 * 12
_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str | pd.Timestamp, what: str) -> int:
    """'2010-04' (or a timestamp) -> month index; a user mistake is an UpstreamError naming the argument."""
    if isinstance(text, pd.Timestamp):
        return text.year * 12 + text.month - 1
    match = _MONTH_RE.match(str(text))
    if not match:
        raise UpstreamError(f"{what}: '{text}' is not a month in YYYY-MM form")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def first_day(m: int | np.ndarray) -> np.ndarray:
    """Day number of the first day of month(s) m."""
    months = (np.asarray(m, dtype=np.int64) - _EPOCH_MONTH).astype("datetime64[M]")
    return months.astype("datetime64[D]").astype(np.int64)


def days_in_month(m: int | np.ndarray) -> np.ndarray:
    return first_day(np.asarray(m) + 1) - first_day(m)


def month_end(m: int) -> pd.Timestamp:
    """The last day of month m as a timestamp (as-of dates are month ends)."""
    return pd.Timestamp(np.datetime64(int(first_day(m + 1)) - 1, "D"))


def random_days(m: int, n: int, rng: np.random.Generator, *, avoid_last: bool = False) -> np.ndarray:
    """n random days within month m; avoid_last keeps a date off the month end (an as-of date)."""
    dim = int(days_in_month(m)) - (1 if avoid_last else 0)
    return (int(first_day(m)) + rng.integers(0, dim, size=n)).astype(np.int32)


def to_datetime(days: np.ndarray) -> np.ndarray:
    """Day numbers (-1 = missing) to datetime64[ns] with NaT for missing."""
    days = np.asarray(days, dtype=np.int64)
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    out[days < 0] = np.datetime64("NaT")
    return out


def add_years(days: np.ndarray, years: int) -> np.ndarray:
    """The same calendar day `years` later (29 February -> 1 March)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    dom = (d - month.astype("datetime64[D]")).astype(np.int64)
    target = month + 12 * years
    dim = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    over = dom >= dim  # 29 Feb in a non-leap year
    out = target.astype("datetime64[D]").astype(np.int64) + np.minimum(dom, dim - 1)
    return np.where(over, out + 1, out)
