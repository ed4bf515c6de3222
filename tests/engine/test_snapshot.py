"""Snapshots: the facts parser on recorded output, info.xml, diffs on data, and the
create/delete/restore steps against a fake connector (which commands, in which order)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import BinaryIO

import pytest

from fossp.engine import restore as R
from fossp.engine import snapshot as S
from fossp.engine.apply import post_snapshot, pre_snapshot, quiet
from fossp.engine.state import Run
from fossp.errors import BadInput
from fossp.hosts.connector import Connector, HostError, Result
from fossp.hosts.facts import Facts

# Recorded on a lab host with snapper (config trimmed): three snapshots, a data subvolume.
RECORDED_SNAPPER = """
@@fossp:rootfs@@
btrfs

@@fossp:space@@
4096 8388608 7852178

@@fossp:container@@
detect none

@@fossp:snapper@@
/usr/bin/snapper

@@fossp:snapper_config@@
root

SUBVOLUME="/"
FSTYPE="btrfs"
SPACE_LIMIT="0.5"
FREE_LIMIT="0.2"
NUMBER_MIN_AGE="1800"
NUMBER_LIMIT="50"
NUMBER_LIMIT_IMPORTANT="10"

@@fossp:rootid@@
258

@@fossp:default@@
ID 5 (FS_TREE)

@@fossp:rootpath@@
roots/sx-1

@@fossp:uuid@@
58c631f3-9439-4110-b0aa-c1e51f114b8c

@@fossp:subvolumes@@
ID 259 gen 34 top level 258 path roots/sx-1/.snapshots
ID 263 gen 25 top level 258 path roots/sx-1/var/lib/demo

@@fossp:snapshot_subvolumes@@
ID 260 gen 25 top level 259 path roots/sx-1/.snapshots/1/snapshot
ID 265 gen 30 top level 259 path roots/sx-1/.snapshots/2/snapshot

@@fossp:snapshot@@
1 present
<?xml version="1.0"?>
<snapshot>
  <type>pre</type>
  <num>1</num>
  <date>2026-12-01 22:12:43</date>
  <description>fossp test</description>
  <cleanup>number</cleanup>
  <userdata>
    <key>fossp_run</key>
    <value>abc</value>
  </userdata>
  <userdata>
    <key>important</key>
    <value>yes</value>
  </userdata>
</snapshot>

@@fossp:snapshot@@
2 present
<?xml version="1.0"?>
<snapshot>
  <type>post</type>
  <num>2</num>
  <pre_num>1</pre_num>
  <date>2026-12-01 22:17:56</date>
  <description>after</description>
  <cleanup>number</cleanup>
</snapshot>

@@fossp:snapshot@@
7 missing

@@fossp:next_root@@

@@fossp:end@@
"""

# Recorded on a lab host without snapper and without snapshots.
RECORDED_BARE = """
@@fossp:rootfs@@
btrfs

@@fossp:space@@
4096 8388608 7852178

@@fossp:container@@
file fossp-lab
detect none

@@fossp:snapper@@

@@fossp:rootid@@
257

@@fossp:default@@
ID 5 (FS_TREE)

@@fossp:rootpath@@
roots/warm1

@@fossp:uuid@@
58c631f3-9439-4110-b0aa-c1e51f114b8c

@@fossp:subvolumes@@

@@fossp:next_root@@

@@fossp:end@@
"""

RECORDED_EXT4 = """
@@fossp:rootfs@@
ext2/ext3

@@fossp:space@@
4096 1000000 500000

@@fossp:container@@
detect none

