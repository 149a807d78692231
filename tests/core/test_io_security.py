"""Findings 5, 7 and 9 (issue 16) in the atomic writers: outputs are readable by their owner only, folders of runs
killed mid-write are removed at the next run, and CSV text cannot start a spreadsheet formula."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd

from core import io


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_outputs_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        f = io.write_parquet(pd.DataFrame({"child_id": ["C1"]}), tmp_path / "new" / "scores.parquet")
        with io.atomic_dir(tmp_path / "scores") as d:
            (d / "lists").mkdir()
            pd.DataFrame({"family_id": ["F1"]}).to_csv(d / "lists" / "Northfield.csv")
    finally:
        os.umask(old)
    assert _mode(f) == 0o600 and _mode(f.parent) == 0o700
    assert _mode(tmp_path / "scores") == 0o700 and _mode(tmp_path / "scores" / "lists") == 0o700
    assert _mode(tmp_path / "scores" / "lists" / "Northfield.csv") == 0o600


def test_orphaned_temporary_folders_are_removed_at_the_next_run(tmp_path: Path) -> None:
    """`kill -9` during `upstream score` used to leave `.scores.*.tmp` folders of identifiable parquet for ever."""
    # a real run killed with SIGKILL while it writes
    code = ("import sys, time; from core import io\n"
            "with io.atomic_dir(sys.argv[1]) as d:\n"
            "    (d / 'scores.parquet').write_text('C1'); print('writing', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "scores")], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    proc.kill()
    proc.wait()
    orphans = list(tmp_path.glob(".scores.*.tmp"))
    assert len(orphans) == 1 and (orphans[0] / "scores.parquet").exists()
    legacy = tmp_path / ".scores.abc123.tmp"  # from before pids were in the name, untouched for hours
    legacy.mkdir()
    os.utime(legacy, (0, 0))
    live = tmp_path / f".scores.{os.getpid()}.zzz.tmp"  # a run still going (this process): left alone
    live.mkdir()
    with io.atomic_dir(tmp_path / "scores") as d:
        (d / "a.txt").write_text("1")
    assert not orphans[0].exists() and not legacy.exists() and live.exists()
    assert (tmp_path / "scores" / "a.txt").exists()


def test_csv_cells_cannot_start_a_formula(tmp_path: Path) -> None:
    frame = pd.DataFrame({"family_id": ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "F01"],
                          "risk": [-0.5, 1, 2, 3, 4, 5, 6]})
    io.write_csv(frame, tmp_path / "l.csv")
    back = pd.read_csv(tmp_path / "l.csv", dtype={"family_id": str}, keep_default_na=False)
    assert back["family_id"].str[0].tolist() == ["'"] * 6 + ["F"]
    assert back["risk"].tolist()[0] == -0.5  # numbers are left as numbers
