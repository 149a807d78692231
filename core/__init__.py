"""The shared core: configuration, errors, atomic file output, the data contract's code lists and the notice.

Every other layer may import these modules; `core` imports nothing of ours.
"""

__all__ = ["config", "contract", "errors", "io", "notice"]  # the public modules, imported by name
