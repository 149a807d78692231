"""Hub lists and family detail: scope checks, assembly from the scores, and what they show for the audit log."""

from __future__ import annotations

from serving.web.api.errors import NotFound, OutOfScope
from serving.web.api.families.schemas import (
    ChildBrief,
    ChildDetail,
    Contribution,
    DecisionOut,
    FamilyDetail,
    HubList,
    ListedFamily,
)
from serving.web.audit import Disclosure
from serving.web.auth import AccessDenied, Principal
from serving.web.data import DecisionRecord, Family, Scores, Store, child_summary, explanation_rows


def decision_out(d: DecisionRecord) -> DecisionOut:
    return DecisionOut(at=d.at, user=d.user_name, decision=d.decision, reason=d.reason,
                       model_version=d.model_version, as_of=d.as_of)


def what_changed(f: Family) -> str:
    from serving.lists import change_text

    try:
        return change_text(f.changes, f.family_risk) if f.changes else ""
    except (KeyError, TypeError, ValueError):
        return ""


def check_hub(user: Principal, hub: str, hubs: tuple[str, ...]) -> None:
    if hub not in hubs:
        raise NotFound("hub", f"hub: '{hub}' is not a hub in the config")
    if not user.can_see_hub(hub):
        raise AccessDenied(f"a hub lead for {user.hub} cannot see {hub}'s families")


def find_family(user: Principal, scores: Scores, family_id: str) -> Family:
    """The family, if this user may see it. Another hub's family gets the same 404 and words as an unknown id
    (a hub lead must not learn which ids exist elsewhere); only the security log tells them apart."""
    if not user.can_read_identifiable():
        raise AccessDenied(f"a {user.role} user sees aggregates only, never identifiable rows")
    family = scores.families.get(family_id)
    message = f"family_id: '{family_id}' is not among the families you can see in the current scores"
    if family is None:
        raise NotFound("family_id", message)
    if not user.can_see_hub(family.hub):
        raise OutOfScope("family_id", message)
    return family


def hub_list(scores: Scores, store: Store, hub: str, disclosed: Disclosure, *, limit: int | None = None) -> HubList:
    """The hub's listed families in rank order, with their latest decisions.

    Parameters
    ----------
    scores : Scores
        The current scoring output: its lists.
    store : Store
        The serving database: each family's latest decision.
    hub : str
        A hub the caller may see (checked by `check_hub`).
    disclosed : Disclosure
        The request's audit record: the families and children listed are added to it.
    limit : int or None
        At most this many families.

    Returns
    -------
    HubList
        The API's answer.
    """
    families = scores.by_hub.get(hub, [])[:limit]
    latest = store.decisions_for([f.family_id for f in families])
    out = [ListedFamily(rank=f.rank_in_hub, family_id=f.family_id, family_risk=f.family_risk, band=f.band,
                        previously_known=f.previously_known,
                        children=[ChildBrief(**{k: child_summary(scores, c)[k] for k in ("child_id", "age_years",
                                                                                          "probability")})
                                  for c in f.children],
                        reasons=f.reasons, protective=f.protective, changes=f.changes, what_changed=what_changed(f),
                        latest_decision=decision_out(latest[f.family_id][0]) if latest[f.family_id] else None)
           for f in families]
    disclosed.show(family_ids=[f.family_id for f in out], child_ids=[c.child_id for f in out for c in f.children])
    return HubList(hub=hub, as_of=scores.as_of, model_version=scores.model_version, families=out)


def family_detail(scores: Scores, store: Store, family: Family, disclosed: Disclosure, *, chart_url: str | None
                  ) -> FamilyDetail:
    """One family with its children's largest contributions and the decisions recorded on it.

    Parameters
    ----------
    scores : Scores
        The current scoring output: its explanations and charts.
    store : Store
        The serving database: every decision on the family.
    family : Family
        A family the caller may see (from `find_family`).
    disclosed : Disclosure
        The request's audit record: the family and its children are added to it.
    chart_url : str or None
        Where its waterfall chart is served, shown only if the chart exists.

    Returns
    -------
    FamilyDetail
        The API's answer.
    """
    children = [ChildDetail(**child_summary(scores, c),
                            explanations=[Contribution(**e) for e in explanation_rows(scores, str(c.get("child_id")))])
                for c in family.children]
    decisions = [decision_out(d) for d in store.decisions_for([family.family_id])[family.family_id]]
    disclosed.show(family_ids=[family.family_id], child_ids=[c.child_id for c in children])
    return FamilyDetail(family_id=family.family_id, hub=family.hub, as_of=scores.as_of,
                        model_version=scores.model_version, family_risk=family.family_risk, band=family.band,
                        rank_in_hub=family.rank_in_hub, listed=family.listed, previously_known=family.previously_known,
                        reasons=family.reasons, protective=family.protective, changes=family.changes,
                        what_changed=what_changed(family), children=children, decisions=decisions,
                        chart_url=chart_url if scores.chart_path(family) else None)
