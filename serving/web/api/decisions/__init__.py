"""Practitioners' decisions on listed families: recorded with who, when, model version and as-of date."""
