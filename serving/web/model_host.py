"""The champion model in a running service: loading it, and hot reload when the `champion` alias moves.

A background thread asks the registry every `reload_interval_seconds` which version the alias points at.
On a change it loads the new version off to the side while requests keep using the old one, then swaps a
single reference (an atomic assignment under the GIL), so no request ever sees half a model. If loading
fails, the old model keeps serving and readiness reports the error; a version that failed its load check is
not tried again for `RETRY_UNLOADABLE_SECONDS` unless the alias moves.

A model is proven loadable in a child process before this process loads it (`training.loadcheck`): a
malformed booster.txt makes LightGBM abort whatever process loads it, and that must be the child, never the
service. If the champion cannot be loaded at start-up, the service falls back to the last version that
loaded here (remembered in the serving database) and says so in /health/ready (`fallback`).
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from training.model import RiskModel

log = logging.getLogger("upstream.serving")

# Artifacts of the audited run shown to users when present (`upstream audit` writes model_card.md and audit.json).
CARD_NAMES = ("model_card.md",)
AUDIT_NAMES = ("audit.json",)
CHART_SUFFIX = ".png"
# A version that failed its load check in a child process is not tried again for this long (unless the alias moves).
RETRY_UNLOADABLE_SECONDS = 600.0


@dataclass(frozen=True)
class Champion:
    """The version being served: the model itself and what users are shown about it.

    Parameters
    ----------
    model : RiskModel
        Predicts and explains; carries its registry provenance (name, version, run id, tags).
    metrics : dict
        Key test metrics of its training run.
    model_card : str or None
        The model card (Markdown), if the version was audited.
    audit : dict or None
        The fairness audit.json, if the version was audited.
    charts : dict
        Fairness chart name -> local PNG.
    loaded_at : str
        When this process loaded it (UTC, ISO 8601).
    """

    model: RiskModel
    metrics: dict[str, float] = field(default_factory=dict)
    model_card: str | None = None
    audit: dict | None = None
    charts: dict[str, Path] = field(default_factory=dict)
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def version(self) -> str:
        return str(self.model.version)


class ModelUnloadable(Exception):
    """The version failed its load check in a child process (checksums, load, smoke prediction)."""


class ChampionLoader(Protocol):
    """Where models come from: the registry in production, a fake in tests."""

    def champion_version(self) -> str | None:
        """The version the champion alias points at now (None if there is no champion)."""

    def load(self, version: str) -> Champion:
        """Load that version completely, or raise."""


class MlflowChampionLoader:
    """`models:/<registered_name>@champion` from the MLflow registry, via training's registry loader."""

    def __init__(self, name: str = "upstream-risk", *, tracking_uri: str | None = None,
                 cache_dir: str | Path | None = None) -> None:
        self.name, self.tracking_uri = name, tracking_uri
        self.cache_dir = Path(cache_dir or tempfile.mkdtemp(prefix="upstream-serve-"))

    def champion_version(self) -> str | None:
        from mlflow.exceptions import MlflowException

        from training.tracking import CHAMPION, using_store

        with using_store(self.tracking_uri) as client:
            try:
                return str(client.get_model_version_by_alias(self.name, CHAMPION).version)
            except MlflowException:
                return None

    def load(self, version: str) -> Champion:
        from training.loadcheck import check_loadable
        from training.registry import KEY_METRICS, load_version
        from training.tracking import using_store

        check = check_loadable(version, name=self.name, tracking_uri=self.tracking_uri)  # a crash kills the child
        if not check.ok:
            raise ModelUnloadable(check.detail)
        model = load_version(version, name=self.name, tracking_uri=self.tracking_uri)
        metrics: dict[str, float] = {}
        card = audit = None
        charts: dict[str, Path] = {}
        with using_store(self.tracking_uri) as client:
            if model.run_id:
                run_metrics = client.get_run(model.run_id).data.metrics
                metrics = {k: float(run_metrics[m]) for k, m in KEY_METRICS.items() if m in run_metrics}
                card, audit, charts = self._extras(client, model.run_id, version)
        return Champion(model=model, metrics=metrics, model_card=card, audit=audit, charts=charts)

    def _extras(self, client: Any, run_id: str, version: str) -> tuple[str | None, dict | None, dict[str, Path]]:
        """The model card, audit.json and fairness charts among the run's artifacts (best effort)."""
        wanted: list[str] = []
        stack, seen = [""], 0
        while stack and seen < 200:  # bounded walk: a run holds a few dozen artifacts
            path = stack.pop()
            for info in client.list_artifacts(run_id, path or None):
                seen += 1
                base = info.path.rsplit("/", 1)[-1]
                if info.is_dir:
                    if base not in ("model", "predictions"):
                        stack.append(info.path)
                elif base in CARD_NAMES or base in AUDIT_NAMES or (
                        base.endswith(CHART_SUFFIX) and ("fairness" in info.path or "audit" in info.path)):
                    wanted.append(info.path)
        card = audit = None
        charts: dict[str, Path] = {}
        dest = self.cache_dir / f"v{version}"
        for path in wanted:
            local = Path(client.download_artifacts(run_id, path, str(dest)))
            base = local.name
            if base in CARD_NAMES and card is None:
                card = local.read_text(encoding="utf-8")
            elif base in AUDIT_NAMES and audit is None:
                audit = json.loads(local.read_text(encoding="utf-8"))
            elif base.endswith(CHART_SUFFIX):
                charts[local.stem] = local
        return card, audit, charts


