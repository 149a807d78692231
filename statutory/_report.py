"""What an import did, row by row: every input row's fate (mapped, refused, held back) and every rule applied."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

MAX_EXAMPLES = 10


@dataclass(slots=True, eq=False)
class Source:
    """One input row (or XML element): where it came from and what became of it."""

    fmt: str            # ssda903 | cin_census | annex_a | residence | family_links | partner_events
    file: str           # as named in the manifest
    table: str          # 903 table, CIN element, Annex A list, or the supplied table's name
    row: int            # 1-based data row (header not counted) or element position
    child_key: str | None = None
    errors: list[str] = field(default_factory=list)
    held: str | None = None
    rules: list[str] = field(default_factory=list)
    fields: dict = field(default_factory=dict)   # mapped values only (dates, codes): what quarantine may show
    emitted: bool = False

    def error(self, rule: str, message: str) -> None:
        self.errors.append(f"{rule}: {message}")

    def hold(self, reason: str) -> None:
        if self.held is None:
            self.held = reason


@dataclass
class Rule:
    rule: str
    severity: str        # E or W
    message: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


class Report:
    """Counts per rule (with up to 10 example rows) and per input file; rendered as report.json and report.md."""

    def __init__(self) -> None:
        self.rules: dict[tuple[str, str], Rule] = {}
        self.counters: Counter[str] = Counter()
        self.unmapped_values: dict[str, set[str]] = defaultdict(set)
        self.ignored_sheets: list[str] = []
        self.value_maps_applied: Counter[str] = Counter()
        self.header_overrides_applied: list[str] = []
        self.notes: list[str] = []

    def add(self, rule: str, severity: str, message: str, src: Source | None = None, where: str | None = None,
            n: int = 1) -> None:
        r = self.rules.get((rule, severity))
        if r is None:
            r = self.rules[(rule, severity)] = Rule(rule, severity, message)
        r.count += n
        if len(r.examples) < MAX_EXAMPLES:
            if src is not None:
                r.examples.append(f"{src.file}:{src.table}:{src.row}")
            elif where is not None:
                r.examples.append(where)

    def warn(self, rule: str, message: str, src: Source | None = None, where: str | None = None) -> None:
        self.add(rule, "W", message, src, where)
        if src is not None and rule not in src.rules:
            src.rules.append(rule)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n


def accounting(sources: list[Source], bulk: list[dict] = ()) -> list[dict]:
    """Per file and table: rows read = mapped + refused + held back (bulk: mapped rows counted without a Source)."""
    acc: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for b in bulk:
        c = acc[(b["format"], b["file"], b["table"])]
        c["read"] += b["read"]
        c["mapped"] += b["mapped"]
        c["held_back"] += b.get("held_back", 0)
    for s in sources:
        c = acc[(s.fmt, s.file, s.table)]
        c["read"] += 1
        c[status(s)] += 1
    return [{"format": f, "file": fi, "table": t, "read": c["read"], "mapped": c["mapped"],
             "refused": c["refused"], "held_back": c["held_back"]}
            for (f, fi, t), c in sorted(acc.items(), key=lambda kv: (kv[0][0], kv[0][1], _natural(kv[0][2])))]


def _natural(text: str) -> tuple:
    """'List 2' before 'List 10'."""
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def status(s: Source) -> str:
    if s.errors:
        return "refused"
    if s.held is not None:
        return "held_back"
    return "mapped"
