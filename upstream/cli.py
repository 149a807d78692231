"""The `upstream` command: one subcommand per job; it parses arguments and calls library functions."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from core.config import Config, load_config
from core.errors import ConfigError, UpstreamError
from core.notice import DECISION_SUPPORT

app = typer.Typer(
    name="upstream",
    help=f"Risk prediction for children's services. {DECISION_SUPPORT}",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state = {"verbose": False}

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML config (default: configs/default.yaml).")
]
ClusterOption = Annotated[str | None, typer.Option(
    "--cluster", help="Run on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://host:8786), per partition "
                      "of whole families (docs/scale.md).")]
WorkersOption = Annotated[int | None, typer.Option(
    "--workers", help="Run on a local Dask cluster of N worker processes (1 thread each).")]


@app.callback()
def _root(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on error.")] = False
          ) -> None:
    _state["verbose"] = verbose


def _config(path: Path | None) -> Config:
    return load_config(path)


def _simulated(cfg: Config):
    """The council `cfg.simulation` describes, as an extract and the simulator's truth: the data `train` and
    `score` use when no --data is given (the CLI decides that default; library code never simulates)."""
    from features import Extract
    from synthetic import simulate as run_simulation

    council = run_simulation(cfg)
    return Extract(children=council.children, events=council.events, source=None), council.truth


CouncilOption = Annotated[str | None, typer.Option(
    "--council", help="One council of a region config (its DfE LA number): its own lists (OUT/<code>/ of a region's "
                      "`upstream score`), hubs and part of the model's monitoring reference.")]


def _one_council(cfg: Config, council: str | None) -> Config:
    """The config a council's own service or monitoring runs with: one council of a region (`--council`)."""
    if council is None:
        if cfg.is_region:
            codes = ", ".join(c.code for c in cfg.region)
            raise UpstreamError(f"a region's lists are per council: give --council CODE (one of {codes})")
        return cfg
    if not cfg.is_region:
        raise UpstreamError("--council picks one council of a region config (councils:); this config describes "
                            "one council")
    return cfg.for_council(council)


def _council_dir(scores: Path, council: str | None) -> Path:
    """A region's scoring output holds each council's in OUT/<code>/: --scores may name either."""
    if council is not None and (scores / council / "scores.parquet").is_file():
        return scores / council
    return scores


@contextmanager
def _dask(cluster: str | None, workers: int | None) -> Iterator[Any]:
    """A Dask client for --cluster or --workers (closed on exit), or None when neither is given."""
    if cluster is not None and workers is not None:
        raise UpstreamError("give either --cluster ADDRESS or --workers N, not both")
    if cluster is None and workers is None:
        yield None
        return
    from features.distributed import dask_client

    with dask_client(cluster, workers=workers or 2) as client:
        n = len(client.nthreads())
        typer.echo(f"on {n} Dask worker{'s' if n != 1 else ''} ({cluster or 'local cluster'})", err=True)
        yield client


def _parse_date(value: str | None, flag: str):  # -> pd.Timestamp | None
    import pandas as pd

    if value is None:
        return None
    try:
        return pd.Timestamp(pd.to_datetime(value, format="%Y-%m-%d"))
    except (ValueError, TypeError) as exc:
        raise UpstreamError(f"{flag}: '{value}' is not a date in YYYY-MM-DD form") from exc


