"""FOG_HOME's secret files sealed under a passphrase (fog.repo.vault), with the real Argon2id and SecretBox."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fog.crypto import keys as K
from fog.crypto.keys import master_key_to_text
from fog.errors import IdentityError, PassphraseError
from fog.format import sealed as F
from fog.format.syncconfig import SyncConfig
from fog.repo import vault
from fog.repo.identity import Identity


class Source:
    """A passphrase source that counts how often it is asked (each ask is one Argon2id derivation)."""

    def __init__(self, passphrase: str) -> None:
        self.passphrase = passphrase
        self.asked = 0

    def __call__(self, home: Path) -> str:
        self.asked += 1
        return self.passphrase


@pytest.fixture(autouse=True)
def _no_source() -> Iterator[None]:
    vault.use_passphrase(None)
    yield
    vault.use_passphrase(None)


def _identity(home: Path) -> Identity:
    ident = Identity.create(home, name="pc")
    keys = K.ShareKeys.generate()
    shares = {keys.share_id.hex(): {"name": "notes", **keys.to_json(), "created": 1, "updated": 1, "removed": 0}}
    ident.cache_config(SyncConfig(ident.user_json(), {ident.device_id: ident.device_entry()}, shares))
    return ident


def _secrets(ident: Identity) -> list[str]:
    """What must never be on disk in clear: every secret key, as hex, and the master key's text."""
    config = ident.cached_config()
    assert config is not None
    found = [ident.device_secret.hex(), ident.sign_secret.hex(), ident.user_secret.hex()]
    found += [str(share["data_key"]) for share in config.shares.values()]
    found += [str(share["mac_key"]) for share in config.shares.values()]
    return [*found, master_key_to_text(ident.master_key), master_key_to_text(ident.master_key).replace("-", "")]


def _disk(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(home.iterdir()) if p.is_file()}


def _assert_sealed(home: Path, ident: Identity) -> None:
    files = _disk(home)
    for name in vault.SECRET_FILES:
        if name in files:
            assert files[name].startswith(F.MAGIC), name
    blob = b"".join(files.values())
    for secret in _secrets(ident):
        assert secret.encode() not in blob and secret.upper().encode() not in blob


def test_protect_seals_every_secret_and_unprotect_gives_back_the_same_bytes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ident = _identity(home)
    config = ident.cached_config()
    assert config is not None
    ident.move_to(K.new_master_key(), config)  # a key rotation leaves master-key.old
    before = _disk(home)
    assert set(vault.SECRET_FILES) <= set(before)
    assert vault.protect(home, "correct horse") == sorted(vault.SECRET_FILES)
    assert vault.is_protected(home)
    _assert_sealed(home, ident)
    assert {oct(p.stat().st_mode & 0o777) for p in home.iterdir()} == {"0o600"}
    vault.use_passphrase(Source("correct horse"))  # a new process
    assert Identity.load(home) == ident
    assert ident.cached_config() is not None
    assert vault.unprotect(home) == sorted(vault.SECRET_FILES)
    assert _disk(home) == before and not vault.is_protected(home)
    assert vault.unprotect(home) == []  # nothing sealed: nothing to do


def test_one_derivation_per_process_and_every_write_stays_sealed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _identity(home)
    vault.protect(home, "correct horse")
    source = Source("correct horse")
    vault.use_passphrase(source)  # a new process: nothing derived yet
    ident = Identity.load(home)
    config = ident.cached_config()
    assert config is not None
    for n in range(20):
        ident.cache_config(config, {f"config/x/{n}"})
    ident.rename("laptop")
    ident.move_to(K.new_master_key(), config)  # (master key, user keypair and cached copy: one rotation)
    assert Identity.load(home).device_name == "laptop"
    assert source.asked == 1
    _assert_sealed(home, Identity.load(home))
    assert (home / "master-key.old").read_bytes().startswith(F.MAGIC)


