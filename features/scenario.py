"""Data-availability scenarios: an extract cut down to the event types a council's data-sharing agreements provide.

A scenario (config `data_sharing.scenarios`) names partner feeds (`core.contract.FEEDS`: police, schools, health,
adult services and housing); children's social care's own records are always there. Training and scoring apply the
same cut, so a model never sees at scoring a signal it could not learn from.
"""

from __future__ import annotations

import dataclasses

from core.config import Config
from core.contract import FEEDS, SOCIAL_CARE_EVENT_TYPES
from features.loaders import Extract


def feeds_present(extract: Extract) -> tuple[str, ...]:
    """The partner feeds of which the extract holds at least one event, in `FEEDS` order."""
    types = set(extract.events["event_type"].unique())
    return tuple(feed for feed, feed_types in FEEDS.items() if types & set(feed_types))


def restrict_to_feeds(extract: Extract, feeds: tuple[str, ...] | list[str]) -> Extract:
    """The extract with only social care's records and the events of the given partner feeds."""
    keep = set(SOCIAL_CARE_EVENT_TYPES) | {t for feed in feeds for t in FEEDS[feed]}
    events = extract.events
    mask = events["event_type"].isin(keep)
    if mask.all():
        return extract
    return dataclasses.replace(extract, events=events[mask].reset_index(drop=True))


def restrict(extract: Extract, config: Config, scenario: str) -> Extract:
    """The extract as a council with the named scenario's agreements would hold it (unknown name: ConfigError)."""
    config.data_sharing.event_types(scenario)  # names the configured scenarios if this one is unknown
    return restrict_to_feeds(extract, config.data_sharing.scenarios[scenario])


def parse_feeds(tag: str | None) -> tuple[str, ...]:
    """The feeds recorded on a model version (`feeds` tag: comma-separated; empty for social care only)."""
    return tuple(f for f in (tag or "").split(",") if f)