@app.command()
def validate(
    directory: Annotated[Path, typer.Argument(help="Directory holding children.* and events.* (Parquet or CSV).")],
    quarantine: Annotated[Path | None, typer.Option(
        help="Write valid rows to this directory and invalid rows to rejected_<table>.csv with reasons.")] = None,
    extract_date: Annotated[str | None, typer.Option(
        help="The extract's date (YYYY-MM-DD); later-dated records are errors. Default: today.")] = None,
    config: ConfigOption = None,
) -> None:
    """Check an extract against the data contract; name every broken rule with its rows."""
    from features.validation import validate_extract

    cfg = _config(config)
    report = validate_extract(directory, hubs=cfg.contract_hubs,
                              extract_date=_parse_date(extract_date, "--extract-date"))
    if report.fatal:
        typer.echo(report.error_text(), err=True)
        raise typer.Exit(2)
    if quarantine is not None:
        counts = report.quarantine(quarantine)
        for table, (kept, rejected) in counts.items():
            typer.echo(f"{table}: {kept:,} kept, {rejected:,} rejected")
        if not report.ok:
            typer.echo(report.error_text(), err=True)
        typer.echo(f"clean tables and rejected rows written to {quarantine}")
        if sum(kept for kept, _ in counts.values()) == 0:
            raise typer.Exit(2)
        return
    if not report.ok:
        typer.echo(report.error_text(), err=True)
        raise typer.Exit(2)
    typer.echo(f"{directory}: valid under the data contract")
    typer.echo(report.summary_text())


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Directory to write children, events and truth (Parquet).")],
    children: Annotated[int | None, typer.Option(
        help="Children resident at any time (default: config simulation.children); every rate stays the same.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: config simulation.seed).")] = None,
    start: Annotated[str | None, typer.Option(help="First simulated month, YYYY-MM (default: config).")] = None,
    end: Annotated[str | None, typer.Option(help="Last simulated month, YYYY-MM (default: config).")] = None,
    returns: Annotated[Path | None, typer.Option(
        "--returns", help="Also write the council as its statutory returns (903, CIN census, Annex A per year) "
                          "with residence, family links, partner feed and a manifest, for `upstream import`; with "
                          "--councils, each council's under RETURNS/<code>/.")
    ] = None,
    returns_years: Annotated[int, typer.Option(help="Collection years of returns to write (with --returns).")] = 7,
    councils: Annotated[int | None, typer.Option(
        "--councils", help="Simulate a region: the first N councils of a region config (councils:), differing in "
                           "size, deprivation and practice; --children is then children per council on average "
                           "(docs/simulator.md).")] = None,
    config: ConfigOption = None,
) -> None:
    """Simulate the council (or a region of councils): contract tables plus the oracle's ground truth, to OUT."""
    cfg = _config(config)
    if councils is not None:
        from synthetic import region_profiles, simulate_region

        profiles = region_profiles(cfg, councils, cfg.simulation.seed if seed is None else seed)
        typer.echo(f"simulating {councils} councils on up to 2 processes", err=True)
        council = simulate_region(cfg, councils=councils, children=children, seed=seed, start=start, end=end,
                                  profiles=profiles)
    else:
        from synthetic import simulate as run_simulation

        council = run_simulation(cfg, children=children, seed=seed, start=start, end=end, progress=True)
    council.write(out)
    typer.echo(f"{out}: {len(council.children):,} children, {len(council.events):,} events, "
               f"{len(council.truth):,} truth rows; extract date {council.extract_date:%Y-%m-%d}")
    for c in council.councils:
        typer.echo(f"  council {c['code']} {c['name']}: {c['children']:,} children; deprivation skew "
                   f"{c['deprivation_skew']:+.2f}, front door {c['front_door']:+.2f}, early help "
                   f"{c['early_help']:+.2f}, care threshold {c['care_threshold']:+.2f} (councils.json)")
    if returns is not None:
        from core.contract import COUNCIL_COLUMN
        from statutory import write_returns

        # a region: each council's own returns under RETURNS/<code>/, with its LA number in its manifest, as each
        # council would import them itself (docs/scale.md)
        parts = ([(returns / c["code"], c["code"], council.children[COUNCIL_COLUMN].astype(str) == c["code"])
                  for c in council.councils] if council.councils else [(returns, None, None)])
        for target, code, mine in parts:
            ch = council.children if mine is None else council.children.loc[mine.to_numpy()]
            ev = council.events if mine is None else council.events.loc[council.events["family_id"].isin(
                ch["family_id"]).to_numpy()]
            got = write_returns(ch, ev, target, extract_date=council.extract_date, years=returns_years,
                                **({} if code is None else {"la_code": code}))
            lost = sum(got["losses"].values())
            typer.echo(f"{target}: returns for {got['years'][0]}..{got['years'][-1]} of "
                       f"{got['children_in_returns']:,} children known to social care; {lost:,} items the returns "
                       "cannot carry (losses.json)")


