"""pandera schemas for the typed contract tables: the check at stage boundaries (after loading, before features)."""

from __future__ import annotations

import pandera.pandas as pa

from core.contract import DISABILITY_CODES, ETHNICITY_CODES, EVENT_TYPES, SEX_CODES, SOURCES


def children_schema(hubs: tuple[str, ...]) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "child_id": pa.Column(object, unique=True),
            "family_id": pa.Column(object),
            "date_of_birth": pa.Column("datetime64[ns]"),
            "sex": pa.Column(object, pa.Check.isin(SEX_CODES)),
            "ethnicity": pa.Column(object, pa.Check.isin(ETHNICITY_CODES)),
            "disability": pa.Column(object, pa.Check.isin(DISABILITY_CODES)),
            "hub": pa.Column(object, pa.Check.isin(list(hubs))),
            "deprivation_decile": pa.Column("Int64", pa.Check.in_range(1, 10)),
            "arrived_on": pa.Column("datetime64[ns]"),
            "left_on": pa.Column("datetime64[ns]", nullable=True),
        },
        strict=True,
        name="children",
    )


EVENTS_SCHEMA = pa.DataFrameSchema(
    {
        "event_id": pa.Column(object, unique=True),
        "family_id": pa.Column(object),
        "child_id": pa.Column(object, nullable=True),
        "event_type": pa.Column(object, pa.Check.isin(EVENT_TYPES)),
        "event_date": pa.Column("datetime64[ns]"),
        "end_date": pa.Column("datetime64[ns]", nullable=True),
        "source": pa.Column(object, pa.Check.isin(SOURCES), nullable=True),
        "detail": pa.Column(object, nullable=True),
    },
    strict=True,
    name="events",
)
