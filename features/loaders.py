"""Loaders: read a directory holding `children` and `events` (Parquet or CSV) as the contract's typed tables."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from core.contract import COUNCIL_COLUMN, EARLIEST_AS_OF, EXTRACT_NOTES, TABLES, table_columns_of
from core.errors import ContractError
from features import _small

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

    def council(self, code: str) -> Extract:
        """One council's part of a region's extract: its children and their families' events (a family belongs to
        one council), with the same source (its notes)."""
        if COUNCIL_COLUMN not in self.children.columns:
            raise ContractError(f"council {code}: the extract's children have no '{COUNCIL_COLUMN}' column (not a "
                                "region's extract)")
        mine = self.children[COUNCIL_COLUMN].astype(str).to_numpy() == str(code)
        if not mine.any():
            present = ", ".join(sorted(pd.unique(self.children[COUNCIL_COLUMN].astype(str))))
            raise ContractError(f"council {code}: no children of that council in the extract (councils: {present})")
        children = self.children.loc[mine].reset_index(drop=True)
        events = self.events.loc[self.events["family_id"].isin(children["family_id"]).to_numpy()].reset_index(drop=True)
        return Extract(children=children, events=events, source=self.source)

    @property
    def earliest_as_of(self) -> pd.Timestamp | None:
        """The first as-of date the extract's source says its records support (`extract.json` beside the tables,
        key `earliest_as_of`), or None when the source says nothing."""
        if self.source is None or not (self.source / EXTRACT_NOTES).is_file():
            return None
        path = self.source / EXTRACT_NOTES
        try:
            notes = json.loads(path.read_text())
            value = notes.get(EARLIEST_AS_OF) if isinstance(notes, dict) else None
            return None if value is None else pd.Timestamp(date.fromisoformat(value))
        except (ValueError, TypeError) as e:  # JSONDecodeError is a ValueError
            raise ContractError(f"{path}: '{EARLIEST_AS_OF}' must be a date YYYY-MM-DD in a JSON object ({e})") from e

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



# A whole number that is still exact as float64 (pandas parses a column with gaps as floats).
_WHOLE = re.compile(r"-?[0-9]{1,15}")
_NS_PER_DAY = 86_400 * 10**9
_NAT = np.iinfo(np.int64).min
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# The whole days datetime64[ns] can hold; pandas makes any other date NaT.
_FIRST_DAY = (pd.Timestamp.min.ceil("D") - pd.Timestamp(0)).days
_LAST_DAY = (pd.Timestamp.max.floor("D") - pd.Timestamp(0)).days

_TEXT = np.dtype(object)  # a column as read from CSV or built from JSON: Python strings and None

TypedColumn = np.ndarray | pd.arrays.IntegerArray


def parse_dates(values: pd.Series | np.ndarray) -> pd.Series:
    """ISO dates (YYYY-MM-DD) to datetime64; anything else becomes NaT (validation reports it)."""
    return pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")


def _small_dates(values: np.ndarray) -> np.ndarray | None:
    """`parse_dates` of a few values, when every one is None or a 'YYYY-MM-DD' string naming a calendar day;
    None otherwise (pandas decides: its parser accepts more forms, e.g. '2020-2-3', 'today')."""
    days = []
    for v in values.tolist():
        if v is None:
            days.append(_NAT)
        elif type(v) is str and len(v) == 10 and v[4] == "-" and v[7] == "-":
            try:  # of this shape fromisoformat takes only ASCII digits: exactly the contract's form
                days.append(date.fromisoformat(v).toordinal() - _EPOCH_ORDINAL)
            except ValueError:  # not digits, or not a day (2016-02-30)
                return None
        else:
            return None
    ns = np.array(days, dtype=np.int64)
    inside = (ns >= _FIRST_DAY) & (ns <= _LAST_DAY)
    ns[inside] *= _NS_PER_DAY
    ns[~inside] = _NAT
    return ns.view("datetime64[ns]")


def _small_ints(values: np.ndarray) -> pd.arrays.IntegerArray | None:
    """`_int_array` of a few values, when every one is None or a plain whole number; None otherwise."""
    data, mask = [], []
    for v in values.tolist():
        if v is None:
            data.append(1)  # the value pandas leaves under the mask
            mask.append(True)
        elif type(v) is str and _WHOLE.fullmatch(v):
            data.append(int(v))
            mask.append(False)
        else:
            return None
    return pd.arrays.IntegerArray(np.array(data, dtype=np.int64), np.array(mask, dtype=bool))


def _int_array(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Whole numbers as Int64; anything else (text, fractions) becomes <NA>."""
    if len(values) < _small.SMALL and (small := _small_ints(values)) is not None:
        return small
    num = pd.to_numeric(values, errors="coerce")
    if num.dtype.kind in "iu":  # every value a whole number already
        return pd.array(num, dtype="Int64")
    num = np.asarray(num, dtype=np.float64)
    whole = ~np.isnan(num) & (num == np.round(num))
    return pd.array(np.where(whole, num, np.nan), dtype="Int64")


