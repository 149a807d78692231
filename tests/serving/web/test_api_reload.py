"""Hot reload: the champion alias moves, the service swaps models without dropping requests; failures keep the old."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient

from serving.web.app import create_app
from serving.web.data import ScoresRepository
from serving.web.model_host import Champion, ModelHost, wait_for

Web = Any


class FakeRegistry:
    """A registry whose champion alias the test moves, and whose loads fail on demand."""

    def __init__(self, models: dict[str, Champion], champion: str) -> None:
        self.models, self.champion = models, champion
        self.fail: set[str] = set()
        self.loads: list[str] = []

    def champion_version(self) -> str | None:
        return self.champion

    def load(self, version: str) -> Champion:
        self.loads.append(version)
        if version in self.fail:
            raise OSError(f"artifact for version {version} is corrupt")
        return self.models[version]


def _models(s_model: Any) -> dict[str, Champion]:
    return {v: Champion(model=s_model.registered(version=v)) for v in ("1", "2", "3")}


def test_swap_and_failed_load_keep_serving(s_model: Any) -> None:
    reg = FakeRegistry(_models(s_model), "1")
    host = ModelHost(reg, interval_seconds=3600)
    assert host.check() and host.champion.version == "1"
    reg.champion = "2"
    assert host.check() and host.champion.version == "2"
    reg.champion, reg.fail = "3", {"3"}
    assert not host.check()
    st = host.status()
    assert host.champion.version == "2" and st.failed_version == "3" and "corrupt" in st.error
    reg.fail.clear()
    assert host.check() and host.champion.version == "3" and host.status().error is None


def test_registry_down_keeps_model(s_model: Any) -> None:
    reg = FakeRegistry(_models(s_model), "1")
    host = ModelHost(reg, interval_seconds=3600)
    host.check()

    def boom() -> str:
        raise ConnectionError("registry unreachable")

    reg.champion_version = boom  # type: ignore[method-assign]
    assert not host.check()
    assert host.champion.version == "1" and "registry" in host.status().error


def test_background_reload_under_load(tmp_path: Any, s_config: Any, s_model: Any, scores_dir: Any,
                                      tiny_family: Any) -> None:
    """Requests keep succeeding while the poller swaps versions; readiness reports a failed load."""
    from serving.web.data import Store

    reg = FakeRegistry(_models(s_model), "1")
    host = ModelHost(reg, interval_seconds=0.05)
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    token = store.add_user("ds", "data_scientist")
    app = create_app(s_config, store=store, host=host, scores=ScoresRepository(scores_dir), start_reload=True)
    statuses: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}

        def hammer() -> None:
            while not stop.is_set():
                r = client.post("/api/score", json=tiny_family("F01"), headers=headers)
                statuses.append(r.status_code)
                versions.add(r.json().get("model_version"))

        worker = threading.Thread(target=hammer)
        worker.start()
        try:
            assert wait_for(lambda: host.champion is not None and len(statuses) > 2)
            reg.champion = "2"
            assert wait_for(lambda: host.champion.version == "2" and "2" in versions)
            reg.champion, reg.fail = "3", {"3"}
            assert wait_for(lambda: host.status().failed_version == "3")
            ready = client.get("/health/ready").json()
            assert ready["ready"] and ready["model_version"] == "2" and "version 3 failed" in ready["reload_error"]
        finally:
            stop.set()
            worker.join()
    assert statuses and set(statuses) == {200}
    assert {"1", "2"} <= versions and "3" not in versions
