"""Scoring a posted family: contact history in the contract's shape in, calibrated risk with reasons out."""
