"""Benchmark: `upstream serve` scoring one family with reasons from its posted history vs `mlflow models serve`.

Both servers serve the same registered model version on this machine; `wrk` (Debian package) drives them
from the same machine. Reported: p50 / p99 latency with 1 and 8 clients, requests per second with 32.
`upstream serve` validates the posted rows, builds the family's features, predicts, runs TreeSHAP and writes
an audit-log row per request; `mlflow models serve` scores one ready-made feature row and returns no reasons.

    .venv/bin/python benchmarks/bench_serve.py                 # trains a small model in a temporary store
    .venv/bin/python benchmarks/bench_serve.py --tracking-uri sqlite:///mlruns/mlflow.db   # an existing champion

Prints figures; never part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NAME = "upstream-risk"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def small_config(children: int) -> dict:
    data = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    data["simulation"]["children"] = children
    data["model"].update(num_boost_round=300, early_stopping_rounds=30)
    return data


def train_champion(config, tracking_uri: str) -> tuple[str, object]:
    """Simulate a small council, train and register a model, and point `champion` at it (no gates: a benchmark)."""
    import features
    import synthetic
    from training.pipeline import train_from_extract
    from training.tracking import CHAMPION, using_store

    council = synthetic.simulate(config)
    extract = features.Extract(children=council.children, events=council.events, source=None)
    outcome = train_from_extract(extract, config, truth=council.truth, tracking_uri=tracking_uri,
                                 log=lambda m: print("  train:", m))
    with using_store(tracking_uri) as client:
        client.set_registered_model_alias(config.model.registered_name, CHAMPION, outcome.version)
    return str(outcome.version), extract


def pick_family(extract, config) -> tuple[dict, dict]:
    """A family with several children and a real history: its /api/score body and one feature row for MLflow."""
    import features

    ev = extract.events
    counts = ev.groupby("family_id").size()
    sizes = extract.children.groupby("family_id").size()
    as_of = pd.Timestamp(extract.last_date).normalize()
    as_of = as_of if as_of.is_month_end else (as_of - pd.offsets.MonthEnd(1)).normalize()
    candidates = sorted(counts[(counts >= 15) & (counts <= 60)].index.intersection(sizes[sizes >= 3].index))
    cols = features.feature_columns(config)
    family, table = None, None
    for fid in [*candidates[:200], counts.idxmax()]:  # the first with at least 3 children in the cohort
        built = features.build_features(
            features.Extract(children=extract.children[extract.children["family_id"] == fid],
                             events=ev[ev["family_id"] == fid]), [as_of], config)
        if len(built) >= 3 or (fid == counts.idxmax() and family is None):
            family, table = fid, built
            break
    children = extract.children[extract.children["family_id"] == family]
    events = ev[ev["family_id"] == family]

    def rows(frame: pd.DataFrame) -> list[dict]:
        out = []
        for r in frame.to_dict("records"):
            d = {}
            for k, v in r.items():
                if v is None or (not isinstance(v, str) and pd.isna(v)):
                    d[k] = None
                elif isinstance(v, pd.Timestamp):
                    d[k] = f"{v:%Y-%m-%d}"
                elif k == "deprivation_decile":
                    d[k] = int(v)
                else:
                    d[k] = str(v)
            out.append(d)
        return out

    body = {"children": rows(children), "events": rows(events), "as_of": f"{as_of:%Y-%m-%d}"}
    row = table[cols].iloc[[0]].astype("float64")
    mlflow_body = {"dataframe_split": {"columns": cols, "data": [[None if pd.isna(v) else float(v) for v in
                                                                  row.iloc[0]]]}}
    print(f"family {family}: {len(children)} children ({len(table)} in the cohort), {len(events)} events, "
          f"as of {as_of:%Y-%m-%d}; "
          f"body {len(json.dumps(body)):,} bytes")
    return body, mlflow_body


def wait_until(url: str, timeout: float = 180.0, headers: dict | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not become ready")


LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{auth}
wrk.body = [==[{body}]==]
"""


def run_wrk(url: str, body: dict, *, connections: int, seconds: int, token: str | None, tmp: Path) -> dict:
    script = tmp / f"post_{connections}_{abs(hash(url))}.lua"
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    script.write_text(LUA.format(auth=auth, body=json.dumps(body)))
    threads = min(connections, 2)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
                          "-s", str(script),
                          url], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"p50": ms("50"), "p99": ms("99"), "rps": float(rps.group(1)) if rps else float("nan"),
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errors.group(0) if errors else ""}


