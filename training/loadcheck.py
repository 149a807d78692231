"""Prove a registered version can be loaded before anything depends on it: in a child process.

A malformed `booster.txt` makes LightGBM abort the whole process ("terminate called without an active exception",
SIGABRT): Python cannot catch that, so a service or a scoring run that loads such a model in-process dies with it.
`check_loadable` therefore runs, in a child process (`python -m training._loadcheck_child`):

1. the model artifacts against the SHA-256 checksums recorded when they were logged (tag `artifact_sha256`);
2. loading the version exactly as scoring and the service do;
3. a smoke prediction on one all-zero feature row, which must give a probability in [0, 1].

A crash there kills the child, and the parent gets a one-line reason. `promote` (with the run's status and
provenance tags: `training.registry.promote`), `upstream serve` (before every load) and `upstream score`
use it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass

PROVENANCE_TAGS = ("data_fingerprint", "config_hash", "git_commit", "feature_set_version")
TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class LoadCheck:
    ok: bool
    version: str  # the version number checked (when ok; else the ref as given)
    detail: str


def check_loadable(version: str | int, *, name: str = "upstream-risk", tracking_uri: str | None = None,
                   require_checksums: bool = False, timeout: float = TIMEOUT_SECONDS) -> LoadCheck:
    """Verify checksums, load and smoke-predict a version (a number or an alias) in a child process; never
    raises for a bad model. A version without recorded checksums (logged before they were kept) is refused
    only with `require_checksums` (promotion); serving and scoring still load it, isolated the same way."""
    from training.tracking import resolve_tracking_uri

    version = str(version)
    cmd = [sys.executable, "-m", "training._loadcheck_child", "--name", name, "--version", version,
           "--tracking-uri", resolve_tracking_uri(tracking_uri)]
    if require_checksums:
        cmd.append("--require-checksums")
    env = {**os.environ, "PYTHONFAULTHANDLER": "0"}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return LoadCheck(False, version, f"version {version} did not load within {timeout:g} seconds")
    if done.returncode == 0:
        try:  # the child's last line: {"version": the number the ref resolved to, "detail": ...}
            said = json.loads(done.stdout.strip().splitlines()[-1])
            return LoadCheck(True, str(said["version"]), str(said["detail"]))
        except (IndexError, ValueError, KeyError, TypeError):
            return LoadCheck(False, version, f"the load check of version {version} gave no answer")
    if done.returncode < 0:
        try:
            sig = signal.Signals(-done.returncode).name
        except ValueError:
            sig = f"signal {-done.returncode}"
        last = _last_line(done.stderr)
        return LoadCheck(False, version, f"loading version {version} crashed the process ({sig}"
                                         f"{': ' + last if last else ''}); its model files are malformed")
    return LoadCheck(False, version, _last_line(done.stderr) or f"loading version {version} failed "
                                                                 f"(exit {done.returncode})")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:400] if lines else ""
