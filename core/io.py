"""Atomic output: write to a temporary file beside the target, then rename, so a crash never leaves half a file."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

# Outputs are identifiable (lists, scores, the audit export, quarantined rows): readable by their owner only.
FILE_MODE, DIR_MODE = 0o600, 0o700
# Cells a spreadsheet would run as a formula (OWASP "CSV injection"): neutralised with a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A CSV cell that cannot start a formula: text beginning with = + - @ tab or CR gets a leading "'"."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def make_private(path: str | Path, *, create: bool = False) -> None:
    """Make a file readable and writable by its owner only (0600); create it empty first if asked."""
    path = Path(path)
    if create and not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    if path.exists():
        os.chmod(path, FILE_MODE)


def _mkdir_private(directory: Path) -> None:
    """Create a missing output folder (and parents) as 0700; an existing one is left as it is."""
    if not directory.exists():
        directory.mkdir(parents=True, mode=DIR_MODE, exist_ok=True)


def _orphan(path: Path) -> bool:
    """A temporary output of a run that died (its process id is gone), or an old one from before ids were kept."""
    parts = path.name.split(".")
    pid = parts[-3] if len(parts) >= 4 else ""  # .<name>.<pid>.<random>.tmp
    if pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    try:  # no pid in the name: only if nothing has touched it for an hour
        import time

        return time.time() - path.stat().st_mtime > 3600
    except OSError:
        return False


def remove_orphans(target: str | Path) -> list[Path]:
    """Remove temporary outputs for `target` left by runs killed mid-write (`kill -9`, power loss): they hold
    identifiable rows and nothing else would ever clean them. Returns what was removed."""
    target = Path(target)
    removed = []
    if not target.parent.is_dir():
        return removed
    for p in target.parent.glob(f".{target.name}.*.tmp"):
        if _orphan(p):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
    for p in target.parent.glob(f".{target.name}.old.*"):  # a swap interrupted after the rename
        pid = p.name.rsplit(".", 1)[-1]
        if pid.isdigit() and _orphan(p.with_name(f".{target.name}.{pid}.x.tmp")):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; on success rename it over the target (mode 0600)."""
    target = Path(target)
    _mkdir_private(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, FILE_MODE)  # mkstemp makes 0600; a writer that replaced the file may not have
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_parquet(df: pd.DataFrame, target: str | Path) -> Path:
    with atomic_path(target) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(target)


def write_csv(df: pd.DataFrame, target: str | Path) -> Path:
    """CSV for people (lists, rejected rows): text cells that could start a spreadsheet formula are neutralised."""
    text_cols = [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c].dtype)]
    if text_cols:
        df = df.assign(**{str(c): df[c].map(csv_safe) for c in text_cols})
    with atomic_path(target) as tmp:
        # CRLF rows (RFC 4180, as Excel writes them): a stray CR inside a cell is then quoted, not a row break
        df.to_csv(tmp, index=False, lineterminator="\r\n")
    return Path(target)


def write_text(text: str, target: str | Path) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_json(obj: object, target: str | Path) -> Path:
    return write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", target)


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Build a whole output directory aside, then swap it in; the old one is removed only after success.

    The directory is 0700 and every file in it 0600. Temporary folders of earlier runs that were killed
    mid-write are removed first.

    Parameters
    ----------
    target : str or Path
        The directory to create or replace.

    Yields
    ------
    Path
        A temporary directory beside `target` to write into.
    """
    target = Path(target)
    _mkdir_private(target.parent)
    remove_orphans(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        _privatise(tmp)
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old.{os.getpid()}"
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _privatise(directory: Path) -> None:
    """0700 for the folder and its sub-folders, 0600 for every file (whoever wrote them: pandas, matplotlib...)."""
    os.chmod(directory, DIR_MODE)
    for root, dirs, files in os.walk(directory):
        for d in dirs:
            os.chmod(Path(root) / d, DIR_MODE)
        for f in files:
            os.chmod(Path(root) / f, FILE_MODE)