@@fossp:end@@
"""


def test_recorded_facts_with_snapper() -> None:
    facts = S.parse_snapshot_facts("h", RECORDED_SNAPPER)
    assert facts.btrfs and facts.snapper and facts.snapper_config == "root"
    assert facts.container is None
    assert (facts.root_id, facts.default_id, facts.root_path) == (258, 5, "roots/sx-1")
    assert facts.snapshots_subvolume
    assert [s.path for s in facts.subvolumes] == ["/var/lib/demo"]
    assert facts.size_bytes == 4096 * 8388608 and facts.free_bytes == 4096 * 7852178
    assert 0.9 < facts.free_fraction < 0.95
    first, second, broken = facts.snapshots
    assert (first.number, first.kind, first.important, first.run_id, first.subvolume_id) == (1, "pre", True, "abc", 260)
    assert first.date == datetime(2026, 12, 1, 22, 12, 43, tzinfo=UTC)
    assert (second.kind, second.pre_number, second.important) == ("post", 1, False)
    assert broken.number == 7 and not broken.present and broken.problem == "no info.xml"
    assert not any(s.default or s.running for s in facts.snapshots)
    assert S.Limits.from_snapper(facts.snapper_settings) == S.Limits("50", "10", 1800, 0.5, 0.2)
    assert facts.summary()["data_subvolumes"] == ["/var/lib/demo"]


def test_recorded_bare_and_not_btrfs() -> None:
    bare = S.parse_snapshot_facts("h", RECORDED_BARE)
    assert bare.btrfs and not bare.snapper and bare.snapper_config is None and bare.snapshots == []
    assert bare.container == "fossp-lab" and bare.tool == "btrfs"
    ext4 = S.parse_snapshot_facts("h", RECORDED_EXT4)
    assert not ext4.btrfs
    with pytest.raises(BadInput, match="not BTRFS"):
        S.require_btrfs(ext4)
    with pytest.raises(HostError, match="cut short"):
        S.parse_snapshot_facts("h", "@@fossp:rootfs@@\nbtrfs\n")


def test_running_and_default_flags() -> None:
    text = RECORDED_SNAPPER.replace("@@fossp:rootid@@\n258", "@@fossp:rootid@@\n265").replace(
        "ID 5 (FS_TREE)", "ID 260 gen 25 top level 259 path roots/sx-1/.snapshots/1/snapshot"
    )
    facts = S.parse_snapshot_facts("h", text)
    assert [(s.number, s.default, s.running) for s in facts.snapshots[:2]] == [(1, True, False), (2, False, True)]


def test_container_detection() -> None:
    assert S._container("detect none") is None
    assert S._container("env fossp-lab\ndetect none") == "fossp-lab"
    assert S._container("detect lxc") == "lxc"


def test_info_xml_round_trip_escapes() -> None:
    snap = S.Snapshot(
        number=4,
        kind="post",
        pre_number=3,
        date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        description='deploy <nginx> & "x"',
        cleanup="number",
        userdata={"fossp_run": "r1", "important": "yes"},
    )
    text = S.info_xml(snap)
    assert "&lt;nginx&gt; &amp;" in text and "<date>2026-01-02 03:04:05</date>" in text
    back = S.parse_info_xml(4, text)
    assert back == snap
    assert S.parse_info_xml(4, "<snapshot><num>5</num></snapshot>").problem == "info.xml says number 5"
    assert "unreadable" in (S.parse_info_xml(4, "<snap").problem or "")


def test_subvolume_paths_from_the_top() -> None:
    lines = "ID 256 gen 9 top level 5 path @\nID 300 gen 10 cgen 9 top level 256 path @/var/lib/pg\njunk"
    assert S.parse_subvolume_list(lines) == [(256, "@"), (300, "@/var/lib/pg")]
    assert S._host_path("@/var/lib/pg", "@") == "/var/lib/pg"
    assert S._host_path("var/lib/pg", "/") == "/var/lib/pg"
    assert S._host_path("other/x", "@") is None


def test_compare_packages() -> None:
    changes = S.compare_packages({"a": "1", "b": "1", "c": "1"}, {"b": "1", "c": "2", "d": "1"})
    assert changes.added == {"d": "1"} and changes.removed == {"a": "1"} and changes.changed == {"c": ("1", "2")}
    assert not S.compare_packages({"a": "1"}, {"a": "1"})


def test_compare_trees() -> None:
    def f(size: int = 1, mtime: str = "1.0", mode: str = "644") -> S.Entry:
        return S.Entry("f", mode, "root:root", size, mtime)

    folder = S.Entry("d", "755", "root:root", 0, "1.0")
    a = {
        "/etc": folder,
        "/etc/a": f(),
        "/etc/b": f(),
        "/etc/c": f(),
        "/var/lib/pg/x": f(),
        "/etc/l": S.Entry("l", "777", "root:root", 1, "1", "x"),
    }
    b = {
        "/etc": S.Entry("d", "755", "root:root", 0, "9.0"),  # a folder's mtime is not a change
        "/etc/a": f(size=2),
        "/etc/b": f(mode="600"),
        "/etc/d": f(),
        "/var/lib/pg/y": f(),
        "/etc/l": S.Entry("l", "777", "root:root", 1, "1", "y"),
    }
    changes = S.compare_trees(a, b, skip=["/var/lib/pg"])
    assert [(c.path, c.change, c.what) for c in changes] == [
        ("/etc/a", "changed", ("content",)),
        ("/etc/b", "changed", ("mode",)),
        ("/etc/c", "removed", ()),
        ("/etc/d", "added", ()),
        ("/etc/l", "changed", ("link",)),
    ]


def test_parse_tree_drops_other_devices() -> None:
    records = [
        ("39 d 755 root:root 152 1.5 /.snapshots/2/snapshot", ""),
        ("39 f 644 root:root 5 2.5 /.snapshots/2/snapshot/etc/a file", ""),
        ("39 l 777 root:root 7 2.5 /.snapshots/2/snapshot/etc/link", "target"),
        ("85 d 555 root:root 0 1.0 /.snapshots/2/snapshot/proc", ""),
    ]
    text = "".join(f"{header}\0{link}\0" for header, link in records)
    entries, foreign = S.parse_tree(text, "/.snapshots/2/snapshot")
    assert set(entries) == {"/", "/etc/a file", "/etc/link"}
    assert entries["/etc/link"].link == "target" and entries["/etc/a file"].size == 5
    assert foreign == {"/proc"}
    live, _ = S.parse_tree("\n39 d 755 root:root 1 1 /\0\0" + "39 f 644 root:root 1 1 /etc/x\0\0", "")
    assert set(live) == {"/", "/etc/x"}


def test_limits_bounds() -> None:
    assert S.Limits.bounds("50") == (50, 50) and S.Limits.bounds("2-10") == (2, 10)
    for bad in ("x", "10-2", "-1"):
        with pytest.raises(BadInput):
            S.Limits.bounds(bad)


def test_fstab_keeps_subvolumes() -> None:
    subvolumes = [R.Subvolume(263, "/var/lib/demo"), R.Subvolume(0, "/.snapshots"), R.Subvolume(1, "/srv")]
    text = R.fstab_with_subvolumes(
        "UUID=u / btrfs defaults 0 0\nUUID=u /srv btrfs subvol=@/srv 0 0", "u", "@", subvolumes
    )
    assert text.splitlines()[-2:] == [
        "UUID=u /var/lib/demo btrfs subvol=/@/var/lib/demo 0 0",
        "UUID=u /.snapshots btrfs subvol=/@/.snapshots 0 0",
    ]
    assert R.fstab_with_subvolumes("x /srv btrfs d 0 0\n", "u", "/", [R.Subvolume(1, "/srv")]) == "x /srv btrfs d 0 0\n"


# --------------------------------------------------------------------------- against a fake host


class FakeHost(Connector):
    """Answers the facts script with recorded output and records every other command."""

    def __init__(self, facts: str, answer: Callable[[list[str]], Result | None] | None = None) -> None:
        self.name = "fake"
        self.address = "192.0.2.1"
        self.facts = facts
        self.answer = answer
        self.calls: list[list[str]] = []
        self.files: dict[str, bytes] = {}

    async def _execute(self, argv: list[str], stdin: bytes | None, timeout: float, sink: BinaryIO | None) -> Result:
        if argv == ["sh", "-s"] and stdin == S.FACTS_SCRIPT.encode():
            return Result(tuple(argv), 0, self.facts, "")
        self.calls.append(argv)
        found = self.answer(argv) if self.answer else None
        return found or Result(tuple(argv), 0, "", "")

    async def write_file(self, path: str, data: bytes, mode: int = 0o644, owner: str = "") -> None:
        self.files[path] = data


def ok(argv: list[str], out: str) -> Result:
    return Result(tuple(argv), 0, out, "")


def test_take_snapshot_with_snapper() -> None:
    host = FakeHost(RECORDED_SNAPPER, lambda argv: ok(argv, "3\n") if argv[0] == "snapper" else None)
    snap = asyncio.run(S.take_snapshot(host, "post", "after deploy", "run-7", important=True, pre_number=1))
    assert snap.number == 3 and snap.important and snap.run_id == "run-7"
    assert host.calls == [
        [
            "snapper", "-c", "root", "create", "--type", "post", "--print-number", "--description", "after deploy",
            "--cleanup-algorithm", "number", "--userdata", "fossp_run=run-7,important=yes", "--pre-number", "1",
        ]
    ]  # fmt: skip


def test_take_snapshot_with_btrfs_writes_info_first() -> None:
    host = FakeHost(
        RECORDED_BARE, lambda argv: ok(argv, "1\n") if "fossp-snapshot" in argv and "-r" not in argv else None
    )
    snap = asyncio.run(S.take_snapshot(host, "pre", "before deploy", "run-1"))
    assert snap.number == 1
    allocate, take = host.calls
    assert allocate[-1] == "/.snapshots" and take[-3:] == ["/", "/.snapshots/1", "-r"]
    info = S.parse_info_xml(1, host.files["/.snapshots/1/info.xml"].decode())
    assert (info.kind, info.description, info.cleanup, info.run_id) == ("pre", "before deploy", "number", "run-1")


def test_take_snapshot_refuses_before_changing_anything() -> None:
    full = RECORDED_BARE.replace("4096 8388608 7852178", "4096 8388608 1000")
    host = FakeHost(full)
    with pytest.raises(HostError, match="the change does not start"):
        asyncio.run(S.take_snapshot(host, "pre", "x", "r"))
    for bad, kwargs in (
        (RECORDED_EXT4, {}),
        (RECORDED_BARE, {"run_id": "a,b"}),
        (RECORDED_BARE, {"kind": "weird"}),
        (RECORDED_BARE, {"kind": "post"}),
        (RECORDED_SNAPPER, {"kind": "post", "pre_number": 2}),  # 2 is a post, not a pre
    ):
        host = FakeHost(bad)
        args = {"kind": "pre", "run_id": "r", **kwargs}
        with pytest.raises(BadInput):
            asyncio.run(S.take_snapshot(host, args["kind"], "x", args["run_id"], pre_number=kwargs.get("pre_number")))
    assert host.calls == [] and host.files == {}


def test_take_snapshot_failure_is_a_host_error() -> None:
    def answer(argv: list[str]) -> Result | None:
        if "fossp-snapshot" in argv:
            return ok(argv, "5\n") if "-r" not in argv else Result(tuple(argv), 1, "", "No space left on device")
        return None

    host = FakeHost(RECORDED_BARE, answer)
    with pytest.raises(HostError, match="No space left"):
        asyncio.run(S.take_snapshot(host, "single", "x", "r"))


def test_delete_carries_on_past_a_failure() -> None:
    def answer(argv: list[str]) -> Result | None:
        return Result(tuple(argv), 1, "", "busy") if argv[-1] == "2" else None

    host = FakeHost(RECORDED_SNAPPER, answer)
    outcome = asyncio.run(S.delete_snapshots(host, [1, 2, 7]))
    assert outcome.deleted == [1, 7] and list(outcome.failed) == [2] and "busy" in outcome.failed[2]
    assert [c[-1] for c in host.calls] == ["7", "2", "1"]  # posts before their pres
    with pytest.raises(BadInput, match="no snapshot 9"):
        asyncio.run(S.delete_snapshots(FakeHost(RECORDED_SNAPPER), [9]))
    running = RECORDED_SNAPPER.replace("@@fossp:rootid@@\n258", "@@fossp:rootid@@\n260")
    with pytest.raises(BadInput, match="running root"):
        asyncio.run(S.delete_snapshots(FakeHost(running), [1]))


def test_restore_refusals() -> None:
    for text, number, message in (
        (RECORDED_BARE, 1, "has no snapshots"),
        (RECORDED_SNAPPER, 9, "no snapshot 9"),
        (RECORDED_SNAPPER, 7, "has no subvolume"),
        (RECORDED_SNAPPER, 1, "default subvolume is 5"),  # boots a named subvolume: set-default would do nothing
        (RECORDED_EXT4, 1, "not BTRFS"),
    ):
        host = FakeHost(text)
        with pytest.raises(BadInput, match=message):
            asyncio.run(R.restore(host, number, "r"))
        assert not any(call[0] in ("btrfs", "snapper") for call in host.calls) and host.files == {}


def _lab(text: str) -> str:
    return text.replace("detect none", "file fossp-lab\ndetect none")


def test_restore_on_a_container_writes_the_pointer() -> None:
    host = FakeHost(_lab(RECORDED_SNAPPER), lambda argv: ok(argv, "3\n") if argv[0] == "snapper" else None)
    outcome = asyncio.run(R.restore(host, 1, "run-9"))
    assert outcome.method == "lab-restart" and "fossp lab restart fake" in outcome.takes_effect
    assert outcome.backup == 3 and outcome.kept == ["/var/lib/demo"]
    assert host.files[S.NEXT_ROOT_FILE] == b"1\n"
    snapper_calls = [c for c in host.calls if c[0] == "snapper"]
    assert (
        len(snapper_calls) == 1
        and "important=yes" in snapper_calls[0][-1]
        and "before restore to 1" in snapper_calls[0]
    )
    assert not any("set-default" in c for c in host.calls)


def test_restore_on_a_machine_switches_the_default() -> None:
    # The root is the file system's top (id 5, the default): paths from the top lose "roots/sx-1/".
    boots_default = (
        RECORDED_SNAPPER.replace("@@fossp:rootid@@\n258", "@@fossp:rootid@@\n5")
        .replace("roots/sx-1/", "")
        .replace("@@fossp:rootpath@@\nroots/sx-1", "@@fossp:rootpath@@\n/")
    )

    def answer(argv: list[str]) -> Result | None:
        if argv[0] == "snapper":
            return ok(argv, "4\n" if "--read-write" in argv else "3\n")
        if argv[:3] == ["btrfs", "inspect-internal", "rootid"]:
            return ok(argv, "270\n")
        if argv[0] == "cat":
            return ok(argv, "UUID=x / btrfs defaults 0 0\n")
        return None

    host = FakeHost(boots_default, answer)
    outcome = asyncio.run(R.restore(host, 1, "run-9"))
    assert (outcome.method, outcome.backup, outcome.new_root) == ("set-default", 3, 4)
    assert "next boot" in outcome.takes_effect
    copy = next(c for c in host.calls if "--read-write" in c)
    assert copy[-2:] == ["--from", "1"]
    assert host.calls[-2] == ["btrfs", "subvolume", "set-default", "270", "/"]  # last, then the lock goes
    fstab = host.files["/.snapshots/4/snapshot/etc/fstab"].decode()
    assert "/var/lib/demo btrfs subvol=/var/lib/demo" in fstab and "/.snapshots btrfs subvol=/.snapshots" in fstab


def test_cleanup_reports_and_plans() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    host = FakeHost(RECORDED_SNAPPER)
    outcome = asyncio.run(S.cleanup(host, S.Limits("0", "0", 0), now=now, dry_run=True))
    assert outcome.planned == [1, 2] and outcome.deleted == [] and "7" in outcome.kept[0]


def _run() -> Run:
    return Run(id="run-1", command="deploy", roles=["FOSSP-WDSNG"])


def test_a_run_takes_a_pre_and_a_post_naming_it() -> None:
    numbers = iter(["1\n", "4\n"])  # the recording holds pre 1 already (a fake host's facts do not grow)
    host = FakeHost(
        RECORDED_SNAPPER,
        lambda argv: ok(argv, next(numbers)) if argv[:4] == ["snapper", "-c", "root", "create"] else None,
    )
    snapshots: dict[str, int] = {}
    notes: list[str] = []
    asyncio.run(pre_snapshot(host, Facts(host="fake", root_fs="btrfs"), True, _run(), snapshots, quiet))
    asyncio.run(post_snapshot(host, _run(), snapshots, notes))
    assert snapshots == {"pre": 1, "post": 4} and notes == []
    creates = [c for c in host.calls if c[:4] == ["snapper", "-c", "root", "create"]]
    assert [(c[c.index("--type") + 1], c[-1] if "--pre-number" in c else None) for c in creates] == [
        ("pre", None),
        ("post", "1"),
    ]


def test_no_snapshot_where_the_root_is_not_btrfs_or_nothing_changes() -> None:
    host = FakeHost(RECORDED_SNAPPER)
    snapshots: dict[str, int] = {}
    asyncio.run(pre_snapshot(host, Facts(host="fake", root_fs="ext4"), True, _run(), snapshots, quiet))
    asyncio.run(pre_snapshot(host, Facts(host="fake", root_fs="btrfs"), False, _run(), snapshots, quiet))
    asyncio.run(post_snapshot(host, _run(), snapshots, []))
    assert snapshots == {} and host.calls == []


def test_a_full_disk_refuses_the_pre_snapshot_and_the_run_does_not_start() -> None:
    host = FakeHost(RECORDED_BARE.replace("4096 8388608 7852178", "4096 8388608 100"))
    snapshots: dict[str, int] = {}
    with pytest.raises(HostError, match="the change does not start"):
        asyncio.run(pre_snapshot(host, Facts(host="fake", root_fs="btrfs"), True, _run(), snapshots, quiet))
    assert snapshots == {} and host.calls == [] and host.files == {}
