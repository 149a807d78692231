"""The web service's data, in one place: the serving database (users, sessions, the audit log, decisions) and the
latest scoring output directory (lists, families, explanations), read-only.

Two sources, one module each: `_database.py` (SQLAlchemy, append-only audit log and decisions) and `_scores.py`
(the files `upstream score` writes, re-read when a new directory is swapped in). Routes and pages import from
here, never from the private modules.
"""

from serving.web.data._database import (
    DECIDED,
    DECISIONS,
    MAX_REASON_CHARS,
    POSTED,
    READ,
    SESSION_HOURS,
    ChainCheck,
    DecisionRecord,
    Store,
    make_engine,
)
from serving.web.data._scores import (
    Family,
    Scores,
    ScoresRepository,
    child_summary,
    explanation_rows,
    load_scores,
)

__all__ = [
    "DECIDED",
    "DECISIONS",
    "MAX_REASON_CHARS",
    "POSTED",
    "READ",
    "SESSION_HOURS",
    "ChainCheck",
    "DecisionRecord",
    "Family",
    "Scores",
    "ScoresRepository",
    "Store",
    "child_summary",
    "explanation_rows",
    "load_scores",
    "make_engine",
]
