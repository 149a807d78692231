"""The web API (FastAPI), organised by domain: health, model, scoring, families and lists, decisions, governance."""
