"""Prove a registered version can be loaded before anything depends on it: in a child process.

A malformed `booster.txt` makes LightGBM abort the whole process ("terminate called without an active exception",
SIGABRT): Python cannot catch that, so a service or a scoring run that loads such a model in-process dies with it.
`check_loadable` therefore runs, in a child process (`python -m training.loadcheck`):

1. the model artifacts against the SHA-256 checksums recorded when they were logged (tag `artifact_sha256`);
2. loading the version exactly as scoring and the service do;
3. a smoke prediction on one all-zero feature row, which must give a probability in [0, 1].

A crash there kills the child, and the parent gets a one-line reason. `promote` (with the run's status and
provenance tags, `promotion_checks`), `upstream serve` (before every load) and `upstream score` use it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UpstreamError

CHECKSUM_TAG = "artifact_sha256"
MODEL_FILES = ("booster.txt", "calibrator.json", "meta.json")
PROVENANCE_TAGS = ("data_fingerprint", "config_hash", "git_commit", "feature_set_version")
TIMEOUT_SECONDS = 300


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(model_dir: str | Path) -> dict[str, str]:
    """SHA-256 of each model file about to be logged (recorded on the version as the `artifact_sha256` tag)."""
    return {name: file_sha256(Path(model_dir) / name) for name in MODEL_FILES}


@dataclass(frozen=True)
class LoadCheck:
    ok: bool
    version: str  # the version number checked (when ok; else the ref as given)
    detail: str


def check_loadable(version: str | int, *, name: str = "upstream-risk", tracking_uri: str | None = None,
                   timeout: float = TIMEOUT_SECONDS) -> LoadCheck:
    """Verify checksums, load and smoke-predict a version (a number or an alias) in a child process; never
    raises for a bad model."""
    from training.tracking import resolve_tracking_uri

    version = str(version)
    cmd = [sys.executable, "-m", "training.loadcheck", "--name", name, "--version", version,
           "--tracking-uri", resolve_tracking_uri(tracking_uri)]
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


def promotion_checks(client: Any, name: str, version: str, *, tracking_uri: str | None = None) -> list[str]:
    """The loadability gates of `promote`: the run FINISHED, provenance tags present, artifacts matching their
    checksums, and a load plus smoke prediction in a child process. Raises PromotionRefused naming the gate."""
    from training.registry import PromotionRefused

    mv = client.get_model_version(name, version)
    status = client.get_run(mv.run_id).info.status if mv.run_id else "missing"
    if status != "FINISHED":
        raise PromotionRefused(f"gate 'run finished' failed: version {version}'s training run is {status}, not "
                               "FINISHED (killed or still logging); train again")
    missing = [t for t in PROVENANCE_TAGS if not (mv.tags or {}).get(t)]
    if missing:
        raise PromotionRefused(f"gate 'provenance' failed: version {version} lacks tag(s) {', '.join(missing)}")
    check = check_loadable(version, name=name, tracking_uri=tracking_uri)
    if not check.ok:
        raise PromotionRefused(f"gate 'loads' failed: {check.detail}")
    return [f"run finished, provenance tags present ({', '.join(PROVENANCE_TAGS)})", f"loads: {check.detail}"]


# --- the child process ------------------------------------------------------------------------------------------
class _Bad(Exception):
    pass


def _resolve(name: str, ref: str, tracking_uri: str) -> str:
    from training.registry import _resolve_version
    from training.tracking import using_store

    with using_store(tracking_uri) as client:
        return _resolve_version(client, name, ref)


def _verify_checksums(name: str, version: str, tracking_uri: str) -> None:
    import mlflow

    from training.tracking import using_store

    with using_store(tracking_uri) as client:
        mv = client.get_model_version(name, version)
        raw = (mv.tags or {}).get(CHECKSUM_TAG)
        if not raw:
            raise _Bad(f"version {version} has no recorded artifact checksums (tag {CHECKSUM_TAG}); "
                       "it was logged before checksums were kept or by hand: train it again")
        recorded = json.loads(raw)
        with tempfile.TemporaryDirectory(prefix="upstream-loadcheck-") as tmp:
            try:
                local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}",
                                                                 dst_path=tmp))
            except Exception as exc:
                raise _Bad(f"version {version}'s model artifacts cannot be read: {type(exc).__name__}: "
                           f"{str(exc)[:200]}") from exc
            for file, digest in recorded.items():
                found = list(local.rglob(file))
                if not found:
                    raise _Bad(f"version {version}'s artifact {file} is missing (deleted from the store?)")
                if file_sha256(found[0]) != digest:
                    raise _Bad(f"version {version}'s artifact {file} does not match its recorded checksum "
                               "(changed or corrupted after it was logged)")


def _smoke(name: str, version: str, tracking_uri: str) -> str:
    import pandas as pd

    from training.registry import load_version

    loaded = load_version(version, name=name, tracking_uri=tracking_uri)
    row = pd.DataFrame({c: [0.0] for c in loaded.feature_names})
    p = float(loaded.predict(row)["probability"].iloc[0])
    if not (math.isfinite(p) and 0.0 <= p <= 1.0):
        raise _Bad(f"version {version}'s smoke prediction is not a probability ({p})")
    return f"version {version} loads and predicts ({len(loaded.feature_names)} features, checksums match)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.loadcheck")
    parser.add_argument("--name", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--tracking-uri", required=True)
    args = parser.parse_args(argv)
    try:
        version = _resolve(args.name, args.version, args.tracking_uri)  # an alias or a number
        _verify_checksums(args.name, version, args.tracking_uri)
        print(json.dumps({"version": version, "detail": _smoke(args.name, version, args.tracking_uri)}))
    except _Bad as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except UpstreamError as exc:  # no such version or alias: said as the registry says it
        print(str(exc).splitlines()[0][:400], file=sys.stderr)
        return 2
    except Exception as exc:  # any other failure to load is a bad model too, said in one line
        print(f"version {args.version} failed to load: {type(exc).__name__}: {str(exc)[:300]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
