"""cleanup_plan: examples and properties (hypothesis) of snapper's number cleanup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fossp.engine.snapshot import Limits, Snapshot, _units, cleanup_plan

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def snap(number: int, kind: str = "single", pre: int | None = None, age: float = 7200, **flags: object) -> Snapshot:
    userdata = {"important": "yes"} if flags.pop("important", False) else {}
    return Snapshot(
        number=number,
        kind=kind,
        pre_number=pre,
        date=NOW - timedelta(seconds=age),
        cleanup=str(flags.pop("cleanup", "number")),
        userdata=userdata,
        **flags,  # type: ignore[arg-type]
    )


def test_keeps_the_youngest_and_deletes_pairs_together() -> None:
    snapshots = [snap(1, "pre"), snap(2, "post", 1), snap(3), snap(4, "pre"), snap(5, "post", 4), snap(6)]
    assert cleanup_plan(snapshots, Limits("2", "10", 1800), 1.0, NOW) == [1, 2, 3]


def test_never_young_default_running_manual_or_broken() -> None:
    snapshots = [
        snap(1, default=True),
        snap(2, running=True),
        snap(3, age=60),
        snap(4, cleanup=""),
        snap(5, problem="no info.xml"),
        snap(6),
        snap(7),
    ]
    assert cleanup_plan(snapshots, Limits("0", "0", 1800), 1.0, NOW) == [6, 7]


def test_a_pending_restore_root_stays() -> None:
    snapshots = [snap(1, "pre"), snap(2, "post", 1), snap(3)]
    assert cleanup_plan(snapshots, Limits("0", "0", 0), 1.0, NOW, keep=[2]) == [3]


def test_important_ones_have_their_own_limit() -> None:
    snapshots = [snap(n, important=n % 2 == 0) for n in range(1, 11)]
    # five important (2,4,6,8,10): keep 2 of them; five plain: keep 3 of them.
    assert cleanup_plan(snapshots, Limits("3", "2", 0), 1.0, NOW) == [1, 2, 3, 4, 6]


def test_short_of_space_goes_to_the_lower_bound() -> None:
    snapshots = [snap(n) for n in range(1, 11)]
    limits = Limits("2-8", "2-10", 0)
    assert cleanup_plan(snapshots, limits, 0.5, NOW) == [1, 2]
    assert cleanup_plan(snapshots, limits, 0.1, NOW) == list(range(1, 9))
    assert cleanup_plan(snapshots, limits, 0.5, NOW, snapshot_fraction=0.6) == list(range(1, 9))


def test_default_limits_are_snappers() -> None:
    snapshots = [snap(n) for n in range(1, 61)]
    assert cleanup_plan(snapshots, Limits(), 0.9, NOW) == list(range(1, 11))


@st.composite
def histories(draw: st.DrawFn) -> list[Snapshot]:
    """Snapshots as a host accumulates them: singles and pre/post pairs, numbered in order."""
    result: list[Snapshot] = []
    number = 1
    for _ in range(draw(st.integers(0, 40))):
        flags = {
            "important": draw(st.booleans()),
            "cleanup": draw(st.sampled_from(["number", "number", "number", ""])),
            "age": draw(st.sampled_from([10.0, 4000.0, 90000.0])),
        }
        if draw(st.booleans()):
            result.append(snap(number, **flags))
            number += 1
        else:
            result += [snap(number, "pre", **flags), snap(number + 1, "post", number, **flags)]
            number += 2
    if result and draw(st.booleans()):
        pick = draw(st.sampled_from(result))
        result[result.index(pick)] = Snapshot(**{**pick.__dict__, "default": True})
    if result and draw(st.booleans()):
        pick = draw(st.sampled_from(result))
        result[result.index(pick)] = Snapshot(**{**pick.__dict__, "running": True})
    return result


limits_strategy = st.builds(
    Limits,
    number_limit=st.sampled_from(["0", "3", "10", "2-5", "50"]),
    number_limit_important=st.sampled_from(["0", "1", "2-4", "10"]),
    number_min_age=st.sampled_from([0, 1800]),
)


@settings(max_examples=300, deadline=None)
@given(histories(), limits_strategy, st.floats(0, 1))
def test_properties(snapshots: list[Snapshot], limits: Limits, free: float) -> None:
    plan = set(cleanup_plan(snapshots, limits, free, NOW))
    by_number = {s.number: s for s in snapshots}
    assert plan <= set(by_number)
    for number in plan:
        gone = by_number[number]
        # never the running or default snapshot, nor one too young or not under number cleanup
        assert not gone.running and not gone.default
        assert gone.cleanup == "number"
        assert gone.date is not None and (NOW - gone.date).total_seconds() >= limits.number_min_age
    # pairs go together
    for unit in _units(snapshots):
        numbers = {s.number for s in unit}
        assert numbers <= plan or not numbers & plan
    # count limits: what stays under number cleanup is within the limit, except units kept for a reason
    low, high = Limits.bounds(limits.number_limit)
    low_i, high_i = Limits.bounds(limits.number_limit_important)
    short = free < limits.free_limit
    for important, keep in ((False, low if short else high), (True, low_i if short else high_i)):
        units = [
            u
            for u in _units(snapshots)
            if all(s.cleanup == "number" for s in u) and any(s.important for s in u) == important
        ]
        kept = [u for u in units if not {s.number for s in u} & plan]
        excused = [
            u
            for u in kept
            if any(s.running or s.default for s in u)
            or any((NOW - s.date).total_seconds() < limits.number_min_age for s in u if s.date)
        ]
        assert len(kept) - len(excused) <= keep
        # and the youngest ones are the ones kept: nothing deleted is younger than a kept unexcused one
        plain_kept = [u for u in kept if u not in excused]
        deleted = [u for u in units if {s.number for s in u} <= plan]
        if plain_kept and deleted:
            assert max(u[0].number for u in deleted) < max(u[0].number for u in plain_kept)
        # important ones are kept within their own limit: never fewer than the limit when enough exist
        assert len(kept) >= min(keep, len(units))
