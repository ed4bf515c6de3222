"""Deploying roles: plan operations from facts, apply them, keep a ledger, verify, undo."""
