"""The stage gate process as data: phases, the gate before each phase, reusable templates.

The process lives in ``fossp/data/gate/process.yaml`` so the working group changes its
checks by editing data, not code; this schema refuses a file with unknown keys, duplicate
keys or a gate that names a template that does not exist.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from fossp.catalog.schema import CatalogStatus

PROCESS_FILE = Path(__file__).resolve().parent.parent / "data" / "gate" / "process.yaml"
Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")]


class Participant(StrEnum):
    """Who takes part in a review (seed: Server Working Group Tasks and Review Process)."""

    LIAISON = "liaison"  # FESCo liaison: the review lead unless another lead is named
    MEMBER = "member"  # Server Working Group member
    MAINTAINER = "maintainer"  # application or application stack maintainer
    QA = "qa"  # Quality Assurance
    RELENG = "releng"  # Release Engineering
    VIEWER = "viewer"  # reads everything, changes nothing
    ADMIN = "admin"  # manages applications' maintainers (accounts are an operations right)


class Right(StrEnum):
    """What an account may do to the servers, beside its gate role (fossp.web.rights)."""

    ADMINISTRATOR = "administrator"  # everything, accounts included
    OPERATOR = "operator"  # plans, deploys, decommissions, adds hosts
    VIEWER = "viewer"  # reads only


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deliverable(Strict):
    key: Key
    title: str
    required: bool = True


class Criterion(Strict):
    key: Key
    text: str


class Template(Strict):
    """Deliverables and exit criteria that several gates share."""

    key: Key
    title: str
    deliverables: list[Deliverable] = []
    criteria: list[Criterion] = []


class GateSpec(Strict):
    templates: list[Key] = []
    deliverables: list[Deliverable] = []
    criteria: list[Criterion] = []
    reviews: list[Participant] = Field(min_length=1, description="roles whose review a go needs")


class Phase(Strict):
    key: Key
    name: str
    summary: str
    catalog_status: CatalogStatus
    gate: GateSpec


class Gate(Strict):
    """The gate before ``phase``, with its templates expanded."""

    phase: Key
    name: str
    deliverables: list[Deliverable]
    criteria: list[Criterion]
    reviews: list[Participant]


def _duplicates(keys: list[str]) -> list[str]:
    return sorted({k for k in keys if keys.count(k) > 1})


class Process(Strict):
    templates: list[Template] = []
    phases: list[Phase] = Field(min_length=2)

    @model_validator(mode="after")
    def _consistent(self) -> Process:
        for what, keys in (
            ("phase", [p.key for p in self.phases]),
            ("template", [t.key for t in self.templates]),
        ):
            if duplicates := _duplicates(keys):
                raise ValueError(f"duplicate {what} keys: {', '.join(duplicates)}")
        known = {t.key for t in self.templates}
        for phase in self.phases:
            unknown = [t for t in phase.gate.templates if t not in known]
            if unknown:
                raise ValueError(f"phase {phase.key}: unknown template {unknown[0]}")
            gate = self.gate(phase.key)
            for what, keys in (
                ("deliverable", [d.key for d in gate.deliverables]),
                ("criterion", [c.key for c in gate.criteria]),
            ):
                if duplicates := _duplicates(keys):
                    raise ValueError(f"phase {phase.key}: duplicate {what} {duplicates[0]}")
        return self

    def index(self, phase_key: str) -> int:
        return [p.key for p in self.phases].index(phase_key)

    def phase(self, phase_key: str) -> Phase:
        return self.phases[self.index(phase_key)]

    def gate(self, phase_key: str) -> Gate:
        """The gate into ``phase_key``: template items first, then the gate's own."""
        phase = self.phase(phase_key)
        templates = {t.key: t for t in self.templates}
        used = [templates[k] for k in phase.gate.templates]
        return Gate(
            phase=phase.key,
            name=f"Gate {self.index(phase_key) + 1}: enter {phase.name}",
            deliverables=[d for t in used for d in t.deliverables] + phase.gate.deliverables,
            criteria=[c for t in used for c in t.criteria] + phase.gate.criteria,
            reviews=phase.gate.reviews,
        )


@cache
def load_process(path: Path = PROCESS_FILE) -> Process:
    """The process definition, validated; a bad file is a BadInput naming the field."""
    from fossp.catalog.loader import parse_model, read_yaml

    return parse_model(Process, read_yaml(path), path.name)