@app.command("import")
def import_cmd(
    manifest: Annotated[Path, typer.Argument(help="The import manifest (YAML): every return file, its format and "
                                                   "year, residence.csv, optional family links and partner feed.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for children.csv and events.csv; the report, "
                                                    "quarantine and lineage go beside it in OUT.import/.")],
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", help="The council's pseudonym (HMAC) key. Default: $UPSTREAM_PSEUDONYM_KEY, else the "
                           "manifest's key_file.")] = None,
    config: ConfigOption = None,
) -> None:
    """Import statutory returns (SSDA903, CIN census, Annex A) into the data contract, then validate it."""
    import tempfile

    import pandas as pd

    from core.io import atomic_dir
    from features.validation import validate_extract
    from statutory import load_key, load_manifest, run_import

    cfg = _config(config)
    m = load_manifest(manifest)
    if cfg.is_region:  # one council of a partnership imports its own returns: its LA number picks its hubs
        try:
            cfg = cfg.for_council(m.la_code)
        except ConfigError as exc:
            raise UpstreamError(f"{manifest}: la_code '{m.la_code}': {exc}") from exc
    elif cfg.council.code is not None and cfg.council.code != m.la_code:
        raise UpstreamError(f"{manifest}: la_code '{m.la_code}' is not the config's council code "
                            f"'{cfg.council.code}'")
    key = load_key(key_file, m)
    result = run_import(m, key, hubs=cfg.council.hub_names, council_column=cfg.council.code is not None)
    side = out.parent / f"{out.name}.import"
    if result.children.empty:
        with atomic_dir(side) as tmp_side:
            result.write_side(tmp_side)
        raise UpstreamError(f"no child could be imported (every child was refused or held back): {out} not written; "
                            f"see {side}/report.md and {side}/quarantine/")
    with tempfile.TemporaryDirectory(prefix=".upstream-import-", dir=out.parent if out.parent.exists() else None
                                     ) as tmp:
        result.write_tables(Path(tmp))
        report = validate_extract(tmp, hubs=cfg.contract_hubs, extract_date=pd.Timestamp(result.extract_date))
        if report.fatal or not report.ok:
            text = report.error_text().replace(str(tmp), str(out))
            raise UpstreamError(f"the imported tables break the data contract (nothing written):\n{text}")
        summary = report.summary_text()
    with atomic_dir(side) as tmp_side:
        result.write_side(tmp_side, validation_summary=summary)
        with atomic_dir(out) as tmp_out:
            result.write_tables(tmp_out)
    rep = result.report
    refused = sum(f["refused"] for f in rep["files"])
    held = sum(f["held_back"] for f in rep["files"])
    warnings = sum(r["count"] for r in rep["rules"] if r["severity"] == "W")
    typer.echo(f"{out}: {rep['children_written']:,} children, {rep['events_written']:,} events; extract date "
               f"{rep['extract_date']}, history start {rep['history_start']}")
    typer.echo(f"{refused:,} rows refused, {held:,} held back, {warnings:,} warnings: see {side}/report.md")
    if rep.get("earliest_training_as_of"):
        typer.echo(f"as-of dates from {rep['earliest_training_as_of']} on (history start + 24 months): upstream "
                   f"train and upstream features read it from {out}/extract.json")


@app.command()
def pool(
    extracts: Annotated[list[Path], typer.Argument(help="Each council's extract directory (from `upstream import` "
                                                        "with the region config, or the council's own export).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the region's children, events and extract.json.")],
    config: ConfigOption = None,
) -> None:
    """Pool a regional partnership's councils' extracts into one region extract (docs/scale.md)."""
    from core.contract import EARLIEST_AS_OF, EXTRACT_NOTES
    from core.io import atomic_dir, write_json, write_parquet
    from features.pool import pool_extracts
    from features.validation import validate_extract

    cfg = _config(config)
    pooled = pool_extracts(extracts, cfg)
    with atomic_dir(out) as tmp:
        write_parquet(pooled.extract.children, tmp / "children.parquet")
        write_parquet(pooled.extract.events, tmp / "events.parquet")
        write_json({EARLIEST_AS_OF: None if pooled.earliest_as_of is None else f"{pooled.earliest_as_of:%Y-%m-%d}",
                    "source": f"pooled from {len(pooled.councils)} councils' extracts (upstream pool)",
                    "councils": pooled.councils}, tmp / EXTRACT_NOTES)
        report = validate_extract(tmp, hubs=cfg.contract_hubs)  # the region as a whole, before it is in place
        if report.fatal or not report.ok:
            raise UpstreamError("the pooled extract breaks the data contract (nothing written):\n"
                                + report.error_text().replace(str(tmp), str(out)))
    for code, c in pooled.councils.items():
        typer.echo(f"  council {code}: {c['children']:,} children, {c['events']:,} events ({c['source']})")
    typer.echo(f"{out}: {len(pooled.extract.children):,} children, {len(pooled.extract.events):,} events from "
               f"{len(pooled.councils)} councils"
               + (f"; as-of dates from {pooled.earliest_as_of:%Y-%m-%d} on (every council's records support them)"
                  if pooled.earliest_as_of is not None else ""))


