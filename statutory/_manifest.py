"""The import manifest (SPEC §2.3): every file, its format and its year, named; and the pseudonym key."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.errors import UpstreamError

KEY_ENV = "UPSTREAM_PSEUDONYM_KEY"
MIN_KEY_BYTES = 16


class ImportError_(UpstreamError):
    """The manifest, a file or a required column is unusable; one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n  ".join(["the import cannot run:", *problems]) if len(problems) > 1 else problems[0])


@dataclass(frozen=True)
class S903Entry:
    year: int
    files: dict[str, Path]          # table -> path (CSV), or {"xml": path}
    liia_cleaned: bool = False


@dataclass(frozen=True)
class AnnexAEntry:
    extracted_on: dt.date
    file: Path


@dataclass(frozen=True)
class Manifest:
    path: Path
    la_code: str
    ssda903: list[S903Entry] = field(default_factory=list)
    cin_census: list[tuple[int, Path]] = field(default_factory=list)
    annex_a: list[AnnexAEntry] = field(default_factory=list)
    residence: Path | None = None
    family_links: Path | None = None
    partner_events: Path | None = None
    partner_events_coverage_end: dt.date | None = None
    annex_a_value_map: Path | None = None
    key_file: Path | None = None
    # the council's own Annex A headers -> canonical ones (SPEC §7.2), normalised; key None = every list
    annex_a_headers: dict[int | None, dict[str, str]] = field(default_factory=dict)

    def name(self, path: Path) -> str:
        """A file as the report names it: relative to the manifest's folder when inside it."""
        try:
            return str(path.relative_to(self.path.parent))
        except ValueError:
            return str(path)


def _date(value, where: str, problems: list[str]) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    problems.append(f"{where}: '{value}' is not a date in YYYY-MM-DD form")
    return None


def load_manifest(path: str | Path) -> Manifest:
    """Read and check a manifest; every problem (unknown key, missing file, bad year) is one line of the error."""
    path = Path(path)
    if not path.is_file():
        raise ImportError_([f"{path}: manifest not found"])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ImportError_([f"{path}: not readable YAML ({str(exc).splitlines()[0]})"]) from exc
    if not isinstance(raw, dict):
        raise ImportError_([f"{path}: a manifest is a YAML mapping (la_code, ssda903, cin_census, annex_a, ...)"])
    base = path.parent
    problems: list[str] = []
    known = {"la_code", "key_file", "ssda903", "cin_census", "annex_a", "residence", "family_links",
             "partner_events", "partner_events_coverage_end", "annex_a_value_map", "annex_a_headers"}
    for k in raw:
        if k not in known:
            problems.append(f"{path}: unknown key '{k}' (known: {', '.join(sorted(known))})")

    def file(value, where: str, required: bool = True) -> Path | None:
        if value is None:
            if required:
                problems.append(f"{path}: {where}: a file is required")
            return None
        p = Path(str(value))
        p = p if p.is_absolute() else base / p
        if not p.is_file():
            problems.append(f"{path}: {where}: file not found: {value}")
            return None
        return p

    la = raw.get("la_code")
    la_code = str(la).strip() if la is not None else ""
    if not re.fullmatch(r"\d{3}", la_code):
        problems.append(f"{path}: la_code: '{la}' is not a 3-digit DfE LA number (quote it: la_code: \"201\")")

    s903: list[S903Entry] = []
    for i, e in enumerate(raw.get("ssda903") or []):
        where = f"ssda903[{i}]"
        if not isinstance(e, dict) or "year" not in e:
            problems.append(f"{path}: {where}: needs year and files (or xml)")
            continue
        year = e.get("year")
        if not isinstance(year, int) or not 2000 <= year <= 2100:
            problems.append(f"{path}: {where}.year: '{year}' is not a collection year (e.g. 2020)")
            continue
        files: dict[str, Path] = {}
        if "xml" in e:
            p = file(e["xml"], f"{where}.xml")
            if p:
                files["xml"] = p
        else:
            fs = e.get("files")
            if not isinstance(fs, dict) or not fs:
                problems.append(f"{path}: {where}.files: a mapping of 903 table -> CSV file is required")
                continue
            for table, f in fs.items():
                p = file(f, f"{where}.files.{table}")
                if p:
                    files[str(table).lower()] = p
        s903.append(S903Entry(year, files, bool(e.get("liia_cleaned", False))))

    cin: list[tuple[int, Path]] = []
    for i, e in enumerate(raw.get("cin_census") or []):
        where = f"cin_census[{i}]"
        if not isinstance(e, dict) or not isinstance(e.get("year"), int):
            problems.append(f"{path}: {where}: needs year and file")
            continue
        p = file(e.get("file"), f"{where}.file")
        if p:
            cin.append((e["year"], p))

    annex: list[AnnexAEntry] = []
    for i, e in enumerate(raw.get("annex_a") or []):
        where = f"annex_a[{i}]"
        if not isinstance(e, dict):
            problems.append(f"{path}: {where}: needs extracted_on and file")
            continue
        d = _date(e.get("extracted_on"), f"{path}: {where}.extracted_on", problems)
        p = file(e.get("file"), f"{where}.file")
        if d and p:
            annex.append(AnnexAEntry(d, p))

    if not (s903 or cin or annex) and not problems:
        problems.append(f"{path}: names no return (ssda903, cin_census or annex_a)")
    residence = file(raw.get("residence"), "residence")
    if raw.get("residence") is None:
        problems[-1] = (f"{path}: residence: residence.csv is required (SPEC §2.2, Q1): children cannot be "
                        "written without residence dates, hub and deprivation decile")
    family_links = file(raw.get("family_links"), "family_links", required=False)
    partner = file(raw.get("partner_events"), "partner_events", required=False)
    value_map = file(raw.get("annex_a_value_map"), "annex_a_value_map", required=False)
    pend = raw.get("partner_events_coverage_end")
    pend_d = _date(pend, f"{path}: partner_events_coverage_end", problems) if pend is not None else None
    key_file = raw.get("key_file")
    headers = _header_overrides(raw.get("annex_a_headers"), f"{path}: annex_a_headers", problems)
    if problems:
        raise ImportError_(problems)
    return Manifest(path, la_code, s903, cin, annex, residence, family_links, partner, pend_d, value_map,
                    Path(key_file) if key_file else None, headers)


