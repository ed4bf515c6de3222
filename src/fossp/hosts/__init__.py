"""Reaching hosts: inventory, connectors (local, SSH, offline root) and batched facts."""
