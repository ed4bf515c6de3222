"""Lab hosts shared by the lab tests (see fossp.lab.testing for the factory)."""

from fossp.lab.testing import lab_fixture

lab_pair = lab_fixture("lt-lab1", "lt-lab2")