@app.command()
def train(
    data: Annotated[Path | None, typer.Option(
        "--data", help="Extract directory (children.*, events.*, optional truth.parquet). "
                       "Default: simulate the council in the config.")] = None,
    config: ConfigOption = None,
    tune: Annotated[bool, typer.Option("--tune", help="Bounded hyperparameter search on validation.")] = False,
    scenario: Annotated[str | None, typer.Option(
        "--scenario", help="Data-sharing scenario (config data_sharing.scenarios): use only the event types its "
                           "agreements provide; the version is tagged with it. Default: every event type.")] = None,
    cluster: ClusterOption = None,
    workers: WorkersOption = None,
) -> None:
    """Train LightGBM with temporal splits, evaluate against baselines (and the oracle), log to MLflow."""
    from training.pipeline import summary, train_from_directory, train_from_extract

    cfg = _config(config)
    if scenario is not None:
        cfg.data_sharing.event_types(scenario)  # an unknown name is refused before any slow step

    def say(msg: str) -> None:
        typer.echo(msg, err=True)

    if tune and (cluster is not None or workers is not None):
        raise UpstreamError("--tune runs in one process only; drop --cluster/--workers to tune")
    with _dask(cluster, workers) as client:
        if data is None:  # the default data source: the council the config describes, simulated here
            import time

            t0 = time.perf_counter()
            extract, truth = _simulated(cfg)
            outcome = train_from_extract(extract, cfg, truth=truth, tune=tune, log=say,
                                         load_seconds=time.perf_counter() - t0, scenario=scenario, client=client)
        else:
            outcome = train_from_directory(data, cfg, tune=tune, log=say, scenario=scenario, client=client)
    typer.echo(summary(outcome))


@app.command()
def models(config: ConfigOption = None) -> None:
    """List registered model versions with their aliases and key test metrics."""
    from training.registry import format_versions, list_versions

    typer.echo(format_versions(list_versions(_config(config))))


@app.command()
def promote(
    reason: Annotated[str, typer.Option("--reason", help="Why this version should become champion (recorded).")],
    version: Annotated[int | None, typer.Option("--version", help="Version to promote (default: the challenger).")
                       ] = None,
    override_fairness: Annotated[bool, typer.Option(
        "--override-fairness", help="Promote despite a fairness verdict of 'review' (recorded).")] = False,
    config: ConfigOption = None,
) -> None:
    """Move the `champion` alias to a version if the promotion gates pass; a refusal names the failed gate."""
    from training.registry import promote as promote_version

    result = promote_version(_config(config), reason=reason, version=version, override_fairness=override_fairness)
    for line in result.checks:
        typer.echo(f"  ok  {line}")
    previous = f" (was version {result.previous_champion})" if result.previous_champion else " (first champion)"
    typer.echo(f"{result.name} version {result.version} is now champion{previous}")


