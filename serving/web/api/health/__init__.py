"""Liveness, readiness and model information."""
