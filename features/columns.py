"""The feature table's column groups (docs/interfaces.md): key columns, audit columns and age bands.

Defined once here and used by the feature builder, training (which carries the audit columns into its
predictions) and the fairness audit (which orders the age bands).
"""

KEY_COLUMNS: tuple[str, ...] = ("child_id", "family_id", "as_of")
# A region's table (children with a `council` column) also carries `council` right after as_of: a key that
# says whose child the row is, never a model input (docs/scale.md, "Several councils in one extract").
# Never model inputs by default: they travel beside the rows for the fairness audit. The builder relies on
# the last two being the numeric decile and the boolean flag.
AUDIT_COLUMNS: tuple[str, ...] = ("sex", "ethnicity", "ethnic_group", "disability", "age_band", "hub",
                                  "deprivation_decile", "previously_known")
# The child's age at the as-of date, in years: 0-4, 5-9, 10-15 and 16-17.
AGE_BANDS: tuple[str, ...] = ("0-4", "5-9", "10-15", "16-17")
