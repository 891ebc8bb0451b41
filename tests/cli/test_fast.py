"""The typer-free fast path (fog.cli.fast) says and does exactly what the typer commands do."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fogcli import Share, init_share, run_fog

from fog.cli import fast

_TIMES = re.compile(r"\d+(\.\d+)?s \([\d.]+ (B|KiB|MiB|GiB)/s\)")


_IDS = re.compile(r"\b[0-9a-f]{12,64}\b")  # version ids differ: each share has its own keys
_DATES = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}Z?")
_NS = re.compile(r'"(time_ns|mtime_ns)": \d+')


def _normal(text: str) -> str:
    """Output with what differs between two identical shares (timings, ids, clocks) blanked."""
    text = _TIMES.sub("T", text)
    try:
        text = json.dumps(_drop_seconds(json.loads(text)), sort_keys=True)
    except ValueError:
        pass
    text = _NS.sub("NS", _DATES.sub("D", _IDS.sub("H", text)))
    return "\n".join(sorted(text.splitlines()))  # versions of one push tie on time; ids (random) order them


def _drop_seconds(doc: object) -> object:
    if isinstance(doc, dict):
        return {k: _drop_seconds(v) for k, v in doc.items() if k != "seconds"}
    if isinstance(doc, list):
        return [_drop_seconds(v) for v in doc]
    return doc


def _both(tmp: Path, monkeypatch: pytest.MonkeyPatch, steps: list[tuple[str, ...]]) -> None:
    """Run the same steps on two identical shares, one per path; compare every result."""
    results: dict[str, list[tuple[int, str, str]]] = {}
    for mode in ("fast", "typer"):
        base = tmp / mode
        base.mkdir()
        monkeypatch.setenv("FOG_HOME", str(base / "home"))
        if mode == "typer":
            monkeypatch.setenv("FOG_NO_FAST", "1")
        else:
            monkeypatch.delenv("FOG_NO_FAST", raising=False)
        share = init_share(base)
        out = []
        for step in steps:
            if step[0] == "write":
                share.write(step[1], step[2])
                continue
            if step[0] == "rm":
                (share.root / step[1]).unlink()
                continue
            argv = [a.replace("{share}", str(share.root)) for a in step]
            if mode == "fast" and "-C" not in argv[:1]:
                assert fast.parse(argv) is not None, argv  # this step really takes the fast path
            r = run_fog(argv, share.root, expect=None)
            out.append((r.rc, _normal(r.out.replace(str(base), "BASE")), _normal(r.err.replace(str(base), "BASE"))))
        results[mode] = out
    for fast_result, typer_result, step in zip(
        results["fast"], results["typer"], [s for s in steps if s[0] not in ("write", "rm")], strict=True
    ):
        assert fast_result == typer_result, step


def test_push_and_status_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _both(
        tmp_path,
        monkeypatch,
        [
            ("status",),
            ("status", "--json"),
            ("write", "a.txt", "one\n"),
            ("write", "dir/b.txt", "two\n"),
            ("status",),
            ("status", "--json"),
            ("push", "--dry-run"),
            ("push", "-n", "--json"),
            ("push",),
            ("push", "--json"),
            ("push", "-q"),
            ("write", "a.txt", "changed\n"),
            ("push", "--quiet", "--no-progress"),
            ("push", "no-such-remote"),
            ("push", "--json", "no-such-remote"),
            ("push", "--max-delete", "nonsense"),
            ("push", "--max-delete=0", "--wait"),
            ("-C", "{share}", "status"),
            ("log", "a.txt"),
            ("log", "a.txt", "--json"),
            ("log", "a.txt", "-n", "1"),
            ("log", "a.txt", "--max-count=1", "--json"),
            ("log",),
            ("log", "dir"),
            ("log", "no-such-file"),
        ],
    )


def test_pull_and_sync_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _both(
        tmp_path,
        monkeypatch,
        [
            ("pull",),
            ("pull", "-q"),
            ("pull", "--json", "origin"),
            ("sync", "-q"),
            ("write", "x.txt", "x\n"),
            ("sync",),
            ("sync", "--json"),
            ("rm", "x.txt"),
            ("sync", "--max-delete", "0", "-q"),
        ],
    )


def test_clone_matches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results: dict[str, list[tuple[int, str, str]]] = {}
    for mode in ("fast", "typer"):
        base = tmp_path / mode
        base.mkdir()
        monkeypatch.setenv("FOG_HOME", str(base / "home"))
        if mode == "typer":
            monkeypatch.setenv("FOG_NO_FAST", "1")
        else:
            monkeypatch.delenv("FOG_NO_FAST", raising=False)
        share = init_share(base)
        share.write("a.txt", "one\n")
        share.write("d/b.txt", "two\n")
        share.push()
        key, remote = str(share.key_file), str(share.remote)
        runs: list[tuple[list[str], dict[str, str]]] = [
            (["clone", remote, "c1", "--master-key-file", key], {}),
            (["clone", remote, str(base / "c2"), "--master-key-file", key, "--json", "--device-name", "laptop"], {}),
            (["clone", remote, "c3"], {"FOG_MASTER_KEY_FILE": key}),
            (["clone", remote, "c4", "--master-key-file", str(base / "missing")], {}),
            (["clone", str(base / "no-remote"), "c5", "--master-key-file", key, "--json"], {}),
            (["clone", remote, "c1", "--master-key-file", key], {}),  # not empty any more
            (["clone", remote, "c1", "--master-key-file", key, "--into-existing"], {}),  # .fog/ is there
            (["clone", remote, "c6", "--into-existing", "--master-key-file", key, "--json"], {}),
        ]
        (base / "c6").mkdir()
        (base / "c6" / "a.txt").write_text("one\n")  # adopted
        (base / "c6" / "mine.txt").write_text("mine\n")  # kept, for the next push
        out = []
        for i, (argv, env) in enumerate(runs):
            monkeypatch.setenv("FOG_HOME", str(base / f"home{i}"))  # a new device each time
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            if mode == "fast":
                assert fast.parse(argv) is not None, argv
            r = run_fog(argv, base, expect=None)
            for name in env:
                monkeypatch.delenv(name)
            out.append((r.rc, _normal(r.out.replace(str(base), "BASE")), _normal(r.err.replace(str(base), "BASE"))))
        assert (base / "c1" / "a.txt").read_text() == "one\n" and (base / "c3" / "d" / "b.txt").read_text() == "two\n"
        assert (base / "c6" / "mine.txt").read_text() == "mine\n" and (base / "c6" / "d" / "b.txt").is_file()
        results[mode] = out
    assert [rc for rc, _, _ in results["fast"]] == [0, 0, 0, 1, 1, 1, 1, 0]
    assert results["fast"] == results["typer"]


def test_errors_outside_a_share_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home"))
    got = {}
    for mode in ("fast", "typer"):
        if mode == "typer":
            monkeypatch.setenv("FOG_NO_FAST", "1")
        got[mode] = [
            (r.rc, r.out, r.err)
            for r in (run_fog([*argv], tmp_path, expect=None) for argv in (["push"], ["status", "--json"]))
        ]
    assert got["fast"] == got["typer"]
    assert got["fast"][0][0] == 1 and "not inside a fog share" in got["fast"][0][2]


@pytest.mark.parametrize(
    "argv",
    [
        ["push", "--help"],
        ["push", "-qn"],
        ["push", "--debug"],
        ["--debug", "push"],
        ["push", "a", "b"],
        ["push", "--max-delete"],
        ["log", "--until", "x"],
        ["-C"],
        ["-C", "/no/such/dir", "push"],
        ["status", "origin"],
        ["pull", "--dry-run"],  # (pull has none; --no-progress it has, since progress came to pull)
        ["log", "--since", "2h"],
        ["log", "-n", "-1"],
        ["log", "-n", "x"],
        ["log", "a", "b"],
        ["clone", "url", "dir"],  # no key file or command: a prompt on a terminal, else typer's usage error
        ["clone", "url", "--master-key-file", "k"],
        ["clone", "url", "dir", "extra", "--master-key-file", "k"],
        ["clone", "url", "dir", "--master-key-file", "k", "--help"],
        [],
    ],
)
def test_anything_else_goes_to_typer(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FOG_MASTER_KEY_FILE", raising=False)
    monkeypatch.delenv("FOG_MASTER_KEY_COMMAND", raising=False)
    assert fast.parse(argv) is None


def test_log_colours_match_typer() -> None:
    import typer

    from fog.cli import text

    for color in ("red", "green", "yellow", "cyan", "blue", "magenta"):
        assert text.paint("x", color, True) == typer.style("x", fg=color)
    assert text.paint("x", "red", False) == "x"


def test_fast_path_handles_the_cron_line(share: Share) -> None:
    assert fast.parse(["sync", "--quiet"]) == (
        "sync",
        str(Path.cwd()),
        {"quiet": True, "as_json": False, "no_progress": False, "wait": False, "remote": None, "max_delete": None},
    )
    share.write("f", "data\n")
    r = share.fog("sync", "--quiet")
    assert (r.rc, r.out, r.err) == (0, "", "")


def test_version_matches_typer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home"))
    fast_run = run_fog(["--version"], tmp_path)
    assert fast.run(["--version"]) == 0  # answered here, not by typer
    monkeypatch.setenv("FOG_NO_FAST", "1")
    typer_run = run_fog(["--version"], tmp_path)
    assert (fast_run.rc, fast_run.out, fast_run.err) == (typer_run.rc, typer_run.out, typer_run.err)
    assert fast_run.out.startswith("fog ")


def test_as_doc_is_asdict_without_the_copies() -> None:
    import dataclasses

    from fog.cli import text

    @dataclasses.dataclass
    class Inner:
        names: list[str]
        sizes: dict[str, int]

    @dataclasses.dataclass
    class Outer:
        inner: Inner
        many: list[Inner]
        pair: tuple[int, str]
        note: str | None = None

    doc = Outer(Inner(["a", "b"], {"x": 1}), [Inner([], {}), Inner(["c"], {"y": 2})], (1, "z"))
    assert json.dumps(text.as_doc(doc)) == json.dumps(dataclasses.asdict(doc))
    paths = [f"dir/{i}" for i in range(3)]
    assert text.as_doc(Inner(paths, {}))["names"][0] is paths[0]  # the strings themselves, not copies
