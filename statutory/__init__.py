"""statutory: the statutory-returns importer (SSDA903, CIN census, Annex A + council tables) into the contract.

A source package beside `synthetic/`: it produces the contract tables and imports only `core`.
"""

from statutory._import import ImportResult, Pseudonymiser, run_import
from statutory._manifest import KEY_ENV, ImportError_, Manifest, load_key, load_manifest
from statutory._returns import write_returns

__all__ = ["KEY_ENV", "ImportError_", "ImportResult", "Manifest", "Pseudonymiser", "load_key", "load_manifest",
           "run_import", "write_returns"]
