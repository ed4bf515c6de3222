"""Lab hosts for the end-to-end tests (booted once per session, removed at its end)."""

from __future__ import annotations

from fossp.lab.testing import lab_fixture

engine_hosts = lab_fixture("e2e-a", "e2e-b")
