"""Upgrades: the compatibility report and upgrades at every release level.

The flow follows Leapp: facts are collected once (the host's packages and sources, the
target release's archive metadata on the controller), checks are pure functions of
those facts, and the report is their joined output. An upgrade run then snapshots,
applies, migrates the roles' data, reboots where the level needs it, verifies the
roles' probes and restores the snapshot on any failure.
"""
