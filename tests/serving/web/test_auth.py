"""Roles and scopes: who may see identifiable rows, which hub, aggregates, decisions."""

from __future__ import annotations

from serving.web.auth import Principal, hash_token, new_token


def test_tokens_random_and_hash_stable() -> None:
    a, b = new_token(), new_token()
    assert a != b and len(a) >= 43
    assert hash_token(a) == hash_token(a) and len(hash_token(a)) == 64


def test_scopes() -> None:
    lead = Principal("l", "hub_lead", "Northfield")
    gov, ds, admin = Principal("g", "governance"), Principal("d", "data_scientist"), Principal("a", "admin")
    assert lead.can_see_hub("Northfield") and not lead.can_see_hub("Riverside")
    assert not gov.can_see_hub("Northfield") and not gov.can_read_identifiable()
    assert ds.can_see_hub("Riverside") and admin.can_see_hub("Northfield")
    assert gov.can_read_aggregates() and ds.can_read_aggregates() and not lead.can_read_aggregates()
    assert lead.can_decide("Northfield") and not lead.can_decide("Riverside")
    assert not any(p.can_decide("Northfield") for p in (gov, ds, admin))
