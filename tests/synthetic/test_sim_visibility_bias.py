"""The visibility-bias option: partner agencies see one ethnic group's families less (a known answer for the audit)."""

from __future__ import annotations

from core.config import VisibilityBias
from core.contract import ethnic_group
from synthetic import simulate
from tests.synthetic.conftest import small_config

# The partner feeds whose rate scales with a family's visibility in the mechanism (synthetic/_step.py): police
# notifications, adult services, missing episodes, health visitors. School census, A&E, youth offending and
# housing record what happens whoever is looking, and at realistic rates the school census dominates the count.
PARTNER = ("domestic_abuse_notification", "missing_episode", "health_visitor_concern", "adult_mental_health",
           "adult_substance_misuse")


def _partner_rate(council, group: str) -> float:
    """Partner-agency records per family of the group over the simulated period."""
    children = council.children.assign(group=council.children["ethnicity"].map(ethnic_group))
    families = children.groupby("family_id")["group"].agg(lambda g: g.mode().iat[0])
    events = council.events[council.events["event_type"].isin(PARTNER)]
    per_family = events.groupby("family_id").size().reindex(families.index, fill_value=0)
    return float(per_family[families == group].mean())


def test_injected_group_is_seen_less_by_partner_agencies_and_the_rest_is_unchanged() -> None:
    plain = small_config()
    biased = plain.model_copy(update={"simulation": plain.simulation.model_copy(
        update={"visibility_bias": VisibilityBias(group="Asian", factor=0.2)})})
    a = simulate(plain, children=3000, seed=5, truth=False, start="2013-04")
    b = simulate(biased, children=3000, seed=5, truth=False, start="2013-04")
    # the option draws no random numbers of its own, but fewer records change what follows (moves, care)
    assert _partner_rate(b, "Asian") < 0.75 * _partner_rate(a, "Asian")
    assert _partner_rate(b, "White") > 0.7 * _partner_rate(a, "White")


def test_no_bias_by_default() -> None:
    assert small_config().simulation.visibility_bias is None
