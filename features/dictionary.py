"""The feature dictionary: the plain-English meaning of every model input, for reason codes a hub lead reads.

Entries are generated from the same declarative definitions as the features themselves, so a feature
cannot exist without one. `describe(name, value)` renders a value: "3 police domestic abuse notifications
in the last 6 months", "last contact with children's services 45 days ago", "on a child protection plan
for 4 months", "no record of referrals to children's social care".
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from features.definitions import STATIC_FEATURES, TREND_MONTHS, FeatureDef, feature_defs

DEFAULT_WINDOWS = (3, 6, 12, 24)


@dataclass(frozen=True)
class FeatureInfo:
    """What one feature column means and how to say its value in words.

    The text forms take `{value}`: `template` is the general (plural) form, `one` is used for 1, `zero` for
    0 (for counts: nothing recorded), `missing` for a missing value (days since something that never
    happened), and `fewer`/`fewer_one` for negative trends."""

    name: str
    label: str  # short name for tables and charts
    unit: str  # count | days | months | flag | difference | code | decile
    kind: str  # count | days_since | trend | open | open_months | static
    template: str
    one: str
    zero: str
    missing: str
    fewer: str = ""
    fewer_one: str = ""
    default: float | None = 0.0  # the value when nothing is recorded (NaN: never); None: always known
    scope: str = "child"  # child | siblings | household | family
    signal: str | None = None
    window_months: int | None = None


def _static_info(name: str) -> FeatureInfo:
    if name == "age_months":
        return FeatureInfo(name, "age", "months", "static", "aged {value}", "aged {value}",
                           "aged under 1 month", "age not known", default=None)
    if name == "months_resident":
        return FeatureInfo(name, "time living in the area", "months", "static", "living in the area for {value}",
                           "living in the area for {value}", "arrived in the area less than a month ago",
                           "arrival in the area not known", default=None)
    if name == "family_months_resident":
        return FeatureInfo(name, "time the family has lived in the area", "months", "static",
                           "family living in the area for {value}", "family living in the area for {value}",
                           "family arrived in the area less than a month ago", "family arrival not known",
                           default=None, scope="family")
    if name == "n_children_family":
        return FeatureInfo(name, "children in the family", "count", "static", "{value} children in the family",
                           "the only child in the family", "no children in the family",
                           "number of children in the family not known", default=None, scope="family")
    if name == "hub_code":
        return FeatureInfo(name, "locality hub", "code", "static", "in hub {value}", "in hub {value}",
                           "in hub {value}", "hub not known", default=None)
    if name == "deprivation_decile":
        return FeatureInfo(name, "deprivation decile", "decile", "static",
                           "living in deprivation decile {value} (1 is the most deprived)",
                           "living in deprivation decile 1 (the most deprived)",
                           "deprivation decile not known", "deprivation decile not known", default=None)
    raise KeyError(name)


def _info(d: FeatureDef) -> FeatureInfo:
    if d.kind == "static":
        return _static_info(d.name)
    s = d.signal
    assert s is not None
    one, many = s.singular, s.plural
    common = {"scope": s.scope, "signal": s.name, "window_months": d.window, "kind": d.kind}
    if d.kind == "count" and s.on == "end":
        return FeatureInfo(d.name, many, "count", template=f"{{value}} {many}", one=f"1 {one}",
                           zero=f"no {many}", missing=f"no {many}", **common)
    if d.kind == "count" and d.window is None:
        return FeatureInfo(d.name, f"{many}, ever", "count", template=f"{{value}} {many} on record",
                           one=f"1 {one} on record", zero=f"no record of {many}", missing=f"no record of {many}",
                           **common)
    if d.kind == "count":
        w = f"in the last {d.window} months"
        return FeatureInfo(d.name, f"{many}, last {d.window} months", "count", template=f"{{value}} {many} {w}",
                           one=f"1 {one} {w}", zero=f"no {many} {w}", missing=f"no {many} {w}", **common)
    if d.kind == "days_since":
        return FeatureInfo(d.name, f"days since the last {one}", "days", template=f"last {one} {{value}} days ago",
                           one=f"last {one} 1 day ago", zero=f"last {one} today",
                           missing=f"no {one} recorded so far", default=math.nan, **common)
    if d.kind == "trend":
        then = f"in the last {TREND_MONTHS} months than in the {TREND_MONTHS} months before"
        return FeatureInfo(d.name, f"change in {many}, last {TREND_MONTHS} months against the {TREND_MONTHS} before",
                           "difference", template=f"{{value}} more {many} {then}", one=f"1 more {one} {then}",
                           zero=f"as many {many} in the last {TREND_MONTHS} months as in the {TREND_MONTHS} before",
                           missing=f"no change in {many} known", fewer=f"{{value}} fewer {many} {then}",
                           fewer_one=f"1 fewer {one} {then}", **common)
    assert s.open_phrase is not None, f"{s.name} needs an open_phrase"
    state = s.open_phrase
    if d.kind == "open" and s.scope == "siblings":
        return FeatureInfo(d.name, f"siblings {state} now", "count", template=f"{{value}} siblings {state} now",
                           one=f"1 sibling {state} now", zero=f"no siblings {state} now",
                           missing=f"no siblings {state} now", **common)
    if d.kind == "open":
        return FeatureInfo(d.name, f"{state} now", "flag", template=f"{state} now", one=f"{state} now",
                           zero=f"not {state}", missing=f"not {state}", **common)
    return FeatureInfo(d.name, f"time {state} so far", "months", template=f"{state} for {{value}}",
                       one=f"{state} for {{value}}", zero=f"not {state}", missing=f"not {state}", **common)


class _FeatureDictionary(dict[str, FeatureInfo]):
    """FEATURE_DICTIONARY: entries for the default windows, and for any other window (n_contact_9m) on demand."""

    def __missing__(self, name: str) -> FeatureInfo:
        m = re.fullmatch(r".+_(\d+)m", name)
        if m and int(m.group(1)) > 0:
            for d in feature_defs((int(m.group(1)),)):
                if d.name == name:
                    self[name] = info = _info(d)
                    return info
        raise KeyError(f"no feature dictionary entry for {name!r}")

    def __contains__(self, name: object) -> bool:
        try:
            self[name]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def get(self, name: str, default: FeatureInfo | None = None) -> FeatureInfo | None:  # type: ignore[override]
        try:
            return self[name]
        except KeyError:
            return default


FEATURE_DICTIONARY: dict[str, FeatureInfo] = _FeatureDictionary(
    {d.name: _info(d) for d in feature_defs(DEFAULT_WINDOWS)})
assert all(n in FEATURE_DICTIONARY for n in STATIC_FEATURES)


def _duration(months: float) -> str:
    if months < 1:
        return "less than a month"
    years, rest = divmod(int(months), 12)
    parts = [f"{years} year{'s' if years != 1 else ''}"] if years else []
    if rest or not years:
        parts.append(f"{rest} month{'s' if rest != 1 else ''}")
    return " ".join(parts)


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(math.isnan(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value) in ("<NA>", "NaT")


def describe(name: str, value: object, *, hub_names: Sequence[str] | None = None) -> str:
    """The plain-English reading of one feature value, e.g. describe("n_domestic_abuse_6m", 3) ->
    "3 police domestic abuse notifications in the last 6 months". `hub_names` (the config's hub list)
    turns a hub code into the hub's name.

    Parameters
    ----------
    name : str
        A feature in `FEATURE_DICTIONARY`.
    value : object
        Its value (missing values have their own wording).
    hub_names : sequence of str, optional
        The config's hubs, in order.

    Returns
    -------
    str
    """
    info = FEATURE_DICTIONARY[name]
    if _is_missing(value):
        return info.missing
    v = float(value)  # type: ignore[arg-type]
    if info.unit == "months":
        if v < 1 and info.kind != "open_months":
            return info.zero
        if v <= 0:
            return info.zero
        return (info.one if v < 2 else info.template).format(value=_duration(v))
    if info.unit == "code" and name == "hub_code":
        code = int(round(v))
        if hub_names is not None and 0 <= code < len(hub_names):
            return f"in the {hub_names[code]} hub"
        return info.template.format(value=code)
    n = int(round(v))
    if info.unit == "flag":
        return info.one if n else info.zero
    if info.unit == "decile":
        return info.one if n == 1 else info.template.format(value=n)
    if info.unit == "difference" and n < 0:
        return info.fewer_one if n == -1 else info.fewer.format(value=-n)
    if n == 0:
        return info.zero
    if n == 1:
        return info.one.format(value=1)
    return info.template.format(value=f"{n:,}")
