"""The decision-support notice: shown on every page, list and report, and carried in every API answer."""

DECISION_SUPPORT = "Decision support only: a practitioner decides."