@app.command()
def audit(
    out: Annotated[Path, typer.Option("--out", help="Directory for audit.html, audit.json, model_card.md and "
                                                    "transparency_record.md.")],
    version: Annotated[int | None, typer.Option("--version", help="Version to audit.")] = None,
    alias: Annotated[str | None, typer.Option("--alias", help="Alias to audit (default: challenger).")] = None,
    data: Annotated[Path | None, typer.Option(
        "--data", help="The extract, to count early help episodes by age for the age-coverage comparison.")] = None,
    replicates: Annotated[int | None, typer.Option(
        "--replicates", help="Bootstrap replicates (default: fairness.bootstrap_replicates).")] = None,
    config: ConfigOption = None,
) -> None:
    """Fairness audit of a registered version on its test period; sets the version's fairness verdict tag."""
    from governance import audit_version

    result, name, resolved = audit_version(_config(config), out, version=version, alias=alias, data_dir=data,
                                           replicates=replicates, log=lambda msg: typer.echo(msg, err=True))
    typer.echo(f"{name} version {resolved}: fairness verdict {result.verdict}")
    for reason in result.reasons:
        typer.echo(f"  review  {reason}")
    typer.echo(f"report: {out / 'audit.html'} (also logged to the version's MLflow run under fairness/)")


@app.command()
def score(
    out: Annotated[Path, typer.Option("--out", help="Output directory (replaced atomically).")],
    data: Annotated[Path | None, typer.Option(
        "--data", help="Extract directory (children.*, events.*). Default: simulate the council in the config.")
                    ] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="As-of date, a month end (YYYY-MM-DD). Default: the month end on or before the extract's "
                        "last date.")] = None,
    alias: Annotated[str, typer.Option("--alias", help="Registered model alias (or version number).")] = "champion",
    previous: Annotated[Path | None, typer.Option(
        "--previous", help="An earlier `upstream score` output: lists then say what changed.")] = None,
    explain_all: Annotated[bool, typer.Option(
        "--explain-all", help="SHAP for every child, not only the children of listed families.")] = False,
    cluster: ClusterOption = None,
    workers: WorkersOption = None,
    config: ConfigOption = None,
) -> None:
    """Score the cohort with the model behind an alias; write explained lists per hub and locality insight."""
    from serving.scoring import run_score, summary

    cfg = _config(config)
    # the default data source: the council the config describes, simulated only once the other flags are checked
    source = data if data is not None else (lambda: _simulated(cfg)[0])
    with _dask(cluster, workers) as client:
        scorer = None
        if client is not None:
            from serving.distributed import DaskScorer

            scorer = DaskScorer(client)
        result = run_score(cfg, out=out, data=source, as_of=_parse_date(as_of, "--as-of"), alias=alias,
                           previous=previous, explain_all=explain_all, log=lambda msg: typer.echo(msg, err=True),
                           scorer=scorer)
    typer.echo(summary(result, out))


@app.command()
def monitor(
    out: Annotated[Path, typer.Option("--out", help="Directory for monitor.json, monitor.html and charts (kept "
                                                    "between runs: it holds the trend and past runs' scores).")],
    scores: Annotated[Path | None, typer.Option(
        "--scores", help="The `upstream score` output to monitor (default: serving.scores_dir).")] = None,
    data: Annotated[Path | None, typer.Option(
        "--data", help="The extract (children.*, events.*). Default: simulate the council in the config.")] = None,
    alias: Annotated[str, typer.Option(
        "--alias", help="Model alias, used when the scores' manifest names no version.")] = "champion",
    past: Annotated[list[Path] | None, typer.Option(
        "--past", help="An earlier `upstream score` output to judge once its horizon has closed; repeat.")] = None,
    council: CouncilOption = None,
    config: ConfigOption = None,
) -> None:
    """Monitor a scoring run: feed health, drift, matured outcomes, decisions, fairness. Exit 1 on an alert."""
    import features
    from governance.monitoring import decisions_frame, exit_code, run_monitor, summary

    region = _config(config)
    cfg = _one_council(region, council)
    scores_dir = _council_dir(scores if scores is not None else Path(region.serving.scores_dir), council)
    past = [_council_dir(p, council) for p in past or []]
    if council is not None and data is None:
        raise UpstreamError("--council needs --data: the region's extract, of which the council's part is monitored")
    if not (scores_dir / "scores.parquet").is_file():
        raise UpstreamError(f"--scores {scores_dir}: no scores.parquet (run `upstream score --out {scores_dir}`)")
    if data is not None and not data.is_dir():
        raise UpstreamError(f"--data {data}: no such directory")
    for p in past or []:
        if not (p / "scores.parquet").is_file():
            raise UpstreamError(f"--past {p}: no scores.parquet")
    # the default data source: the council the config describes, simulated once the other flags are checked
    extract = _simulated(cfg)[0] if data is None else features.load_extract(data, hubs=region.contract_hubs)
    if council is not None:
        extract = extract.council(council)
    decisions = None
    try:
        from serving.web.data import Store

        decisions = decisions_frame(Store(cfg.serving.database_url).all_decisions())
    except Exception as exc:  # the serving database is optional here: monitoring runs without it
        typer.echo(f"decisions: not read ({type(exc).__name__}: {exc})", err=True)
    result = run_monitor(cfg, scores_dir=scores_dir, extract=extract, out=out, alias=alias, past=past or [],
                         decisions=decisions, log=lambda msg: typer.echo(msg, err=True))
    typer.echo(summary(result, out))
    raise typer.Exit(exit_code(result))