@dataclass(frozen=True)
class HostStatus:
    version: str | None
    loaded_at: str | None
    last_check: str | None
    error: str | None  # the last failed load (the old model, if any, keeps serving)
    failed_version: str | None
    fallback: str | None = None  # serving an older version because the champion cannot load


class ModelHost:
    """Holds the current model and swaps it when the champion alias moves.

    `remember(version)` is called after every successful load and `last_loaded()` gives the version to fall
    back to at start-up (the service keeps it in its database)."""

    def __init__(self, loader: ChampionLoader, *, interval_seconds: float = 30.0,
                 remember: Callable[[str], None] | None = None,
                 last_loaded: Callable[[], str | None] | None = None) -> None:
        self.loader, self.interval = loader, float(interval_seconds)
        self.remember, self.last_loaded = remember, last_loaded
        self._champion: Champion | None = None
        self._error: str | None = None
        self._failed_version: str | None = None
        self._fallback: str | None = None
        self._retry_after = 0.0
        self._last_check: str | None = None
        self._lock = threading.Lock()  # one reload at a time; readers never take it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def champion(self) -> Champion | None:
        return self._champion  # a single reference read: always a whole model

    def status(self) -> HostStatus:
        m = self._champion
        return HostStatus(version=m.version if m else None, loaded_at=m.loaded_at if m else None,
                          last_check=self._last_check, error=self._error, failed_version=self._failed_version,
                          fallback=self._fallback)

    def check(self) -> bool:
        """Ask the registry once; load and swap if the champion moved. Returns True if the model changed."""
        with self._lock:
            self._last_check = datetime.now(UTC).isoformat(timespec="seconds")
            try:
                version = self.loader.champion_version()
            except Exception as exc:  # registry unreachable: keep serving what we have
                self._error = f"cannot reach the model registry: {type(exc).__name__}: {exc}"
                log.warning(self._error)
                return False
            if version is None:
                if self._champion is None:
                    self._error = "no champion model registered"
                return False
            current = self._champion.version if self._champion else None
            if version == current:
                self._error = self._failed_version = self._fallback = None
                return False
            if version == self._failed_version and time.monotonic() < self._retry_after:
                return False  # failed its load check: not again for a while (each try costs a child process)
            try:
                new = self.loader.load(version)  # off to the side: requests still use the old model
            except Exception as exc:
                self._failed_version = version
                # a model that failed its check in the child is bad until the alias moves; anything else may be
                # passing (a registry hiccup), tried again at the next poll
                unloadable = isinstance(exc, ModelUnloadable)
                self._retry_after = time.monotonic() + (RETRY_UNLOADABLE_SECONDS if unloadable else 0.0)
                reason = str(exc)[:300] if unloadable else f"{type(exc).__name__}: {str(exc)[:300]}"
                self._error = f"version {version} failed to load: {reason}"
                log.error("hot reload: %s; still serving version %s", self._error, current)
                if self._champion is None:
                    self._fall_back(version)
                return False
            self._swap(new, was=current)
            return True

    def _swap(self, new: Champion, *, was: str | None) -> None:
        self._champion = new  # the swap
        self._error = self._failed_version = self._fallback = None
        log.info("now serving version %s (was %s)", new.version, was)
        if self.remember is not None:
            try:
                self.remember(new.version)
            except Exception:  # the model serves even if the note cannot be written
                log.exception("cannot record the loaded version")

    def _fall_back(self, failed: str) -> None:
        """At start-up, with no model at all: serve the last version that loaded here, if it still does."""
        previous = self.last_loaded() if self.last_loaded is not None else None
        if previous is None or previous == failed:
            return
        try:
            champion = self.loader.load(previous)
        except Exception as exc:
            log.error("fallback to version %s failed too: %s", previous, str(exc)[:300])
            return
        self._champion = champion
        self._fallback = (f"the champion (version {failed}) cannot be loaded; serving version {previous}, "
                          "the last version that loaded")
        log.critical(self._fallback)

    def start(self) -> None:
        """Load now (without failing if there is no model yet) and poll in a daemon thread."""
        self.check()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="upstream-model-reload", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # never let the poller die
                log.exception("hot reload check failed")

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


class StaticLoader:
    """A loader for one in-memory model (tests, benchmarks): never moves."""

    def __init__(self, champion: Champion) -> None:
        self._champion = champion

    def champion_version(self) -> str | None:
        return self._champion.version

    def load(self, version: str) -> Champion:
        return self._champion


def wait_for(predicate: Any, timeout: float = 5.0, step: float = 0.02) -> bool:
    """Poll a condition (test helper for the reload thread)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