def measure(label: str, url: str, body: dict, *, token: str | None, seconds: int, tmp: Path) -> dict:
    run_wrk(url, body, connections=1, seconds=2, token=token, tmp=tmp)  # warm up
    res = {}
    for c in (1, 8, 32):
        load = os.getloadavg()[0]  # the machine may be busy with other work: say so next to the figures
        res[c] = {**run_wrk(url, body, connections=c, seconds=seconds, token=token, tmp=tmp), "load": load}
    for c, r in res.items():
        print(f"  {label:<22} {c:>2} clients: p50 {r['p50']:7.1f} ms  p99 {r['p99']:7.1f} ms  {r['rps']:7.1f} req/s"
              f"  (load average {r['load']:.2f} before the run)"
              + (f"  non-2xx {r['non2xx']}" if r["non2xx"] else "") + (f"  {r['socket_errors']}"
                                                                       if r["socket_errors"] else ""))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracking-uri", help="an MLflow store with an `upstream-risk@champion` (default: train one)")
    ap.add_argument("--children", type=int, default=6000, help="simulated council size when training (default 6000)")
    ap.add_argument("--seconds", type=int, default=10, help="seconds per wrk run (default 10)")
    ap.add_argument("--skip-mlflow", action="store_true", help="do not start `mlflow models serve`")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    from core.config import parse_config
    from serving.web.data import Store

    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    cfg_data = small_config(args.children)
    config = parse_config(cfg_data)
    # the trained model's store outlives this run (tmp is removed at the end), so it can be reused
    store_dir = None if args.tracking_uri else Path(tempfile.mkdtemp(prefix="bench-serve-mlflow-"))
    tracking = args.tracking_uri or f"sqlite:///{store_dir / 'mlflow.db'}"
    t0 = time.perf_counter()
    import features
    import synthetic

    if args.tracking_uri:
        from training.registry import load_version

        version = load_version("champion", name=NAME, tracking_uri=tracking).version
        council = synthetic.simulate(config)
        extract = features.Extract(children=council.children, events=council.events)
    else:
        print(f"training a small model ({args.children:,} simulated children) in {tracking} ...")
        version, extract = train_champion(config, tracking)  # artifacts go beside the SQLite store
    print(f"model {NAME} version {version} ready ({time.perf_counter() - t0:.0f}s)")
    body, mlflow_body = pick_family(extract, config)

    cfg_data["serving"].update(database_url=f"sqlite:///{tmp / 'serve.db'}", scores_dir=str(tmp / "no-scores"))
    (tmp / "config.yaml").write_text(yaml.safe_dump(cfg_data))
    token = Store(cfg_data["serving"]["database_url"]).add_user("bench", "data_scientist")
    # mlflow models serve execs `uvicorn` from PATH: put this venv's bin first
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "PYTHONUNBUFFERED": "1",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    procs: list[subprocess.Popen] = []
    results: dict[str, dict] = {}
    try:
        port = free_port()
        procs.append(subprocess.Popen([str(BIN / "upstream"), "serve", "--port", str(port), "--config",
                                       str(tmp / "config.yaml")], env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                                      stderr=open(tmp / "upstream.log", "w"), start_new_session=True))  # noqa: SIM115 - lives with the server
        wait_until(f"http://127.0.0.1:{port}/health/ready")
        check = urllib.request.Request(f"http://127.0.0.1:{port}/api/score", data=json.dumps(body).encode(),
                                       headers={"Content-Type": "application/json",
                                                "Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(check) as r:
            answer = json.loads(r.read())
        print(f"upstream answer: risk {answer['risk']:.3f} ({answer['band']}), reasons {answer['reasons']}")
        print("upstream serve (1 process; validate + features + predict + TreeSHAP + reasons + audit row):")
        results["upstream serve"] = measure("upstream /api/score", f"http://127.0.0.1:{port}/api/score", body,
                                            token=token, seconds=args.seconds, tmp=tmp)
        os.killpg(procs[-1].pid, signal.SIGTERM)
        procs[-1].wait(20)

        if not args.skip_mlflow:
            mport = free_port()
            procs.append(subprocess.Popen([str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{NAME}/{version}",
                                           "-p", str(mport), "-h", "127.0.0.1", "--env-manager", "local", "-w", "1"],
                                          env=env, cwd=tmp, stdout=open(tmp / "mlflow.log", "w"),  # noqa: SIM115
                                          stderr=subprocess.STDOUT, start_new_session=True))
            wait_until(f"http://127.0.0.1:{mport}/ping")
            print("mlflow models serve (1 worker; one feature row, no features built, no reasons):")
            results["mlflow models serve"] = measure("mlflow /invocations", f"http://127.0.0.1:{mport}/invocations",
                                                     mlflow_body, token=None, seconds=args.seconds, tmp=tmp)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
        if not args.tracking_uri:
            print(f"(the trained model stays in {tracking}; pass it as --tracking-uri to rerun without training)")
    print()
    print(f"{'server':<22} {'p50 1c':>8} {'p99 1c':>8} {'p50 8c':>8} {'p99 8c':>8} {'req/s 32c':>10}")
    for name, r in results.items():
        print(f"{name:<22} {r[1]['p50']:8.1f} {r[1]['p99']:8.1f} {r[8]['p50']:8.1f} {r[8]['p99']:8.1f} "
              f"{r[32]['rps']:10.1f}")
    print("latencies in ms; wrk on the same machine; targets: p99 <= 50 ms with 1 client, req/s >= mlflow's")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