@app.command("features")
def features_cmd(
    data: Annotated[Path, typer.Option("--data", help="Extract directory (children.*, events.*).")],
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write the feature table to.")],
    as_of: Annotated[list[str] | None, typer.Option(
        "--as-of", help="A month-end as-of date (YYYY-MM-DD); repeat for several.")] = None,
    from_date: Annotated[str | None, typer.Option("--from", help="First as-of date of a grid.")] = None,
    to_date: Annotated[str | None, typer.Option("--to", help="Last as-of date of a grid.")] = None,
    every: Annotated[str | None, typer.Option("--every", help="Grid step in months, e.g. 3M.")] = None,
    extract_date: Annotated[str | None, typer.Option(
        help="The extract's date (YYYY-MM-DD): validation cut-off and label horizon limit. "
             "Default: the latest date in the extract.")] = None,
    cluster: ClusterOption = None,
    workers: WorkersOption = None,
    scenario: Annotated[str | None, typer.Option(
        "--scenario", help="Data-sharing scenario (config data_sharing.scenarios): only the event types its "
                           "agreements provide. Default: every event type.")] = None,
    config: ConfigOption = None,
) -> None:
    """Build the point-in-time feature table: one row per child in the cohort per as-of date, with labels."""
    from core.io import write_parquet
    from features import build_features, feature_columns, load_extract
    from features.scenario import restrict
    from features.timeline import parse_every, resolve_as_of

    cfg = _config(config)
    if cluster is not None and workers is not None:
        raise UpstreamError("give either --cluster ADDRESS or --workers N, not both")  # before loading anything
    if scenario is not None:
        cfg.data_sharing.event_types(scenario)  # an unknown name is refused before loading anything
    ext_date = _parse_date(extract_date, "--extract-date")
    dates = [_parse_date(d, "--as-of") for d in as_of or []]
    extract = load_extract(data, hubs=cfg.contract_hubs, extract_date=ext_date)
    if scenario is not None:
        ext_date = ext_date if ext_date is not None else extract.last_date  # not moved by what the scenario drops
        extract = restrict(extract, cfg, scenario)
    as_of_dates = resolve_as_of(extract, cfg, as_of=dates, start=_parse_date(from_date, "--from"),
                                end=_parse_date(to_date, "--to"), every_months=parse_every(every),
                                extract_date=ext_date)
    with _dask(cluster, workers) as client:
        if client is not None:
            from features.distributed import build_features_dask

            table = build_features_dask(extract, as_of_dates, cfg, client=client, extract_date=ext_date)
        else:
            table = build_features(extract, as_of_dates, cfg, extract_date=ext_date)
    write_parquet(table, out)
    labelled = table["label"].notna()
    typer.echo(f"{len(table):,} rows ({table['child_id'].nunique():,} children) x "
               f"{len(feature_columns(cfg))} features at {len(as_of_dates)} as-of dates "
               f"({as_of_dates[0]:%Y-%m-%d} to {as_of_dates[-1]:%Y-%m-%d})")
    typer.echo(f"labels ({cfg.outcome.event_type} within {cfg.outcome.horizon_months} months): "
               f"{int(labelled.sum()):,} observed, {int(table['label'].sum()):,} positive, "
               f"{int((~labelled).sum()):,} not yet observed")
    typer.echo(f"written to {out}")


