"""Schema checks: each CIN census file against its collection year's XSD (liia-tools' per-year schemas, shipped in
`statutory/schemas/`), with xmlschema; every violation is reported with file, line, path and the schema's reason.

A violation is a warning (W, rule `XSD`): the file passed DfE COLLECT, and the importer's own rules (SPEC §6, §10)
decide which rows become contract rows. The check runs in a worker process beside the reading (it is pure Python
and as slow as the rest of the import together), so it costs wall time only when it is the longer of the two.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import xml.parsers.expat
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

SCHEMA_DIR = Path(__file__).parent / "schemas"
MAX_EXAMPLES = 10


def cin_schema_path(year: int) -> Path | None:
    """The XSD of a CIN collection year (2016-17 to 2023-24 are shipped), or None."""
    p = SCHEMA_DIR / f"CIN_schema_{year}.xsd"
    return p if p.is_file() else None


@dataclass
class SchemaCheck:
    """One file's check: the schema used (None: none shipped for its year), violations and the first few."""

    file: str
    year: int
    schema: str | None
    violations: int = 0
    examples: list[str] = field(default_factory=list)   # "line N: /Message/...: reason"
    unreadable: bool = False


@cache
def _schema(path: str):
    import xmlschema

    return xmlschema.XMLSchema(path)


def _tree_with_lines(path: Path) -> tuple[ET.Element, dict[int, int]]:
    """The document as an ElementTree with local names (the shipped XSDs have no target namespace; CIN files
    often declare one) and the line of every element, which ElementTree does not keep."""
    root: ET.Element | None = None
    stack: list[ET.Element] = []
    lines: dict[int, int] = {}
    text: list[str] = []
    parser = xml.parsers.expat.ParserCreate(namespace_separator="}")

    def flush() -> None:
        """Text read so far belongs to the open element (before its first child) or to its last child's tail."""
        if text and stack:
            top, chunk = stack[-1], "".join(text)
            if len(top):
                top[-1].tail = (top[-1].tail or "") + chunk
            else:
                top.text = (top.text or "") + chunk
        text.clear()

    def start(tag: str, attrs: dict) -> None:
        nonlocal root
        flush()
        el = ET.Element(tag.rsplit("}", 1)[-1], {k.rsplit("}", 1)[-1]: v for k, v in attrs.items()})
        if stack:
            stack[-1].append(el)
        else:
            root = el
        lines[id(el)] = parser.CurrentLineNumber
        stack.append(el)

    def end(_tag: str) -> None:
        flush()
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text.append
    parser.buffer_text = True
    with path.open("rb") as f:
        parser.ParseFile(f)
    assert root is not None
    return root, lines


def check_cin_file(path: Path, name: str, year: int) -> SchemaCheck:
    """Validate one CIN census file against its year's XSD; a file that is not well-formed is left to the
    reader (which refuses it with its own one-line error)."""
    xsd = cin_schema_path(year)
    got = SchemaCheck(name, year, xsd.name if xsd else None)
    if xsd is None:
        return got
    try:
        root, lines = _tree_with_lines(path)
    except (xml.parsers.expat.ExpatError, OSError):
        got.unreadable = True
        return got
    for err in _schema(str(xsd)).iter_errors(root):
        got.violations += 1
        if len(got.examples) < MAX_EXAMPLES:
            line = lines.get(id(err.elem)) if err.elem is not None else None
            reason = " ".join(str(err.reason or err.message).split())
            value = (err.elem.text or "").strip() if err.elem is not None else ""
            if value:   # the offending value may be an identifier (LAchildID, UPN): never repeat it
                reason = reason.replace(value, "<value>")
            got.examples.append(f"line {line if line else '?'}: {err.path or '/'}: {reason}")
    return got


class SchemaChecks:
    """The CIN files' checks, submitted as the import starts and collected at its end."""

    def __init__(self, files: list[tuple[Path, str, int]]):
        todo = [f for f in files if cin_schema_path(f[2]) is not None]
        self._skipped = [SchemaCheck(name, year, None) for path, name, year in files if (path, name, year) not in todo]
        self._pool: Executor | None = ProcessPoolExecutor(max_workers=1) if todo else None
        self._futures: list[Future] = [self._pool.submit(check_cin_file, *f) for f in todo] if self._pool else []

    def results(self) -> list[SchemaCheck]:
        try:
            done = [f.result() for f in self._futures]
        finally:
            self.close()
        return sorted(done + self._skipped, key=lambda c: (c.year, c.file))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


__all__ = ["SchemaCheck", "SchemaChecks", "check_cin_file", "cin_schema_path"]
