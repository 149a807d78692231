"""Access control: random bearer tokens stored only as hashes, the four roles, and who may see what.

Tokens are 256 bits from `secrets.token_urlsafe`. A plain SHA-256 of such a token is safe to store: slow
password hashes (bcrypt, argon2) exist to resist guessing low-entropy human passwords, and nobody can guess
2^256 possibilities, so a fast hash costs nothing in safety and lets every request look its user up by index.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

HUB_LEAD, GOVERNANCE, DATA_SCIENTIST, ADMIN = "hub_lead", "governance", "data_scientist", "admin"
ROLES = (HUB_LEAD, GOVERNANCE, DATA_SCIENTIST, ADMIN)
# Roles that may read identifiable rows (child_id / family_id); every such read is audit-logged.
IDENTIFIABLE_ROLES = frozenset({HUB_LEAD, DATA_SCIENTIST, ADMIN})
# Roles that may read governance aggregates.
AGGREGATE_ROLES = frozenset({GOVERNANCE, DATA_SCIENTIST, ADMIN})
# Only practitioners record decisions on a family.
DECISION_ROLES = frozenset({HUB_LEAD})
TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def fingerprint(token: str) -> str:
    """A token's first 12 hex digits of its hash: names a presented token in the security log and `users list`
    without being usable as a credential."""
    return hash_token(token)[:12]


@dataclass(frozen=True)
class Principal:
    """The user behind a request."""

    name: str
    role: str
    hub: str | None = None

    def can_read_identifiable(self) -> bool:
        return self.role in IDENTIFIABLE_ROLES

    def can_see_hub(self, hub: str) -> bool:
        """Identifiable rows of this hub: a hub lead only their own hub; data scientists and admins any hub."""
        if not self.can_read_identifiable():
            return False
        return self.role != HUB_LEAD or self.hub == hub

    def can_decide(self, hub: str) -> bool:
        return self.role in DECISION_ROLES and self.hub == hub

    def can_read_aggregates(self) -> bool:
        return self.role in AGGREGATE_ROLES


class AccessDenied(Exception):
    """Authenticated, but outside the user's scope: answered with 403."""


class NotAuthenticated(Exception):
    """No token, or a token no user holds: answered with 401."""
