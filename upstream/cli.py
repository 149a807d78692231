"""The `upstream` command: one subcommand per job; it parses arguments and calls library functions."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated

import click
import typer

from upstream.config import Config, load_config
from upstream.errors import UpstreamError

app = typer.Typer(
    name="upstream",
    help="Risk prediction for children's services. Decision support only: a practitioner decides.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state = {"verbose": False}

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML config (default: configs/default.yaml).")
]


@app.callback()
def _root(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on error.")] = False
          ) -> None:
    _state["verbose"] = verbose


def _config(path: Path | None) -> Config:
    return load_config(path)


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
    report = validate_extract(directory, hubs=cfg.council.hub_names,
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


def main() -> None:
    """Console-script entry point: user mistakes end in one clear line and a non-zero exit."""
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