@app.command()
def impact(
    out: Annotated[Path, typer.Option("--out", help="Directory for impact.json, impact.csv, impact.html and charts "
                                                    "(replaced atomically).")],
    policy: Annotated[list[str] | None, typer.Option(
        "--policy", help="model, rule, random or none (repeat; default all four). `none` is always run: it is "
                         "what the others are compared with.")] = None,
    effect: Annotated[list[float] | None, typer.Option(
        "--effect", help="Relative reduction in the monthly care-entry hazard of accepted families, 0..1 (repeat; "
                         "default 0, 0.15, 0.32: docs/impact.md gives the sources).")] = None,
    uptake: Annotated[float, typer.Option(help="Chance a family offered early help accepts it.")] = 0.6,
    months: Annotated[int, typer.Option(help="Months simulated forward from the start.")] = 36,
    seeds: Annotated[int, typer.Option(help="Futures simulated per policy and effect (intervals over them).")] = 3,
    capacity: Annotated[list[float] | None, typer.Option(
        "--capacity", help="Hub-capacity multipliers for the capacity curve, model and rule at the largest effect "
                           "(repeat; default 0.5, 1, 2; give 1 alone to skip the curve).")] = None,
    start: Annotated[str | None, typer.Option(
        help="YYYY-MM: the month whose end gives the first lists (default and earliest: config simulation.end, "
             "the end of the records the model was trained on).")] = None,
    alias: Annotated[str | None, typer.Option(
        "--alias", help="Registered model alias or version for the model policy. Default: champion, or the "
                        "challenger (said so) when no version is champion yet.")] = None,
    config: ConfigOption = None,
) -> None:
    """What acting on the lists would change: a counterfactual simulation on the simulated council (docs/impact.md)."""
    from impact import DEFAULT_CAPACITY_CURVE, POLICIES, ImpactSettings, run_study
    from impact._report import write_impact
    from impact._study import effects_of

    cfg = _config(config)
    policies = tuple(dict.fromkeys(policy)) if policy else POLICIES
    settings = ImpactSettings(policies=policies, effects=effects_of(effect), uptake=uptake, months=months,
                              seeds=seeds, curve=tuple(dict.fromkeys(capacity)) if capacity else DEFAULT_CAPACITY_CURVE
                              ).check()
    model = None
    if "model" in policies:
        model = _impact_model(cfg, alias)
    study = run_study(cfg, model, settings, start=start, log=lambda msg: typer.echo(msg, err=True))
    body = write_impact(study, out, cfg)
    for row in body["summary"]:
        if row["policy"] == "none" or row["capacity"] != 1.0:
            continue
        lo, hi = row["averted_low"], row["averted_high"]
        interval = f" ({lo:.1f} to {hi:.1f})" if lo is not None else ""
        per100 = row["averted_per_100_offers"]
        typer.echo(f"{row['policy']:<6} effect {row['effect']:.2f}: {row['averted']:.1f}{interval} entries to care "
                   f"averted over {months} months, {per100:.2f} per 100 offers ({row['offers']:.0f} offers); "
                   f"expected to be prevented directly {row['expected_averted']:.1f}")
    if seeds < 2:
        # one future per policy: the realised difference has no interval and is dominated by diverging futures
        typer.echo("one seed: the realised differences above are one draw (no interval; they can be negative by "
                   "chance); the direct measure is the steadier one; use --seeds 3 or more (docs/impact.md)")
    typer.echo(f"written to {out}")


