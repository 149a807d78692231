"""Property-based run of the OpenAPI spec (schemathesis): no generated request, valid or not, gets a 5xx.

Every operation is driven with schema-valid (positive) and schema-breaking (negative) cases, with a token and
without. Bounded for the default suite; `-m slow` runs a longer one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from core.config import Config, SecurityConfig
from tests.serving.web.conftest import Web, serve_web
from training.model import RiskModel

HEALTH = list(HealthCheck)


@pytest.fixture
def web(tmp_path: Path, s_config: Config, s_model: RiskModel, scores_dir: Path) -> Iterator[Web]:
    """The app without throttling: thousands of generated bad requests from one client must reach the routes,
    not a 429 from the security middleware (tested on its own in test_security_refusals.py)."""
    cfg = s_config.model_copy(update={"security": SecurityConfig(failure_limit=10**9, signin_lockout_attempts=10**9)})
    yield from serve_web(tmp_path, cfg, s_model, scores_dir)


def _checker(strategy: Any, token: dict[str, str], mode: GenerationMode, max_examples: int) -> Any:
    """A Hypothesis test over one operation's generated cases, with the token and without."""
    @given(case=strategy)
    @settings(max_examples=max_examples, deadline=None, suppress_health_check=HEALTH, derandomize=True,
              database=None)
    def check(case: Any) -> None:
        for headers in (token, None):
            response = case.call(headers=headers)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} ({mode.value}) -> {response.status_code}: "
                f"{response.text[:300]}")

    return check


def _run(web: Web, max_examples: int) -> list[str]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", web.client.app)
    checked: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        who = "lead_north" if op.path.endswith("/decisions") else "ds"
        token = {"Authorization": f"Bearer {web.tokens[who]}"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _checker(op.as_strategy(generation_mode=mode), token, mode, max_examples)()
            except Unsatisfiable:  # nothing to break: the operation takes no input
                assert mode is GenerationMode.NEGATIVE, op.path
        checked.append(f"{op.method.upper()} {op.path}")
    return checked


def test_no_server_errors(web: Web) -> None:
    checked = _run(web, max_examples=8)
    assert "POST /api/score" in checked and "POST /api/families/{family_id}/decisions" in checked


@pytest.mark.slow
def test_no_server_errors_long(web: Web) -> None:
    _run(web, max_examples=300)
