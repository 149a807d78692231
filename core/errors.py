"""User-facing errors: the CLI prints these as one line and exits non-zero, never a traceback."""

from __future__ import annotations

from collections.abc import Iterable


class UpstreamError(Exception):
    """A mistake a user can fix (bad input, missing file, bad flag). Exit code 2 by default."""

    exit_code: int = 2


class ConfigError(UpstreamError):
    """The configuration file is missing, unreadable or breaks the config schema."""


class ContractError(UpstreamError):
    """A data extract breaks the data contract."""


def key_path(loc: Iterable[int | str], *, empty: str) -> str:
    """A pydantic error location as a user reads it: ('hubs', 3, 'capacity') -> 'hubs[3].capacity'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or empty
