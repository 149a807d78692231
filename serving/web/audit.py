"""The one choke point for identifiable reads: what a request showed, written to the append-only audit log.

Every route that returns child or family ids takes a `Disclosure` through a FastAPI dependency
(`serving.web.api.dependencies.Disclosed` for the API, `serving.web.pages.routes.PageDisclosed` for the
pages); the route says what it showed (`show`), and the dependency writes one audit-log row when the route
returns, before the response is sent. A route that raises (refused, not found) shows nothing and writes no
row; a page that answers a refusal with an error page says so (`withhold`). A wired route that returns without
saying either is a bug, and the request fails rather than show identifiable rows unlogged.
tests/serving/web/test_audit_choke_point.py walks every route of the app and fails on an identifiable route
that is not wired to it.
"""

from __future__ import annotations

from collections.abc import Iterable

from serving.web.auth import Principal
from serving.web.data import READ, Store


class UndeclaredDisclosure(RuntimeError):
    """A route wired to the choke point returned without saying what it showed (a bug: answered with 500)."""


class Disclosure:
    """The identifiable rows one request shows: family ids and child ids, for one user and endpoint.

    Parameters
    ----------
    principal : Principal
        Who is reading.
    endpoint : str
        What the audit log calls the request, e.g. 'GET /api/hubs/Northfield/list' or 'PAGE /hubs/Northfield'.
    """

    def __init__(self, principal: Principal, endpoint: str) -> None:
        self.principal = principal
        self.endpoint = endpoint
        self.family_ids: list[str] = []
        self.child_ids: list[str] = []
        self.kind = READ
        self._outcome: str | None = None  # "shown" or "withheld"

    def show(self, *, family_ids: Iterable[object] = (), child_ids: Iterable[object] = (), kind: str = READ) -> None:
        """Record ids the response contains (call once or several times; an empty list is a read of nothing).

        Parameters
        ----------
        family_ids, child_ids : iterable
            Ids in the response; stored as strings, deduplicated and sorted in the log.
        kind : str
            `READ` (the council's records were shown), `POSTED` (ids the user sent in themselves, e.g. to
            POST /api/score: never logged as a read of the council's records) or `DECIDED`.
        """
        self.family_ids += [str(f) for f in family_ids]
        self.child_ids += [str(c) for c in child_ids]
        self.kind = kind
        self._outcome = "shown"

    def withhold(self) -> None:
        """The response shows no identifiable row (a refusal answered as a page): nothing is logged."""
        if self._outcome is None:
            self._outcome = "withheld"

    def close(self, store: Store) -> None:
        """Write the audit-log row (the dependency calls this when the route returns).

        Parameters
        ----------
        store : Store
            The serving database.

        Raises
        ------
        UndeclaredDisclosure
            If the route neither showed nor withheld anything.
        """
        if self._outcome == "withheld":
            return
        if self._outcome is None:
            raise UndeclaredDisclosure(f"{self.endpoint}: the route returned without declaring what it showed")
        store.log_access(self.principal, self.endpoint, family_ids=self.family_ids, child_ids=self.child_ids,
                         kind=self.kind)
