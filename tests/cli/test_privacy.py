"""The remote holds no file name, directory name or content in plaintext (issue 2, "Must hold" 2)."""

from __future__ import annotations

import os
from pathlib import Path

from fogcli import Share, init_share, run_fog


def _needles(text: str) -> list[bytes]:
    """A name as the remote might spell it: UTF-8, UTF-16, and URL-ish lowercase."""
    return [text.encode(), text.encode("utf-16-le"), text.lower().encode()]


def test_remote_holds_no_plaintext_names_or_content(tmp_path: Path) -> None:
    share = init_share(tmp_path, "zanzibarshare", "--name", "Quetzal-Share-Name", "--device-name", "Okapi-Laptop-77")
    dirs = ["Xylophone-Archive", "Xylophone-Archive/Marmalade-Ledgers", "Émeraude-Dossier"]
    files = {
        "Xylophone-Archive/Marmalade-Ledgers/tax-return-Fennec.pdf": b"COMPRESSIBLE-SECRET-Wombat " * 8000,
        "Xylophone-Archive/holiday-Narwhal.txt": b"Dear Narwhal, the password is hunter2-Pangolin.\n",
        "Émeraude-Dossier/rapport-Ocelot-ñ.txt": "Texte confidentiel Ocelot ñ ✓ \n".encode() * 50,
        "top-level-Axolotl.bin": os.urandom(300 * 1024),  # incompressible, several blocks
        "small-Quokka.bin": os.urandom(200),
    }
    for d in dirs:
        (share.root / d).mkdir(parents=True, exist_ok=True)
    (share.root / "Empty-Dir-Tapir").mkdir()
    for rel, data in files.items():
        share.write(rel, data)
    os.symlink("Xylophone-Archive/holiday-Narwhal.txt", share.root / "link-to-Lemur")
    doc = share.push()
    assert doc["files_read"] == len(files)
    # a second version of one file, and a deletion, so history holds more names
    share.write("Xylophone-Archive/holiday-Narwhal.txt", b"Second secret Capybara-Ledger\n")
    (share.root / "small-Quokka.bin").unlink()
    share.push()

    names: set[str] = {"Quetzal-Share-Name", "Okapi-Laptop-77", "zanzibarshare", "Empty-Dir-Tapir", "link-to-Lemur"}
    for rel in [*files, *dirs]:
        names.add(rel)
        names.update(rel.split("/"))
        names.update(Path(part).stem for part in rel.split("/"))
    contents: list[bytes] = [
        b"COMPRESSIBLE-SECRET-Wombat",
        b"hunter2-Pangolin",
        b"Capybara-Ledger",
        b"Texte confidentiel Ocelot",
    ]
    for data in (files["top-level-Axolotl.bin"], files["small-Quokka.bin"]):
        contents += [data[i : i + 24] for i in range(0, len(data) - 24, max(1, len(data) // 16))]

    remote_files = [p for p in share.remote.rglob("*") if p.is_file()]
    assert len(remote_files) >= 4, remote_files  # marker, SyncConfig, batch, pack(s)
    assert share.packs()
    for p in share.remote.rglob("*"):
        rel = p.relative_to(share.remote).as_posix()
        for name in names:
            for part in rel.split("/"):
                assert name.lower() not in part.lower(), (name, rel)
        if not p.is_file():
            continue
        data = p.read_bytes()
        for name in names:
            for needle in _needles(name):
                assert needle not in data, (name, rel)
        for needle in contents:
            assert needle not in data, (needle[:16], rel)
    # only the format marker is readable text
    texts = [p for p in remote_files if p.name != "fog-store" and p.read_bytes().isascii()]
    assert texts == [], texts


def test_identical_content_in_two_shares_is_not_linkable(tmp_path: Path) -> None:
    """Two shares on one remote store the same file as unrelated objects."""
    one = init_share(tmp_path, "one")
    data = os.urandom(600 * 1024)  # more than two maximal blocks
    one.write("same.bin", data)
    one.push()
    two_root = tmp_path / "two"
    run_fog(["init", two_root, "--remote", one.remote], tmp_path)
    two = Share(two_root, one.remote, one.key_file, tmp_path)
    two.write("same.bin", data)
    two.push()
    by_share: dict[str, dict[str, bytes]] = {}
    for p in one.objects():
        by_share.setdefault(p.share, {})[p.name] = p.read_bytes()
    assert len(by_share) == 2, by_share.keys()
    a, b = by_share.values()
    assert len(a) >= 2 and len(b) >= 2
    assert not set(a) & set(b)
    assert not set(a.values()) & set(b.values())