def _header_overrides(raw, where: str, problems: list[str]) -> dict[int | None, dict[str, str]]:
    """`annex_a_headers`: {council header: canonical header}, for every list, and/or under `List N` for one list.
    Each canonical name must be a column the importer maps; both sides are normalised as headers are (§7.2)."""
    from statutory._read import AA_CANONICAL, norm_header

    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{where}: a mapping of the council's header -> the canonical Annex A header "
                        "(optionally under 'List N')")
        return {}
    out: dict[int | None, dict[str, str]] = {}

    def add(list_no: int | None, own, canon, at: str) -> None:
        if not isinstance(own, str) or not isinstance(canon, str) or not own.strip():
            problems.append(f"{at}: '{own}': a header name maps to a header name")
            return
        if norm_header(canon) not in AA_CANONICAL:
            problems.append(f"{at}: '{own}' -> '{canon}': '{canon}' is not an Annex A column the importer maps "
                            f"(one of: {', '.join(sorted(AA_CANONICAL.values()))})")
            return
        out.setdefault(list_no, {})[norm_header(own)] = norm_header(canon)

    for k, v in raw.items():
        m = re.fullmatch(r"list\s*(\d{1,2})", str(k).strip(), re.IGNORECASE)
        if isinstance(v, dict) and m and 1 <= int(m[1]) <= 8:
            for own, canon in v.items():
                add(int(m[1]), own, canon, f"{where}.{k}")
        elif isinstance(v, dict):
            problems.append(f"{where}: '{k}': per-list overrides go under 'List 1' ... 'List 8'")
        else:
            add(None, k, v, where)
    return out


def load_key(key_file: str | Path | None, manifest: Manifest | None = None) -> bytes:
    """The council's HMAC key: --key-file, else UPSTREAM_PSEUDONYM_KEY, else the manifest's key_file."""
    source = None
    if key_file is not None:
        source = Path(key_file)
    elif os.environ.get(KEY_ENV):
        key = os.environ[KEY_ENV].encode("utf-8").strip()
        if len(key) < MIN_KEY_BYTES:
            raise UpstreamError(f"{KEY_ENV}: the pseudonym key must be at least {MIN_KEY_BYTES} bytes")
        return key
    elif manifest is not None and manifest.key_file is not None:
        source = manifest.key_file if manifest.key_file.is_absolute() else manifest.path.parent / manifest.key_file
    if source is None:
        raise UpstreamError(f"no pseudonym key: pass --key-file FILE or set {KEY_ENV} (never keep the key in "
                            "the repository)")
    if not source.is_file():
        raise UpstreamError(f"{source}: key file not found")
    key = source.read_bytes().strip()
    if len(key) < MIN_KEY_BYTES:
        raise UpstreamError(f"{source}: the pseudonym key must be at least {MIN_KEY_BYTES} bytes")
    return key