def _text(values: np.ndarray) -> np.ndarray:
    """A copy of a text column with None for every kind of missing value (NaN, NaT, <NA>)."""
    out = values.copy()
    # (a small column of only str and None has nothing to replace)
    if len(out) >= _small.SMALL or not all(v is None or type(v) is str for v in out.tolist()):
        out[pd.isna(out)] = None
    return out


def table_columns(raw: pd.DataFrame, name: str) -> tuple[dict[str, np.ndarray], dict[str, TypedColumn]]:
    """A raw (string) table's columns as numpy arrays, each read once: as written (every column of the
    frame), and typed (the contract's columns in contract order: dates datetime64[ns], integers Int64, text
    object with None for missing; unparseable values and absent columns missing), followed by the optional
    columns (`core.contract.OPTIONAL_COLUMNS`, e.g. a region's `council`) that the frame holds.

    Works on arrays, and parses every text date column of the table in one call: a table may be one posted
    family, where pandas' per-call overhead (a Series per column read) would dominate."""
    columns = raw.columns.tolist()
    if len(set(columns)) < len(columns):  # a column read by name would be a frame, not one array
        repeated = raw.columns[raw.columns.duplicated()].unique()
        raise ValueError(f"{name}: repeated column names: {', '.join(map(str, repeated))}")
    n = len(raw)
    dtypes = dict(zip(columns, raw.dtypes.tolist(), strict=True))
    if n < _small.SMALL and all(t == _TEXT for t in dtypes.values()):
        table = raw.to_numpy()  # one object array whose columns are the frame's own values
        values = {col: table[:, i] for i, col in enumerate(columns)}
    else:
        values = {col: raw[col].to_numpy() for col in columns}
    typed: dict[str, TypedColumn] = {}
    text_dates: list[str] = []
    spec = table_columns_of(name, columns)  # the contract's columns, plus the optional ones the file holds
    for col, kind in spec.items():
        if col not in values:
            v = np.full(n, None, dtype=object)
        elif dtypes[col] == _TEXT:
            v = values[col]
        else:  # typed by the file (Parquet): convert the column as pandas sees it
            s = raw[col]
            if kind == "date" and pd.api.types.is_datetime64_any_dtype(s):
                typed[col] = s.astype("datetime64[ns]").dt.normalize().to_numpy()
                continue
            v = s.to_numpy(dtype=object)
        if kind == "date":
            text_dates.append(col)
            typed[col] = v
        elif kind == "int":
            typed[col] = _int_array(v)
        else:
            typed[col] = _text(v)
    if text_dates:
        joined = np.concatenate([typed[c] for c in text_dates])
        parsed = _small_dates(joined) if len(joined) < _small.SMALL else None
        if parsed is None:
            parsed = np.asarray(parse_dates(joined))
        for i, col in enumerate(text_dates):
            typed[col] = parsed[i * n:(i + 1) * n]
    return values, {col: typed[col] for col in spec}


def type_table(raw: pd.DataFrame, name: str) -> pd.DataFrame:
    """Give a raw (string) table the contract's dtypes (see `table_columns`). Unparseable values become missing."""
    return pd.DataFrame(table_columns(raw, name)[1], index=raw.index)


def read_extract(directory: str | Path) -> Extract:
    """Read an extract with the contract's types, without validating it (use load_extract for that).

    Parameters
    ----------
    directory : str or Path
        The directory holding `children` and `events` (Parquet or CSV).

    Returns
    -------
    Extract
        The typed tables; unparseable values are missing.
    """
    raw = read_raw(directory)
    return Extract(children=type_table(raw["children"].frame, "children"),
                   events=type_table(raw["events"].frame, "events"), source=Path(directory))