def _impact_model(cfg: Config, alias: str | None):  # -> RiskModel
    from serving.scoring import load_model

    if alias is not None:
        return load_model(cfg, alias=alias)
    try:
        return load_model(cfg, alias="champion")
    except UpstreamError as exc:
        typer.echo(f"impact: no usable champion ({exc}); using the challenger", err=True)
        return load_model(cfg, alias="challenger")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default: serving.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serving.port).")] = None,
    council: CouncilOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the web API and pages (champion model, latest scored lists, audit log). Decision support only."""
    from serving.web.app import run

    region = _config(config)
    cfg = _one_council(region, council)
    if council is not None:  # a council's own service: its lists only (identifiable lists never leave a council)
        scores = _council_dir(Path(region.serving.scores_dir), council)
        cfg = cfg.model_copy(update={"serving": cfg.serving.model_copy(update={"scores_dir": str(scores)})})
    run(cfg, host=host, port=port)


users_app = typer.Typer(help="Users of the web service and their access tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="A unique user name.")],
    role: Annotated[str, typer.Option(help="hub_lead, governance, data_scientist or admin.")],
    hub: Annotated[str | None, typer.Option(help="The hub a hub_lead is bound to.")] = None,
    config: ConfigOption = None,
) -> None:
    """Create a user and print their token once (only its hash is stored)."""
    cfg = _config(config)
    token = _store(cfg).add_user(name, role, hub=hub, hubs=cfg.council.hub_names)
    typer.echo(f"user '{name}' ({role}{', ' + hub if hub else ''}) created; the token expires in "
               f"{cfg.security.token_days} days. Token (shown once, keep it secret):")
    typer.echo(token)


def _store(cfg: Config):  # -> serving.web.data.Store
    from serving.web.data import Store

    return Store(cfg.serving.database_url, token_days=cfg.security.token_days)


@users_app.command("list")
def users_list(config: ConfigOption = None) -> None:
    """Every user: role, hub, status (active, expired, revoked), dates and token fingerprint. No secrets."""
    rows = _store(_config(config)).list_users()
    if not rows:
        typer.echo("no users")
        return
    cols = ["name", "role", "hub", "status", "created", "expires", "token"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    typer.echo("  ".join(c.ljust(widths[c]) for c in cols).rstrip())
    for r in rows:
        typer.echo("  ".join(str(r[c]).ljust(widths[c]) for c in cols).rstrip())


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Argument(help="The user whose token stops working now.")],
                 config: ConfigOption = None) -> None:
    """Revoke a user's token at once (their signed-in browser sessions end too)."""
    _store(_config(config)).revoke_user(name)
    typer.echo(f"user '{name}' revoked: their token and sessions no longer work")


@users_app.command("rotate")
def users_rotate(name: Annotated[str, typer.Argument(help="The user who gets a new token.")],
                 config: ConfigOption = None) -> None:
    """Give a user a new token (printed once); the old one stops working and their sessions end."""
    cfg = _config(config)
    token = _store(cfg).rotate_token(name)
    typer.echo(f"user '{name}': new token, expires in {cfg.security.token_days} days "
               "(shown once, keep it secret; the old one no longer works):")
    typer.echo(token)


audit_app = typer.Typer(help="The append-only audit log of identifiable reads.", no_args_is_help=True)
app.add_typer(audit_app, name="audit-log")


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option("--out", help="File to write: .csv, or .jsonl for JSON lines (its folder "
                                                    "must exist).")],
    format: Annotated[str | None, typer.Option("--format", help="csv or jsonl (default: from --out).")] = None,
    config: ConfigOption = None,
) -> None:
    """Write the whole audit log (user, time, endpoint, ids returned) for an information-governance officer."""
    n = _store(_config(config)).export_audit(out, fmt=format)
    typer.echo(f"{n:,} audit entries written to {out}")


@audit_app.command("verify")
def audit_verify(config: ConfigOption = None) -> None:
    """Check the audit log's hash chain; exit 1 naming the first broken row if it was altered or cut."""
    store = _store(_config(config))
    check = store.verify_audit()
    for warning in store.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if not check.ok:
        typer.echo(f"upstream: error: {check.text()}", err=True)
        raise typer.Exit(1)
    typer.echo(check.text())


def main() -> None:
    """Console-script entry point: user mistakes end in one clear line and a non-zero exit."""
    # Everything this process writes (lists, scores, the serving database, MLflow artifacts) is identifiable or
    # derived from identifiable rows: files 0600 and folders 0700, whichever library creates them.
    os.umask(0o077)
    try:
        rc = app(standalone_mode=False)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except UpstreamError as exc:
        if _state["verbose"]:
            traceback.print_exc()
        typer.echo(f"upstream: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug, not a user mistake: still one line unless --verbose
        if _state["verbose"]:
            traceback.print_exc()
        typer.echo(f"upstream: internal error: {type(exc).__name__}: {exc} (rerun with --verbose for details)",
                   err=True)
        sys.exit(1)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
