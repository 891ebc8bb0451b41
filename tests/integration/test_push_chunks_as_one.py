"""A push of more files than one chunk is one push for `~N`, `fog log --pushes` and a tree restore.

Found by the trees review (session 14): a push publishes one batch per chunk of
CHUNK_FILES (8,192) files, and `~N` counted each batch as a push: after a
mass change of 20,000 files, `restore .@~1 --delete` undid the last chunk only.
"""

from __future__ import annotations

from pathlib import Path

from test_multidevice import World

SMALL_CHUNKS = "import fog.sync.push as _push\n_push.CHUNK_FILES = 3\n"


def test_a_push_of_several_chunks_is_one_push(tmp_path: Path) -> None:
    world = World(tmp_path, tmp_path / "remote", tmp_path / "master.key")
    a = world.init("laptop")
    for n in range(8):
        a.write(f"f{n}.txt", f"original {n}\n")
    a.write("old.txt", "deleted by the second push\n")
    a.fog("push", patch=SMALL_CHUNKS)
    (a.root / "old.txt").unlink()
    for n in range(8):  # every file "encrypted by ransomware", in one push of three chunks
        a.write(f"f{n}.txt", f"scrambled {n}\n")
    a.write("ransom-note.txt", "pay up\n")
    done = a.fog("push", "--json", patch=SMALL_CHUNKS).json()
    assert done["batches"] == {"origin": 6}, done  # 3 + 3 batches: the chunks were published one by one
    pushes = a.fog("log", "--pushes", "--json").json()
    assert len(pushes) == 2, pushes
    assert pushes[0]["versions"] == 10 and pushes[1]["versions"] == 9, pushes
    before = sorted([*(f"f{n}.txt" for n in range(8)), "old.txt"])
    assert sorted(e["path"] for e in a.fog("ls", ".@~1", "--json").json()["entries"]) == before
    a.fog("restore", ".@~1", "--delete", "--force")
    assert sorted(p.name for p in a.root.iterdir() if p.name != ".fog") == before
    assert all(a.read(f"f{n}.txt") == f"original {n}\n" for n in range(8))
    c = world.clone("phone")
    assert len(c.fog("log", "--pushes", "--json").json()) == 2  # read from the remote: the same two pushes
