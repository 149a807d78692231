"""The web service: API, pages, access control, the audit log and the hosted champion model."""
