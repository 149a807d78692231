"""The governance page and API show the latest monitoring report; hub leads see nothing of it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from fastapi.testclient import TestClient

from core.config import Config
from serving.web.app import create_app
from serving.web.data import ScoresRepository
from serving.web.model_host import ModelHost, StaticLoader
from tests.serving.web.conftest import hosted, make_store
from training.model import RiskModel

REPORT = {
    "status": "alert", "generated_at": "2017-04-02T08:00:00Z", "scores": {"as_of": "2017-03-31"},
    "model": {"version": "7"},
    "alerts": [{"kind": "feed_missing", "message": "domestic_abuse_notification: no records in the latest 2 months"}],
    "trend": [{"as_of": "2016-12-31", "model_version": "7", "status": "ok", "alerts": 0, "score_psi": 0.01,
               "max_input_psi": 0.02},
              {"as_of": "2017-03-31", "model_version": "7", "status": "alert", "alerts": 1, "score_psi": 0.02,
               "max_input_psi": 0.61}],
    "drift": {"score": {"psi": 0.02}, "top_movers": [{"label": "police domestic abuse notifications, last 6 months",
                                                      "psi": 0.61, "band": "alert"}]},
    "feed": {"late_months": []}, "outcomes": {"runs": [], "waiting": ["2017-03-31"]},
    "decisions": {"matured": 0, "pending": 0, "rows": None, "warning": "Not a causal estimate."},
}


@pytest.fixture
def client(tmp_path: Path, s_config: Config, s_model: RiskModel, scores_dir: Path):
    report_dir = tmp_path / "monitor"
    (report_dir / "charts").mkdir(parents=True)
    (report_dir / "monitor.json").write_text(json.dumps(REPORT))
    fig, _ = plt.subplots()
    fig.savefig(report_dir / "charts" / "trend.png")
    plt.close(fig)
    config = s_config.model_copy(update={"monitoring": s_config.monitoring.model_copy(
        update={"report_dir": str(report_dir)})})
    store, tokens = make_store(f"sqlite:///{tmp_path / 'serve.db'}", config)
    host = ModelHost(StaticLoader(hosted(s_model)), interval_seconds=3600)
    host.check()
    app = create_app(config, store=store, host=host, scores=ScoresRepository(scores_dir), start_reload=False)
    with TestClient(app) as c:
        c.tokens = tokens  # type: ignore[attr-defined]
        yield c


def _sign_in(c: TestClient, token: str) -> None:
    page = c.get("/signin")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert c.post("/signin", data={"token": token, "csrf_token": csrf}, follow_redirects=False).status_code == 303


def test_governance_sees_status_alerts_and_trend(client: TestClient) -> None:
    summary = client.get("/api/governance/summary", headers={"Authorization": f"Bearer {client.tokens['gov']}"})
    assert summary.status_code == 200
    mon = summary.json()["monitoring"]
    assert mon["status"] == "alert" and mon["alerts"][0]["kind"] == "feed_missing" and len(mon["trend"]) == 2
    assert mon["charts"] == ["trend"]
    _sign_in(client, client.tokens["gov"])
    page = client.get("/governance")
    assert page.status_code == 200
    assert "Monitoring" in page.text and "ALERT" in page.text and "domestic_abuse_notification" in page.text
    assert "2016-12-31" in page.text  # the trend
    assert client.get("/governance/monitoring/trend.png").content[:4] == b"\x89PNG"
    assert client.get("/governance/monitoring/..%2Fmonitor.png").status_code == 404


def test_hub_leads_see_nothing_of_monitoring(client: TestClient) -> None:
    api = client.get("/api/governance/summary", headers={"Authorization": f"Bearer {client.tokens['lead_north']}"})
    assert api.status_code == 403 and "domestic_abuse" not in api.text
    _sign_in(client, client.tokens["lead_north"])
    for path in ("/governance", "/governance/monitoring/trend.png"):
        r = client.get(path)
        assert r.status_code == 403 and "feed_missing" not in r.text and r.content[:4] != b"\x89PNG"
    for path in ("/", "/hubs/Northfield"):
        r = client.get(path)
        assert r.status_code == 200 and "Monitoring" not in r.text and "feed_missing" not in r.text


def test_no_report_yet(tmp_path: Path) -> None:
    from serving.web.api.governance.monitoring import chart_path, monitoring_summary

    assert monitoring_summary(tmp_path) is None and chart_path(tmp_path, "trend") is None
    assert chart_path(tmp_path, "../etc/passwd") is None
