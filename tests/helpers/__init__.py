"""Helpers shared by test modules (imported as `tests.helpers.<module>`; fixtures re-exported by conftest files)."""
