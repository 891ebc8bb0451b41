"""An interrupted clone (issue 19): running it again finishes it; status and push there say what to do."""

from __future__ import annotations

from pathlib import Path

from test_multidevice import World, run_fog

STOP_AFTER_WRITING = """
import fog.sync.pull as P
_real = P.apply_plans
def _stop(*a, **k):
    _real(*a, **k)  # the files are in place, nothing is recorded yet
    raise KeyboardInterrupt
P.apply_plans = _stop
"""


def test_interrupted_clone_resumes_and_is_never_pushed_half_done(tmp_path: Path) -> None:
    world = World(tmp_path, tmp_path / "remote", tmp_path / "master.key")
    a = world.init("laptop")
    for i in range(5):
        a.write(f"docs/f{i}.txt", f"{i}\n")
    a.push()
    b = world.device("desktop")
    argv = ["clone", world.remote, b.root, "--master-key-file", world.key, "--device-name", "desktop"]
    run_fog(argv, home=b.home, cwd=tmp_path, expect=130, patch=STOP_AFTER_WRITING)
    assert (b.root / "docs/f0.txt").is_file()  # the partial tree

    r = b.fog("status", expect=1)
    assert "clone" in r.error_line() and "added" not in r.out.lower()
    r = b.fog("push", expect=1)
    line = r.error_line()
    assert "unfinished clone" in line and "fog clone" in line
    assert b.fog("log", "--json").json() == []  # nothing recorded, nothing published

    r = run_fog(argv, home=b.home, cwd=tmp_path)  # the same command again finishes it
    assert "Cloned share" in r.out
    assert b.tree() == a.tree()
    assert b.fog("status", "--json").json()["clean"]
    assert b.fog("push", "--json").json()["batch"] is None
