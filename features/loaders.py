"""Loaders: read a directory holding `children` and `events` (Parquet or CSV) as the contract's typed tables."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import TABLES
from upstream.errors import ContractError

SUFFIXES = (".parquet", ".csv")


@dataclass(frozen=True)
class RawTable:
    """A contract table as read from disk: every value still a string (or None), in file order."""

    name: str
    path: Path
    frame: pd.DataFrame


@dataclass(frozen=True)
class Extract:
    """The two typed contract tables of one extract."""

    children: pd.DataFrame
    events: pd.DataFrame
    source: Path | None = None

    @property
    def last_date(self) -> pd.Timestamp:
        """The extract's last known date: the latest knowledge date recorded in it."""
        dates = [self.events["event_date"].max(), self.events["end_date"].max(),
                 self.children["arrived_on"].max(), self.children["left_on"].max()]
        dates = [d for d in dates if pd.notna(d)]
        if not dates:
            raise ContractError("the extract holds no dates")
        return pd.Timestamp(max(dates)).normalize()

    def fingerprint(self) -> str:
        """A hash of the contract tables' content, recorded with every model trained on them."""
        h = hashlib.sha256()
        for frame in (self.children, self.events):
            h.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
        return h.hexdigest()[:16]


def find_table(directory: Path, name: str) -> Path:
    found = [directory / f"{name}{s}" for s in SUFFIXES if (directory / f"{name}{s}").is_file()]
    if not found:
        raise ContractError(f"{directory}: no {name}.parquet or {name}.csv found")
    if len(found) > 1:
        raise ContractError(f"{directory}: both {found[0].name} and {found[1].name} exist; keep one")
    return found[0]


def _to_text(v: object) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()[:10]
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Render columns as strings (None for missing) so validation sees what the user wrote.

    Typed date columns stay datetime64 (they are already parsed); string columns pass through untouched.
    """
    out = {}
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        elif pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):
            out[col] = s.astype(object).where(s.notna(), None)
        else:
            out[col] = s.astype(object).map(_to_text)
    return pd.DataFrame(out, index=frame.index)


def read_raw_table(directory: Path, name: str) -> RawTable:
    path = find_table(directory, name)
    try:
        if path.suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
            frame = frame.astype(object).where(frame.notna(), None)
        else:
            frame = _as_strings(pd.read_parquet(path))
    except Exception as exc:  # unreadable or corrupt file: a user problem, said in one line
        raise ContractError(f"{path}: cannot read {name} table: {exc}") from exc
    return RawTable(name=name, path=path, frame=frame.reset_index(drop=True))


def read_raw(directory: str | Path) -> dict[str, RawTable]:
    directory = Path(directory)
    if not directory.exists():
        raise ContractError(f"{directory}: directory not found")
    if not directory.is_dir():
        raise ContractError(f"{directory}: not a directory")
    return {name: read_raw_table(directory, name) for name in TABLES}


def parse_dates(values: pd.Series | np.ndarray) -> pd.Series:
    """ISO dates (YYYY-MM-DD) to datetime64; anything else becomes NaT (validation reports it)."""
    return pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")


def parse_ints(values: pd.Series) -> pd.Series:
    return pd.Series(_int_array(values.to_numpy()), index=values.index, name=values.name)


def _int_array(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Whole numbers as Int64; anything else (text, fractions) becomes <NA>."""
    num = pd.to_numeric(values, errors="coerce")
    if num.dtype.kind in "iu":  # every value a whole number already
        return pd.array(num, dtype="Int64")
    num = np.asarray(num, dtype=np.float64)
    whole = ~np.isnan(num) & (num == np.round(num))
    return pd.array(np.where(whole, num, np.nan), dtype="Int64")


def type_table(raw: pd.DataFrame, name: str) -> pd.DataFrame:
    """Give a raw (string) table the contract's dtypes. Unparseable values become missing.

    Works on numpy arrays and parses every text date column of the table in one call: a table may be one
    posted family, where pandas' per-call overhead would dominate."""
    n = len(raw)
    cols: dict[str, object] = {}
    text_dates: list[str] = []
    for col, kind in TABLES[name].items():
        if col in raw.columns:
            s = raw[col]
            if kind == "date" and pd.api.types.is_datetime64_any_dtype(s):
                cols[col] = s.astype("datetime64[ns]").dt.normalize().to_numpy()
                continue
            values = s.to_numpy(dtype=object)
        else:
            values = np.full(n, None, dtype=object)
        if kind == "date":
            text_dates.append(col)
            cols[col] = values
        elif kind == "int":
            cols[col] = _int_array(values)
        else:
            values = values.copy()
            values[pd.isna(values)] = None
            cols[col] = values
    if text_dates:
        parsed = np.asarray(parse_dates(np.concatenate([cols[c] for c in text_dates])))
        for i, col in enumerate(text_dates):
            cols[col] = parsed[i * n:(i + 1) * n]
    return pd.DataFrame({col: cols[col] for col in TABLES[name]}, index=raw.index)


def read_extract(directory: str | Path) -> Extract:
    """Read an extract with the contract's types, without validating it (use load_extract for that)."""
    raw = read_raw(directory)
    return Extract(children=type_table(raw["children"].frame, "children"),
                   events=type_table(raw["events"].frame, "events"), source=Path(directory))


def load_extract(directory: str | Path, *, hubs: tuple[str, ...], extract_date: pd.Timestamp | None = None
                 ) -> Extract:
    """Read and strictly validate an extract; refuse it (ContractError, every rule named) if it breaks the contract."""
    from features.validation import validate_raw

    raw = read_raw(directory)
    report = validate_raw(raw, hubs=hubs, extract_date=extract_date)
    if not report.ok:
        raise ContractError(report.error_text())
    return report.extract(source=Path(directory))