def test_a_process_that_read_the_home_in_clear_writes_sealed_after_a_protect(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ident = _identity(home)  # loaded in clear, before the protect
    config = ident.cached_config()
    assert config is not None
    vault.protect(home, "correct horse")
    source = Source("correct horse")
    vault.use_passphrase(source)  # as another process would have it: no key derived
    ident.cache_config(config)
    ident.rename("other")
    assert source.asked == 1
    _assert_sealed(home, ident)


def test_a_wrong_passphrase_is_one_error_and_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ident = _identity(home)
    vault.protect(home, "correct horse")
    before = _disk(home)
    vault.use_passphrase(Source("wrong horse"))
    with pytest.raises(PassphraseError, match=r"wrong passphrase for .*home \(identity.json does not open with it\)"):
        Identity.load(home)
    with pytest.raises(PassphraseError, match="wrong passphrase"):
        ident.cache_config(SyncConfig(ident.user_json(), {}))  # never sealed under a key that is not the home's
    with pytest.raises(PassphraseError, match="wrong passphrase"):
        vault.protect(home, "new horse")
    with pytest.raises(PassphraseError, match="wrong passphrase"):
        vault.unprotect(home)
    assert _disk(home) == before


def test_no_passphrase_source_and_an_empty_passphrase(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _identity(home)
    with pytest.raises(PassphraseError, match="empty"):
        vault.protect(home, " \n")
    vault.protect(home, "correct horse")
    vault.use_passphrase(None)
    with pytest.raises(PassphraseError, match="sealed under a passphrase .* none was given"):
        Identity.load(home)
    vault.use_passphrase(Source(""))
    with pytest.raises(PassphraseError, match="empty"):
        Identity.load(home)


def test_a_changed_passphrase_opens_everything_and_the_old_one_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ident = _identity(home)
    vault.protect(home, "correct horse")
    salt = F.SealedFile.from_bytes((home / "identity.json").read_bytes()).salt
    vault.use_passphrase(Source("correct horse"))
    vault.protect(home, "  battery staple ")  # white space around it is not part of it
    assert F.SealedFile.from_bytes((home / "identity.json").read_bytes()).salt != salt
    vault.use_passphrase(Source("correct horse"))
    with pytest.raises(PassphraseError):
        Identity.load(home)
    vault.use_passphrase(Source("battery staple"))
    assert Identity.load(home) == ident and ident.cached_config() is not None
    _assert_sealed(home, ident)


def test_damage_is_told_apart_from_a_wrong_passphrase(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _identity(home)
    vault.protect(home, "correct horse")
    path = home / "syncconfig.json"
    stored = F.SealedFile.from_bytes(path.read_bytes())
    box = bytearray(stored.box)
    box[len(box) // 2] ^= 1
    path.write_bytes(F.SealedFile(stored.opslimit, stored.memlimit, stored.salt, bytes(box)).to_bytes())
    vault.use_passphrase(Source("correct horse"))
    ident = Identity.load(home)
    with pytest.raises(IdentityError, match="syncconfig.json is damaged .*opens identity.json.*delete it") as err:
        ident.cached_config()
    assert not isinstance(err.value, PassphraseError)
    path.write_bytes(F.MAGIC + b'{"kdf": "argon2id"}')
    with pytest.raises(IdentityError, match=r"syncconfig.json is damaged \(its JSON is not an object of exactly"):
        ident.cached_config()
    (home / "identity.json").write_bytes(b"fog-sealed 7\n{}")
    with pytest.raises(IdentityError, match="identity.json is damaged .*a newer fog.*fog clone"):
        Identity.load(home)


def test_a_file_in_clear_in_a_protected_home_is_read_and_sealed_by_the_next_protect(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ident = _identity(home)
    vault.protect(home, "correct horse")
    (home / "master-key").write_text(master_key_to_text(ident.master_key) + "\n")  # restored by hand
    vault.use_passphrase(Source("correct horse"))
    assert Identity.load(home) == ident
    vault.protect(home, "correct horse")
    _assert_sealed(home, ident)


def test_protect_sweeps_what_a_crashed_write_left_in_clear(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ident = _identity(home)
    (home / ".syncconfig.json.tmp-99999").write_bytes((home / "syncconfig.json").read_bytes())
    vault.protect(home, "correct horse")
    assert not (home / ".syncconfig.json.tmp-99999").exists()
    _assert_sealed(home, ident)


def test_a_change_stopped_between_two_renames_is_finished_by_the_next_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    ident = _identity(home)
    vault.protect(home, "old horse")
    real_replace = os.replace
    renamed: list[str] = []

    def crash_after_one(src: str | Path, dst: str | Path) -> None:
        if str(src).endswith(".reseal"):
            if renamed:
                raise KeyboardInterrupt  # the power goes: identity.json is new, the others are not yet
            renamed.append(str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_after_one)
    vault.use_passphrase(Source("old horse"))
    with pytest.raises(KeyboardInterrupt):
        vault.protect(home, "new horse")
    monkeypatch.setattr(os, "replace", real_replace)
    assert renamed == [str(home / "identity.json")] and (home / vault.JOURNAL).exists()
    vault.use_passphrase(Source("new horse"))  # the next process, which knows only the new passphrase
    assert Identity.load(home) == ident and ident.cached_config() is not None
    assert not (home / vault.JOURNAL).exists()
    assert not [p.name for p in home.iterdir() if p.name.endswith(".reseal")]
    _assert_sealed(home, ident)


def test_an_unprotect_stopped_while_staging_leaves_the_home_sealed_and_nothing_in_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    ident = _identity(home)
    vault.protect(home, "correct horse")
    before = _disk(home)
    real_fsync = os.fsync
    calls: list[int] = []

    def crash_while_staging(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 5:  # journal, its directory, two staged files in clear, then the power goes
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", crash_while_staging)
    with pytest.raises(KeyboardInterrupt):
        vault.unprotect(home)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert [p.name for p in home.iterdir() if p.name.endswith(".reseal")]  # the crash left plaintext staged
    vault.use_passphrase(Source("correct horse"))
    assert Identity.load(home) == ident  # the next process undoes it
    assert _disk(home) == before
    _assert_sealed(home, ident)


def test_protect_waits_for_a_reader_and_a_writer_waits_for_protect(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ident = _identity(home)
    config = ident.cached_config()
    assert config is not None
    done = threading.Event()

    def protect() -> None:
        vault.protect(home, "correct horse")
        done.set()

    with vault._locked(home):  # another fog process, reading
        thread = threading.Thread(target=protect)
        thread.start()
        time.sleep(0.3)
        assert not done.is_set() and not vault.is_protected(home)
    thread.join(10)
    assert done.is_set() and vault.is_protected(home)

    vault.use_passphrase(Source("correct horse"))
    written = threading.Event()

    def write() -> None:
        ident.cache_config(config)
        written.set()

    with vault._locked(home, exclusive=True):  # a protect, running
        thread = threading.Thread(target=write)
        thread.start()
        time.sleep(0.3)
        assert not written.is_set()
    thread.join(10)
    assert written.is_set()
    _assert_sealed(home, ident)


def test_a_secret_is_never_written_through_a_link_planted_at_its_temporary_name(tmp_path: Path) -> None:
    """In a directory others can write, links planted at `.NAME.tmp-PID` received the secret into a file
    the planter owns (review 5, keys 4): the temporary name is random and created exclusively."""
    loot = tmp_path / "loot"
    loot.write_bytes(b"")
    for pid in {os.getpid(), *range(os.getpid() - 2, os.getpid() + 3)}:
        (tmp_path / f".mk.txt.tmp-{pid}").symlink_to(loot)
    vault.write_private(tmp_path / "mk.txt", b"SECRET\n")
    assert loot.read_bytes() == b""
    assert (tmp_path / "mk.txt").read_bytes() == b"SECRET\n" and not (tmp_path / "mk.txt").is_symlink()
    assert (tmp_path / "mk.txt").stat().st_mode & 0o777 == 0o600
