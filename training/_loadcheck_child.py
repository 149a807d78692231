"""The child process of `training.loadcheck`: `python -m training._loadcheck_child --name N --version V
--tracking-uri U` verifies the version's checksums, loads it and makes a smoke prediction; it prints one JSON
line (`{"version": ..., "detail": ...}`) and exits 0, or prints one line to stderr and exits 2. A crash inside
LightGBM kills only this process."""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

from core.errors import UpstreamError
from training.checksums import CHECKSUM_TAG, file_sha256


class _Bad(Exception):
    pass


def _resolve(name: str, ref: str, tracking_uri: str) -> str:
    from training.registry import _resolve_version
    from training.tracking import using_store

    with using_store(tracking_uri) as client:
        return _resolve_version(client, name, ref)


def _verify_checksums(name: str, version: str, tracking_uri: str, *, required: bool) -> str:
    """Check the model files against their recorded SHA-256; returns what was checked. A version logged before
    checksums were kept has none: refused when `required` (promotion), else said (serving, scoring)."""
    import mlflow

    from training.tracking import using_store

    with using_store(tracking_uri) as client:
        mv = client.get_model_version(name, version)
        raw = (mv.tags or {}).get(CHECKSUM_TAG)
        if not raw:
            if not required:
                return "no checksums recorded (logged before they were kept)"
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
    return "checksums match"


def _smoke(name: str, version: str, tracking_uri: str) -> str:
    import pandas as pd

    from training.registry import load_version

    loaded = load_version(version, name=name, tracking_uri=tracking_uri)
    row = pd.DataFrame({c: [0.0] for c in loaded.feature_names})
    p = float(loaded.predict(row)["probability"].iloc[0])
    if not (math.isfinite(p) and 0.0 <= p <= 1.0):
        raise _Bad(f"version {version}'s smoke prediction is not a probability ({p})")
    return f"version {version} loads and predicts ({len(loaded.feature_names)} features)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training._loadcheck_child")
    parser.add_argument("--name", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--require-checksums", action="store_true")
    args = parser.parse_args(argv)
    try:
        version = _resolve(args.name, args.version, args.tracking_uri)  # an alias or a number
        sums = _verify_checksums(args.name, version, args.tracking_uri, required=args.require_checksums)
        detail = f"{_smoke(args.name, version, args.tracking_uri)}; {sums}"
        print(json.dumps({"version": version, "detail": detail}))
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
