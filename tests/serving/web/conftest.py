"""Fixtures for the web service: a scored tiny council on disk, a temporary database with one user per role, the app."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.config import Config
from serving.lists import read_previous
from serving.scoring import score_cohort, write_scoring
from serving.web.app import create_app
from serving.web.data import ScoresRepository, Store
from serving.web.model_host import Champion, ModelHost, StaticLoader
from training.model import RiskModel

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "examples" / "tiny_extract"


def hosted(model: RiskModel, version: str = "7") -> Champion:
    return Champion(model=model.registered(version=version, alias="champion",
                                           tags={"fairness_verdict": "pass", "feature_set_version": "1"}),
                    metrics={"test_pr_auc": 0.31}, model_card="# Model card\nA tiny test model.")


@pytest.fixture(scope="session")
def scores_dir(tmp_path_factory: pytest.TempPathFactory, s_config: Config, s_model: RiskModel,
               s_cohort: pd.DataFrame) -> Path:
    """A real scoring output directory, written by the batch scorer, with a previous run so lists say what changed."""
    base = tmp_path_factory.mktemp("scores")
    earlier = s_cohort.copy()
    earlier["n_referral_12m"] = 0.0  # last quarter fewer referrals: some families are new to the list now
    write_scoring(score_cohort(s_model, earlier, s_config), base / "previous", s_config, charts=False)
    previous = read_previous(base / "previous")
    write_scoring(score_cohort(s_model, s_cohort, s_config, previous=previous), base / "current", s_config)
    return base / "current"


@dataclass
class Web:
    """A running test app with one token per kind of user."""

    client: TestClient
    store: Store
    host: ModelHost
    config: Config
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


USERS = {  # name -> (role, hub)
    "lead_north": ("hub_lead", "Northfield"),
    "lead_river": ("hub_lead", "Riverside"),
    "gov": ("governance", None),
    "ds": ("data_scientist", None),
    "admin": ("admin", None),
}


def make_store(url: str, config: Config) -> tuple[Store, dict[str, str]]:
    store = Store(url)
    tokens = {name: store.add_user(name, role, hub=hub, hubs=config.council.hub_names)
              for name, (role, hub) in USERS.items()}
    return store, tokens


@pytest.fixture(scope="session")
def tiny_dir() -> Path:
    return TINY


AppParts = tuple[FastAPI, Store, ModelHost, dict[str, str]]


@pytest.fixture(scope="session")
def build_app(s_config: Config, s_model: RiskModel, scores_dir: Path) -> Callable[[Path], AppParts]:
    """Make an app over a fresh database at the given path: (app, store, host, tokens by user name)."""
    def build(db: Path) -> AppParts:
        store, tokens = make_store(f"sqlite:///{db}", s_config)
        host = ModelHost(StaticLoader(hosted(s_model)), interval_seconds=3600)
        host.check()
        app = create_app(s_config, store=store, host=host, scores=ScoresRepository(scores_dir), start_reload=False)
        return app, store, host, tokens

    return build


def serve_web(tmp_path: Path, config: Config, model: RiskModel, scores: Path) -> Iterator[Web]:
    """A test app over a fresh database with another config (e.g. other security limits)."""
    store, tokens = make_store(f"sqlite:///{tmp_path / 'serve.db'}", config)
    host = ModelHost(StaticLoader(hosted(model)), interval_seconds=3600)
    host.check()
    app = create_app(config, store=store, host=host, scores=ScoresRepository(scores), start_reload=False)
    with TestClient(app) as client:
        yield Web(client=client, store=store, host=host, config=config, tokens=tokens)


@pytest.fixture
def web(tmp_path: Path, s_config: Config, build_app: Callable[[Path], AppParts]) -> Iterator[Web]:
    app, store, host, tokens = build_app(tmp_path / "serve.db")
    with TestClient(app) as client:
        yield Web(client=client, store=store, host=host, config=s_config, tokens=tokens)


@pytest.fixture(scope="session")
def tiny_family() -> Callable[[str], dict]:
    """Build /api/score request bodies from the tiny example extract."""
    return _tiny_family


def _tiny_family(family_id: str = "F01") -> dict:
    """One family of the tiny example extract as a /api/score request body."""
    def rows(name: str) -> list[dict]:
        with (TINY / f"{name}.csv").open(newline="") as fh:
            return [{k: (v if v != "" else None) for k, v in r.items()} for r in csv.DictReader(fh)
                    if r["family_id"] == family_id]

    children = rows("children")
    for c in children:
        c["deprivation_decile"] = int(c["deprivation_decile"])
    return {"children": children, "events": rows("events"), "as_of": "2016-06-30"}
