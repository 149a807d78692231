"""Hub risk lists and family detail from the latest scoring output, scoped to the user's hub and audit-logged."""
