"""Sharing a share with another user (docs/FORMAT.md, section 16), and the attacks a member can try."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest

from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import EXIT_INTEGRITY, EXIT_REVOKED, IntegrityError
from fog.format import roster as R
from fog.repo.identity import Identity
from tests.integration.test_multidevice import Device, World, run_fog

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import man_text  # noqa: E402


@pytest.fixture
def alice(tmp_path: Path) -> Device:
    world = World(tmp_path, tmp_path / "remote", tmp_path / "alice.key")
    a = world.init("alice-laptop")
    a.write("doc.txt", "alice's first draft\n")
    a.write("sub/data.bin", b"\x00\x01" * 50_000)
    a.push()
    return a


def user(alice: Device, name: str, *, own_share: bool = True) -> Device:
    """Another user on another machine: own FOG_HOME, own master key (and, with own_share, a share of their own)."""
    tmp = alice.world.tmp
    other = World(tmp, tmp / f"remote-{name}", tmp / f"{name}.key")
    d = other.device(name)
    if own_share:
        run_fog(
            [
                "init",
                tmp / f"{name}-own",
                "--remote",
                other.remote,
                "--master-key-file",
                other.key,
                "--device-name",
                name,
            ],
            home=d.home,
            cwd=tmp,
        )
    d.root = tmp / f"{name}-shared"
    d.world = alice.world  # (log_files of the shared remote)
    return d


def user_key(d: Device) -> str:
    return json.loads(run_fog(["key", "show", "--json"], home=d.home, cwd=d.world.tmp).out)["user_key"]


def accept(alice: Device, d: Device, *extra: str, expect: int = 0) -> None:
    run_fog(["clone", alice.world.remote, d.root, "--invited", *extra], home=d.home, cwd=alice.world.tmp, expect=expect)


def member(alice: Device, name: str) -> Device:
    """Another user, invited read-write by alice (`--name NAME`) and their clone of her share made."""
    d = user(alice, name)
    alice.fog("share", "invite", "--user", user_key(d), "--name", name)
    accept(alice, d)
    return d


def test_invite_clone_edit_and_history_across_users(alice: Device) -> None:
    bob = user(alice, "bob")
    r = alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob")
    assert "invited bob" in r.out
    accept(alice, bob)
    assert bob.read("doc.txt") == "alice's first draft\n"
    assert (bob.root / "sub/data.bin").read_bytes() == b"\x00\x01" * 50_000
    bob.write("doc.txt", "bob's edit\n")
    bob.push()
    alice.pull()
    assert alice.read("doc.txt") == "bob's edit\n"
    log = alice.fog("log", "doc.txt").out
    assert "(bob)" in log and "alice-laptop" in log
    alice.write("doc.txt", "alice again\n")
    alice.push()
    bob.pull()
    assert bob.read("doc.txt") == "alice again\n"
    # both edit at once: a conflict copy, as between two devices of one user
    alice.write("doc.txt", "alice's concurrent edit\n")
    bob.write("doc.txt", "bob's concurrent edit\n")
    alice.push()
    bob.fog("sync", expect=(0, 3))
    alice.pull(expect=(0, 3))
    texts = {p.read_text() for p in [alice.root / "doc.txt", *alice.conflicts()]}
    assert texts == {"alice's concurrent edit\n", "bob's concurrent edit\n"}
    # history and restore of another user's version
    bob_version = next(v for v in alice.fog("log", "doc.txt", "--json").json() if "(bob)" in v["device"])
    alice.fog("restore", f"doc.txt@{bob_version['version'][:12]}", "--output", alice.world.tmp / "restored.txt")
    assert (alice.world.tmp / "restored.txt").read_text() in ("bob's edit\n", "bob's concurrent edit\n")
    members = {m["name"]: m for m in alice.fog("share", "members", "--json").json()}
    assert members["bob"]["role"] == "member" and members["bob"]["devices"] == ["bob"]
    assert [m["role"] for m in members.values() if m["this_user"]] == ["owner"]


def test_a_user_without_an_identity_is_made_one_and_a_second_device_of_theirs_joins(alice: Device) -> None:
    carol = user(alice, "carol", own_share=False)
    alice.fog("share", "invite", "--user", "fogpub-x", expect=2)  # (a typo: refused before anything is written)
    r = run_fog(["clone", alice.world.remote, carol.root, "--invited"], home=carol.home, cwd=alice.world.tmp, expect=2)
    assert "--master-key-file" in r.error_line()
    # carol has no key yet: make her identity with a throwaway invite-less run, then invite her
    key_file = alice.world.tmp / "carol.key"
    r = run_fog(
        ["clone", alice.world.remote, carol.root, "--invited", "--master-key-file", key_file, "--device-name", "carol"],
        home=carol.home,
        cwd=alice.world.tmp,
        expect=1,
    )
    assert "no invitation for this user" in r.error_line()
    alice.fog("share", "invite", "--user", user_key(carol), "--name", "carol")
    accept(alice, carol)
    assert carol.read("doc.txt") == "alice's first draft\n"
    # carol's second machine joins with carol's master key and writes; alice accepts its batches
    phone = Device("carol-phone", alice.world.tmp / "home-carol-phone", alice.world.tmp / "carol-phone", alice.world)
    phone.home.mkdir()
    run_fog(
        ["clone", alice.world.remote, phone.root, "--master-key-file", key_file, "--device-name", "carol-phone"],
        home=phone.home,
        cwd=alice.world.tmp,
    )
    phone.write("from-phone.txt", "carol's phone\n")
    phone.push()
    alice.pull()
    assert alice.read("from-phone.txt") == "carol's phone\n"
    members = {m["name"]: m for m in alice.fog("share", "members", "--json").json()}
    assert sorted(members["carol"]["devices"]) == ["carol", "carol-phone"]


def test_a_read_only_member_cannot_push_and_a_patched_client_is_refused(alice: Device) -> None:
    bob = user(alice, "bob")
    doc = alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob", "--read-only", "--json").json()
    assert set(man_text.JSON_FIELDS["share invite"]) == set(doc) and doc["read_only"] is True
    accept(alice, bob)
    bob.write("doc.txt", "bob tries to write\n")
    r = bob.fog("push", expect=1)
    assert "read-only" in r.error_line()
    # nor does a forget publish anything (it wrote a batch on alice's remote); its dry run still shows
    alice.write("notes.txt", "one\n")
    alice.push()
    alice.write("notes.txt", "two\n")
    alice.push()
    bob.pull()
    logs = set(alice.world.log_files())
    assert "notes.txt" in bob.fog("forget", "-n", "--keep-last", "1", "notes.txt").out
    assert "read-only" in bob.fog("forget", "--keep-last", "1", "notes.txt", expect=1).error_line()
    assert set(alice.world.log_files()) == logs and len(bob.fog("log", "notes.txt", "--json").json()) == 2
    # bob's fog, patched to skip its own check, pushes anyway: every other member sets it aside
    patched = bob.fog(
        "push",
        patch=(
            "import fog.api as _a\n"
            "def _no_check(ctxs, **_):\n"
            "    for c in ctxs:\n"
            "        _a.pull_mod.refresh_config(c)\n"
            "    return ctxs\n"
            "_a.follow_rotation = _no_check\n"
        ),
        expect=None,
    )
    assert patched.rc == 0, str(patched)
    first = alice.pull()
    assert alice.read("doc.txt") == "alice's first draft\n"
    assert "'bob (bob)' belongs to a read-only member" in first.err and first.err.count("\n") == 1
    again = alice.pull()
    assert again.err == ""  # told once, not at every run


def test_inviting_a_member_again_changes_what_their_fog_allows(alice: Device) -> None:
    """README: inviting someone again (say with --read-only) replaces their role. The roster changed, but the
    member's fog went by the invitation it cloned with: bob, made read-only, still pushed (exit 0, then set
    aside by everyone: his edit silently lost); carol, made read-write, was still refused."""
    bob, carol = user(alice, "bob"), user(alice, "carol")
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob")
    alice.fog("share", "invite", "--user", user_key(carol), "--name", "carol", "--read-only")
    accept(alice, bob)
    accept(alice, carol)
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob", "--read-only")
    alice.fog("share", "invite", "--user", user_key(carol), "--name", "carol")
    bob.write("doc.txt", "bob, now read-only\n")
    assert "shared with you read-only" in bob.fog("push", expect=1).error_line()
    carol.write("carol.txt", "carol, now a writer\n")
    carol.push()
    alice.pull()
    assert alice.read("carol.txt") == "carol, now a writer\n"
    assert alice.read("doc.txt") == "alice's first draft\n"


def test_a_read_only_members_sync_pulls_then_refuses_to_push_like_push(alice: Device) -> None:
    bob = user(alice, "bob")
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob", "--read-only")
    accept(alice, bob)
    assert bob.fog("sync").rc == 0  # nothing to push: a cron job's sync succeeds
    alice.write("notes.txt", "one\n")
    alice.push()
    assert bob.fog("sync").rc == 0 and bob.read("notes.txt") == "one\n"
    bob.write("doc.txt", "bob tries to write\n")
    alice.write("notes.txt", "two\n")
    alice.push()
    logs = set(alice.world.log_files())
    r = bob.fog("sync", expect=1)
    assert bob.read("notes.txt") == "two\n"  # the pull part ran
    assert "pushed" not in r.out and set(alice.world.log_files()) == logs
    assert r.error_line() == bob.fog("push", expect=1).error_line()
    assert "shared with you read-only" in r.error_line() and "unpushed" in r.error_line()
    assert bob.fog("sync", "--json", expect=1).out == ""
    alice.pull()
    assert alice.read("doc.txt") == "alice's first draft\n"


def test_a_removed_member_reads_nothing_pushed_later_and_its_batches_are_refused(alice: Device) -> None:
    bob = member(alice, "bob")
    doc = alice.fog("share", "remove-member", "bob", "--json").json()
    assert set(man_text.JSON_FIELDS["share remove-member"]) == set(doc) and doc["role"] == "removed"
    before = set(alice.world.log_files())
    alice.write("secret.txt", "after bob left: TOP SECRET\n")
    alice.push()
    later = set(alice.world.log_files()) - before
    assert later
    bob.fog("pull", expect=None)
    assert not (bob.root / "secret.txt").exists()
    # bob's keys: none opens a batch alice wrote after the removal
    ident = Identity.load(bob.home)
    cfg = ident.cached_config()
    assert cfg is not None
    bob_keys = [K.ShareKeys.from_json(sid, e) for sid, e in cfg.shares.items() if e.get("owner")]
    assert bob_keys and all(k.epoch == 0 for k in bob_keys)
    for path in later:
        stored = path.read_bytes()
        assert stored[0] == 0x02 and int.from_bytes(stored[1:5], "big") == 1  # sealed in epoch 1
        for key in (k for keys in bob_keys for k in keys.data_keys):
            with pytest.raises(IntegrityError):
                S.open_secret(K.derive(K.LABEL_BATCH_KEY, key), stored[1 + 4 + 64 :], "batch")
    # bob pushes after his removal: alice sets it aside, once, without exit 4
    bob.write("doc.txt", "bob after removal\n")
    bob.fog("push", expect=None)
    first = alice.pull()
    assert alice.read("doc.txt") == "alice's first draft\n"
    assert first.rc == 0
    assert alice.pull().err == ""
    members = {m["name"]: m for m in alice.fog("share", "members", "--json").json()}
    assert members["bob"]["role"] == "removed"


def test_a_member_cannot_make_itself_owner_or_invite_others(alice: Device) -> None:
    bob = user(alice, "bob")
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob", "--read-only")
    accept(alice, bob)
    r = bob.fog("share", "invite", "--user", user_key(alice), expect=2)
    assert "only the owner" in r.error_line()
    # bob writes a member statement, signed with his own user key, that lists mallory as a read-write member
    # and lifts his own read-only flag: the roster only takes the owner's word on membership
    ident = Identity.load(bob.home)
    cfg = ident.cached_config()
    assert cfg is not None
    sid, _ = next((s, e) for s, e in cfg.shares.items() if e.get("owner"))
    keys = K.ShareKeys.from_json(sid, cfg.shares[sid])
    me = {"box": ident.user_public.hex(), "sign": ident.user_sign_public.hex(), "name": "bob"}
    doc = {
        "format": 1,
        "share": sid,
        "user": me,
        "time_ns": time.time_ns(),
        "devices": {},
        "members": {K.user_id(ident.user_public, ident.user_sign_public): {**me, "read_only": False}},
    }
    stored = R.seal_statement(ident.user_sign_secret, keys, doc)
    (alice.world.remote / "shares" / sid / "members" / ("f" * 64)).write_bytes(stored)
    members = {m["name"]: m for m in alice.fog("share", "members", "--json").json()}
    assert members["bob"]["role"] == "read-only"
    # a statement that claims to be the owner's but is signed by bob's key does not verify
    forged = bytearray(stored)
    forged[1:33] = bytes.fromhex(
        json.loads(run_fog(["key", "show", "--json"], home=alice.home, cwd=alice.world.tmp).out)["user_sign_public"]
    )
    (alice.world.remote / "shares" / sid / "members" / ("e" * 64)).write_bytes(bytes(forged))
    alice.pull()
    members = {m["name"]: m for m in alice.fog("share", "members", "--json").json()}
    assert members["bob"]["role"] == "read-only" and len(members) == 2


def test_an_invitation_opens_only_for_its_user(alice: Device) -> None:
    bob, eve = user(alice, "bob"), user(alice, "eve")
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob")
    r = run_fog(["clone", alice.world.remote, eve.root, "--invited"], home=eve.home, cwd=alice.world.tmp, expect=1)
    assert "no invitation for this user" in r.error_line()
    # eve copies bob's invitation into her own locator: it is sealed to bob's key, so it does not open
    inv = next((alice.world.remote / "invites").rglob("*"))
    while inv.is_dir():
        inv = next(inv.iterdir())
    eve_ident = Identity.load(eve.home)
    mine = alice.world.remote / "invites" / R.invite_locator(eve_ident.user_public)
    mine.mkdir(parents=True)
    (mine / ("0" * 32)).write_bytes(inv.read_bytes())
    r = run_fog(["clone", alice.world.remote, eve.root, "--invited"], home=eve.home, cwd=alice.world.tmp, expect=1)
    assert "no invitation" in r.error_line()
    accept(alice, bob)
    assert bob.read("doc.txt") == "alice's first draft\n"
    assert EXIT_INTEGRITY == 4


# -- attacks found by review (each failed before its fix) ---------------------------------


def _statement(d: Device, alice: Device, doc_extra: dict) -> None:
    """Write a member statement as user `d` (signed with d's user key) about the shared share."""
    ident = Identity.load(d.home)
    cfg = ident.cached_config()
    assert cfg is not None
    sid = next(s for s, e in cfg.shares.items() if e.get("owner"))
    keys = K.ShareKeys.from_json(sid, cfg.shares[sid])
    me = {"box": ident.user_public.hex(), "sign": ident.user_sign_public.hex(), "name": d.name}
    doc = {"format": 1, "share": sid, "user": me, "time_ns": time.time_ns(), "devices": {}, **doc_extra}
    stored = R.seal_statement(ident.user_sign_secret, keys, doc)
    (alice.world.remote / "shares" / sid / "members" / hashlib.sha256(stored).hexdigest()).write_bytes(stored)


def _share_dir(alice: Device) -> Path:
    return next((alice.world.remote / "shares").iterdir())


def test_a_removed_member_is_told_at_every_push_pull_and_sync(alice: Device) -> None:
    """Bob's sync said "pushed 1 change(s)", exit 0, at every run after his removal, while everything he
    wrote was set aside by the others (new-user review). Now: one line, exit 6, like a revoked device."""
    bob = member(alice, "bob")
    alice.fog("share", "remove-member", "bob")
    alice.write("n.txt", "from alice\n")
    alice.push()
    bob.write("b.txt", "bob after his removal\n")
    batches = alice.world.log_files()
    for args in (["sync"], ["sync", "--quiet"], ["push"], ["pull"], ["sync"]):
        r = bob.fog(*args, expect=EXIT_REVOKED)
        line = r.error_line()
        assert "this user (bob) was removed from the share" in line and "untouched" in line, line
        assert r.out == ""
    assert alice.world.log_files() == batches  # nothing of bob's was published
    assert bob.read("b.txt") == "bob after his removal\n" and not (bob.root / "n.txt").exists()
    members = {m["name"]: m for m in bob.fog("share", "members", "--json").json()}
    assert members["bob"]["role"] == "removed" and members["bob"]["this_user"]
    r = alice.pull()
    assert r.err == "" and not (alice.root / "b.txt").exists()


def test_sync_prune_from_cron_skips_a_shared_shares_prune(alice: Device) -> None:
    """`fog sync --quiet --prune` exited 1 at every cron run on a shared share ("fog prune ... refuses")
    (new-user review): the prune step is left out, said once in the trim report; `fog prune` still refuses."""
    bob = user(alice, "bob")
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob")
    r = alice.fog("sync", "--quiet", "--prune")
    assert (r.out, r.err) == ("", ""), str(r)
    doc = alice.fog("sync", "--prune", "--json").json()
    assert doc["trim"] is None  # (at most once a day)
    daily = "import fog.api as _a\n_a.TRIM_EVERY_NS = 0\n"  # (every run trims)
    for _ in range(2):
        r = alice.fog("sync", "--quiet", "--prune", patch=daily)
        assert (r.out, r.err) == ("", ""), str(r)
    r = alice.fog("sync", "--prune", patch=daily)
    assert "remote origin: not pruned: the share is shared with another user" in r.out, str(r)
    doc = alice.fog("sync", "--prune", "--json", patch=daily).json()
    assert doc["trim"]["prune"]["remotes"] == [] and "origin" in doc["trim"]["prune"]["skipped"], doc
    r = alice.fog("prune", expect=1)
    assert "shared with another user" in r.error_line()


def test_a_removed_member_that_deletes_its_removal_gets_no_later_key(alice: Device) -> None:
    bob = member(alice, "bob")
    statements = set((_share_dir(alice) / "members").iterdir())
    alice.fog("share", "remove-member", "bob")
    for p in set((_share_dir(alice) / "members").iterdir()) - statements:
        p.unlink()  # bob (or the store) deletes the statement that removed him
    for p in (_share_dir(alice) / "keys").glob("*"):
        p.unlink()
    alice.write("secret.txt", "after bob left: TOP SECRET\n")
    alice.push()  # the owner's devices remember the removal in their SyncConfig: nothing is sealed to bob
    members = {m["name"]: m["role"] for m in alice.fog("share", "members", "--json").json()}
    assert members["bob"] == "removed"
    bob_id = next(m["user_id"] for m in alice.fog("share", "members", "--json").json() if m["name"] == "bob")
    assert not list((_share_dir(alice) / "keys").glob(f"{bob_id}.*"))
    bob.fog("pull", expect=None)
    assert not (bob.root / "secret.txt").exists()


def test_a_removed_member_cannot_lift_its_cut_in_its_own_statement(alice: Device) -> None:
    bob = member(alice, "bob")
    alice.fog("share", "remove-member", "bob")
    ident = Identity.load(bob.home)
    sid = _share_dir(alice).name
    device = {
        "public": ident.device_public.hex(),
        "sign": ident.sign_public.hex(),
        "name": "bob",
        "trusted": True,
        "revoked": 1,
        "revoked_seq": {sid: 10**9},
        "revoked_logs": {sid: {"origin": 10**9}},
    }
    _statement(bob, alice, {"devices": {ident.device_id: device, K.device_id(ident.device_public): device}})
    bob.write("doc.txt", "bob after his removal\n")
    bob.fog("push", patch="import fog.sync.members as _m\n_m.keep_current = lambda ctx, config, roster, **kw: config\n")
    alice.pull()
    assert alice.read("doc.txt") == "alice's first draft\n"


def test_a_member_cannot_claim_another_members_device_nor_block_epochs(alice: Device) -> None:
    bob, carol = user(alice, "bob"), user(alice, "carol")
    alice.fog("share", "invite", "--user", user_key(carol), "--name", "carol")
    accept(alice, carol)
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob", "--read-only")
    accept(alice, bob)
    a_ident = Identity.load(alice.home)
    stolen = {
        a_ident.device_id: {
            "public": a_ident.device_public.hex(),
            "sign": a_ident.sign_public.hex(),
            "name": "alice-laptop",
            "trusted": False,
        }
    }
    _statement(bob, alice, {"devices": stolen})  # read-only bob says alice's laptop is his
    # and bob squats the place of carol's next key epoch with one of his own making
    c_ident = Identity.load(carol.home)
    carol_id = K.user_id(c_ident.user_public, c_ident.user_sign_public)
    b_ident = Identity.load(bob.home)
    doc = {"format": 1, "share": _share_dir(alice).name, "epoch": 1, "data_key": "42" * 32}
    stanza = R.seal_to_user(b_ident.user_sign_secret, R.KEYS_CONTEXT, c_ident.user_public, doc)
    (_share_dir(alice) / "keys").mkdir(exist_ok=True)
    (_share_dir(alice) / "keys" / f"{carol_id}.1.{b_ident.user_sign_public.hex()[:32]}").write_bytes(stanza)
    (_share_dir(alice) / "keys" / f"{carol_id}.1").write_bytes(stanza)
    alice.write("doc.txt", "alice writes again\n")
    alice.push()
    r = carol.pull()
    assert r.err == "" and carol.read("doc.txt") == "alice writes again\n"
    assert "(bob)" not in carol.fog("log", "doc.txt").out  # alice's versions stay alice's
    alice.fog("share", "remove-member", "bob")  # a new epoch: carol takes the owner's, not bob's
    alice.write("doc.txt", "epoch one\n")
    alice.push()
    carol.pull()
    assert carol.read("doc.txt") == "epoch one\n"


def test_clone_invited_from_takes_only_the_named_owners_invitation(alice: Device) -> None:
    carol, mallory = user(alice, "carol"), user(alice, "mallory")
    alice.fog("share", "invite", "--user", user_key(carol), "--name", "carol")
    # mallory, who can write to the store, invites carol to a share of her own under the same name
    m_share = Device("mallory", mallory.home, alice.world.tmp / "mallory-bait", alice.world)
    run_fog(
        ["init", m_share.root, "--remote", alice.world.remote, "--name", "alice-laptop"],
        home=mallory.home,
        cwd=alice.world.tmp,
    )
    m_share.fog("share", "invite", "--user", user_key(carol), "--name", "carol", "--json")
    r = run_fog(["clone", alice.world.remote, carol.root, "--invited"], home=carol.home, cwd=alice.world.tmp, expect=2)
    assert "--from" in r.error_line()
    alice_key = user_key(alice)
    out = run_fog(
        ["clone", alice.world.remote, carol.root, "--invited", "--from", alice_key],
        home=carol.home,
        cwd=alice.world.tmp,
    ).out
    assert carol.read("doc.txt") == "alice's first draft\n"
    assert f"Invited by {user_name_of(alice)} {alice_key}" in out


def test_an_invitation_sent_twice_is_taken_as_its_newest(alice: Device) -> None:
    """The owner invites the same user again (changing their role, or unsure the first arrived): the
    user accepts the newest invitation of that owner for that share, not a choice between twins."""
    bob = user(alice, "bob")
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob")
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob", "--read-only")
    accept(alice, bob, "--from", user_key(alice), "--share", "alice-laptop")
    assert bob.read("doc.txt") == "alice's first draft\n"
    shares = json.loads((bob.home / "syncconfig.json").read_text())["shares"]
    assert [s.get("read_only") for s in shares.values() if s.get("owner")] == [True]


def test_names_an_owner_wrote_are_printed_escaped(alice: Device) -> None:
    """An owner whose (patched) client names itself and the member with control characters cannot
    forge lines of the member's output."""
    bob = user(alice, "bob")
    patch = "import fog.sync.members as M\nM.user_name = lambda: 'alice\\nfog: forged'\n"
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob", patch=patch)
    r = run_fog(["clone", alice.world.remote, bob.root, "--invited"], home=bob.home, cwd=alice.world.tmp)
    assert "Invited by alice\\nfog: forged fogpub-" in r.out, r
    r = run_fog(["share", "members"], home=bob.home, cwd=bob.root)
    assert "alice\\nfog: forged" in r.out, r
    for shown in (r, run_fog(["log"], home=bob.home, cwd=bob.root)):
        assert not any(line.startswith("fog: forged") for line in shown.out.splitlines()), shown


def user_name_of(d: Device) -> str:
    return next(m["name"] for m in d.fog("share", "members", "--json").json() if m["this_user"])


def _second_device(alice: Device, name: str, key_file: Path) -> Device:
    """Another device (of the user whose master key is in key_file) joining the shared share."""
    dev = Device(name, alice.world.tmp / f"home-{name}", alice.world.tmp / name, alice.world)
    dev.home.mkdir()
    run_fog(
        [
            "clone",
            alice.world.remote,
            dev.root,
            "--master-key-file",
            key_file,
            "--device-name",
            name,
            "--share",
            "alice-laptop",
        ],
        home=dev.home,
        cwd=alice.world.tmp,
    )
    return dev


def test_the_owner_revokes_a_device_members_are_not_fooled_and_are_invited_again(alice: Device) -> None:
    bob = member(alice, "bob")
    desktop = _second_device(alice, "alice-desktop", alice.world.key)
    thief = Identity.load(desktop.home)  # what the desktop holds before it is revoked
    alice.fog("device", "revoke", "alice-desktop", "--master-key-file", alice.world.tmp / "alice-new.key")
    members = {m["name"]: m["role"] for m in alice.fog("share", "members", "--json").json()}
    assert members["bob"] == "member"  # the owner's own roster keeps its members
    alice.write("secret.txt", "after the desktop was revoked: TOP SECRET\n")
    alice.push()
    # the revoked desktop, with the owner's old user key, seals an epoch of its choosing to bob
    b_ident = Identity.load(bob.home)
    bob_id = K.user_id(b_ident.user_public, b_ident.user_sign_public)
    doc = {"format": 1, "share": _share_dir(alice).name, "epoch": 1, "data_key": "42" * 32}
    stanza = R.seal_to_user(thief.user_sign_secret, R.KEYS_CONTEXT, b_ident.user_public, doc)
    (_share_dir(alice) / "keys").mkdir(exist_ok=True)
    (_share_dir(alice) / "keys" / f"{bob_id}.1.{thief.user_sign_public.hex()[:32]}").write_bytes(stanza)
    first = bob.pull()
    assert "rotated their keys" in first.err and "invite you again" in first.err
    assert bob.pull().err == ""  # told once
    cfg = Identity.load(bob.home).cached_config()
    assert cfg is not None
    sid = _share_dir(alice).name
    assert K.ShareKeys.from_json(sid, cfg.shares[sid]).epoch == 0  # the thief's epoch was not taken
    assert not (bob.root / "secret.txt").exists()
    # invited again with the owner's new key: bob's checkout takes it, and reads what came after
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob")
    new_key = user_key(alice)
    run_fog(
        ["clone", alice.world.remote, alice.world.tmp / "unused", "--invited", "--from", new_key],
        home=bob.home,
        cwd=alice.world.tmp,
    )
    bob.pull()
    assert bob.read("secret.txt") == "after the desktop was revoked: TOP SECRET\n"
    bob.write("from-bob.txt", "bob, in the new epoch\n")
    bob.push()
    alice.pull()
    assert alice.read("from-bob.txt") == "bob, in the new epoch\n"


def test_a_member_revokes_a_device_and_the_owner_sets_it_aside(alice: Device) -> None:
    bob = member(alice, "bob")
    phone = bob_phone(alice)
    phone.write("phone.txt", "before the theft\n")
    phone.push()
    alice.pull()
    assert alice.read("phone.txt") == "before the theft\n"
    bob.fog("device", "revoke", "bob-phone", "--master-key-file", alice.world.tmp / "bob-new.key")
    # the stolen phone, its own revocation check patched out, pushes on
    phone.write("doc.txt", "written by the stolen phone\n")
    phone.fog(
        "push",
        patch="import fog.api as _a\n_a.follow_rotation = lambda ctxs, **_: None\n",
        expect=None,
    )
    r = alice.pull()
    assert alice.read("doc.txt") == "alice's first draft\n"
    assert "member bob rotated their keys" in r.err


# -- second review ---------------------------------------------------------------------------


def test_malformed_statements_and_invitations_are_ignored_not_fatal(alice: Device) -> None:
    bob, carol = user(alice, "bob"), user(alice, "carol")
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob")
    accept(alice, bob)
    _statement(bob, alice, {"time_ns": "soon", "members": {"x": {"removed": "x"}}})  # a forged, malformed one
    alice.pull()
    bob.pull()
    alice.fog("share", "members")
    # an invitation naming one of carol's own shares, and one with a malformed owner key
    c_ident = Identity.load(carol.home)
    own_sid = next(iter(c_ident.cached_config().shares))  # type: ignore[union-attr]
    a_ident = Identity.load(alice.home)
    entry = {
        k: v
        for k, v in a_ident.cached_config().shares[_share_dir(alice).name].items()
        if k in ("name", "data_key", "mac_key", "chunk_seed")
    }  # type: ignore[union-attr]
    owner = {"box": a_ident.user_public.hex(), "sign": a_ident.user_sign_public.hex(), "name": "alice"}
    place = alice.world.remote / "invites" / R.invite_locator(c_ident.user_public)
    place.mkdir(parents=True)
    for n, (sid, who) in enumerate([(own_sid, owner), (_share_dir(alice).name, {**owner, "box": "zz"})]):
        doc = {"format": 1, "share": sid, "entry": entry, "owner": who, "read_only": False, "time_ns": 1}
        (place / f"{n:032d}").write_bytes(
            R.seal_to_user(a_ident.user_sign_secret, R.INVITE_CONTEXT, c_ident.user_public, doc)
        )
    r = run_fog(
        ["clone", alice.world.remote, carol.root, "--invited", "--from", user_key(alice)],
        home=carol.home,
        cwd=alice.world.tmp,
        expect=1,
    )
    assert "already has" in r.error_line()
    assert Identity.load(carol.home).cached_config().shares[own_sid].get("owner") is None  # type: ignore[union-attr]
    run_fog(["status"], home=carol.home, cwd=alice.world.tmp / "carol-own")


def test_members_push_nothing_the_removed_or_a_revoked_device_could_read(alice: Device) -> None:
    bob, carol = user(alice, "bob"), user(alice, "carol")
    for who in (bob, carol):
        alice.fog("share", "invite", "--user", user_key(who), "--name", who.name)
        accept(alice, who)
    alice.fog("share", "remove-member", "bob")
    for p in (_share_dir(alice) / "keys").glob("*"):
        p.unlink()  # the store withholds the new key epoch from carol
    carol.pull()
    carol.write("doc.txt", "carol after bob's removal\n")
    r = carol.fog("push", expect=1)
    assert "new key" in r.error_line()
    alice.push()  # the owner's next push seals the epoch again
    carol.fog("push")
    alice.pull()
    assert alice.read("doc.txt") == "carol after bob's removal\n"
    # the owner revokes one of its devices: members push nothing until invited again
    desktop = _second_device(alice, "alice-desktop", alice.world.key)
    assert desktop.read("doc.txt") == "carol after bob's removal\n"
    alice.fog("device", "revoke", "alice-desktop", "--master-key-file", alice.world.tmp / "a2.key")
    carol.pull()
    carol.write("doc.txt", "carol, owner retired\n")
    r = carol.fog("push", expect=1)
    assert "rotated their keys" in r.error_line()


def test_a_members_revoked_device_reads_nothing_after_the_owner_hears_of_it(alice: Device) -> None:
    bob = member(alice, "bob")
    phone = bob_phone(alice)
    bob.fog("device", "revoke", "bob-phone", "--master-key-file", alice.world.tmp / "bob-new.key")
    # the phone, with bob's old user key, writes a retiring statement of its own naming a device it made
    p_ident = Identity.load(phone.home)
    sid = _share_dir(alice).name
    evil = Identity.create(alice.world.tmp / "home-evil", name="evil", master_key=p_ident.master_key)
    dev = {
        "public": evil.device_public.hex(),
        "sign": evil.sign_public.hex(),
        "name": "evil",
        "revoked_logs": {sid: {"origin": 10**6}},
    }
    _statement(phone, alice, {"retired": True, "devices": {evil.device_id: dev}})
    alice.pull()
    members = {m["name"]: m for m in alice.fog("share", "members", "--json").json()}
    assert "evil" not in members["bob"]["devices"]
    alice.write("secret.txt", "after bob's phone was revoked: TOP SECRET\n")
    alice.push()
    later = max(alice.world.log_files(), key=lambda p: p.stat().st_mtime_ns).read_bytes()
    epoch = int.from_bytes(later[1:5], "big")
    phone_keys = K.ShareKeys.from_json(sid, Identity.load(phone.home).cached_config().shares[sid])  # type: ignore[union-attr]
    assert epoch > phone_keys.epoch  # sealed with a key the phone never held
    # bob, invited again under his new key, reads it
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob")
    run_fog(
        ["clone", alice.world.remote, alice.world.tmp / "x", "--invited", "--from", user_key(alice)],
        home=bob.home,
        cwd=alice.world.tmp,
    )
    bob.pull()
    assert bob.read("secret.txt") == "after bob's phone was revoked: TOP SECRET\n"


def test_a_read_only_member_cannot_take_a_later_members_device(alice: Device) -> None:
    bob, carol = user(alice, "bob"), user(alice, "carol")
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob", "--read-only")
    accept(alice, bob)
    alice.fog("share", "invite", "--user", user_key(carol), "--name", "carol")
    accept(alice, carol)
    c, b = Identity.load(carol.home), Identity.load(bob.home)
    sid = _share_dir(alice).name
    forged = S.sign(b.sign_secret, R.claim_message(bytes.fromhex(sid), b.user_sign_public)).hex()
    stolen = {
        c.device_id: {"public": c.device_public.hex(), "sign": c.sign_public.hex(), "name": "carol", "claim": forged}
    }
    _statement(bob, alice, {"devices": stolen})  # bob, invited first, says carol's device is his
    carol.write("doc.txt", "carol writes\n")
    carol.push()
    r = alice.pull()
    assert alice.read("doc.txt") == "carol writes\n" and "read-only" not in r.err
    members = {m["name"]: m for m in alice.fog("share", "members", "--json").json()}
    assert members["carol"]["devices"] == ["carol"] and members["bob"]["devices"] == ["bob"]


def bob_phone(alice: Device) -> Device:
    """Bob's second device: his master key, the shared share."""
    return _second_device(alice, "bob-phone", alice.world.tmp / "bob.key")


def test_share_commands_name_the_share_from_anywhere(alice: Device) -> None:
    bob = user(alice, "bob")
    tmp = alice.world.tmp
    run_fog(["share", "invite", "alice-laptop", "--user", user_key(bob), "--name", "bob"], home=alice.home, cwd=tmp)
    accept(alice, bob)
    listed = run_fog(["share", "members", "alice-laptop", "--json"], home=alice.home, cwd=tmp).json()
    assert sorted(m["role"] for m in listed) == ["member", "owner"]
    r = run_fog(["share", "members", "nosuch"], home=alice.home, cwd=tmp, expect=2)
    assert "no single share matches" in r.error_line()


def test_a_member_forgets_only_their_own_versions(alice: Device) -> None:
    """Bob deleted Alice's file, then `fog forget --keep-deleted 1s` of it: Alice's pull erased its whole
    history (log: none, restore: none). A member's forget now applies to the member's versions only."""
    alice.write("doc.txt", "alice's second draft\n")
    alice.push()
    bob = member(alice, "bob")
    bob.write("bob.txt", "bob's note\n")
    bob.push()
    bob.write("bob.txt", "bob's note, again\n")
    bob.push()
    (bob.root / "doc.txt").unlink()
    bob.push()
    time.sleep(1.5)
    bob.fog("forget", "--keep-deleted", "1s", "doc.txt")
    bob.fog("forget", "--keep-last", "1", "bob.txt")
    r = alice.pull()
    assert "forgot 2 version(s) another user made: set aside" in r.err, str(r)
    versions = alice.fog("log", "doc.txt", "--json").json()
    assert {v["device"] for v in versions if not v["deleted"]} == {"alice-laptop"}, versions
    assert len([v for v in versions if not v["deleted"]]) == 2
    alice.fog("restore", f"doc.txt@{versions[-1]['version'][:12]}", "-o", alice.world.tmp / "first.txt")
    assert (alice.world.tmp / "first.txt").read_text() == "alice's first draft\n"
    assert len(alice.fog("log", "bob.txt", "--json").json()) == 1  # bob's own forget holds


def _bob_pushed_setuid_files(alice: Device) -> Device:
    """Bob, a member, pushes a setuid and setgid file `tool` and a setgid directory; Alice pulls them."""
    bob = member(alice, "bob")
    bob.write("tool", b"#!/bin/sh\necho hi\n", mode=0o6755)
    (bob.root / "sgid-dir").mkdir()
    os.chmod(bob.root / "sgid-dir", 0o2775)
    bob.push()
    alice.pull()
    return bob


def test_another_users_files_never_arrive_setuid_or_setgid(alice: Device) -> None:
    """Bob pushed a copy of /bin/sh with mode 6755: Alice's pull made it setuid and setgid, owned by her."""
    bob = _bob_pushed_setuid_files(alice)
    assert stat.S_IMODE((alice.root / "tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((alice.root / "sgid-dir").stat().st_mode) == 0o775
    # the dropped bits are no change of hers: for status (which said "M tool", clean false) as for push
    assert alice.fog("status", "--json").json()["clean"] is True
    assert alice.fog("push", "--json").json()["modified"] == []
    # and the other way round
    alice.write("mine", b"x", mode=0o4755)
    alice.push()
    bob.pull()
    assert stat.S_IMODE((bob.root / "mine").stat().st_mode) == 0o755


def test_a_restore_of_another_users_file_never_makes_it_setuid_or_setgid(alice: Device) -> None:
    """Session 13 dropped the bits on a pull only: `fog restore tool@REV` (in place or with -o) and a
    tree restore wrote Bob's setuid, setgid file as it came."""
    _bob_pushed_setuid_files(alice)
    (rev,) = [v["version"][:12] for v in alice.fog("log", "tool", "--json").json()]
    out = alice.world.tmp / "out"
    out.mkdir()
    alice.fog("restore", f"tool@{rev}", "-o", out / "tool")
    assert stat.S_IMODE((out / "tool").stat().st_mode) == 0o755
    (alice.root / "tool").unlink()
    alice.fog("restore", f"tool@{rev}")
    assert stat.S_IMODE((alice.root / "tool").stat().st_mode) == 0o755
    alice.fog("restore", ".@~0", "-o", out / "tree")
    assert stat.S_IMODE((out / "tree" / "tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "tree" / "sgid-dir").stat().st_mode) == 0o775
    (alice.root / "tool").unlink()
    os.rmdir(alice.root / "sgid-dir")
    alice.fog("restore", ".@~0")
    assert stat.S_IMODE((alice.root / "tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((alice.root / "sgid-dir").stat().st_mode) == 0o775
    # her own setuid file keeps its bits
    alice.write("mine", b"x", mode=0o4755)
    alice.push()
    (mine,) = [v["version"][:12] for v in alice.fog("log", "mine", "--json").json()]
    alice.fog("restore", f"mine@{mine}", "-o", out / "mine")
    assert stat.S_IMODE((out / "mine").stat().st_mode) == 0o4755


def test_a_member_cannot_publish_versions_in_the_owners_name(alice: Device) -> None:
    """Attacker review: a read-write member holds the share's keys, so a patched client could give its
    versions Alice's device: Alice's `fog log` then showed "alice-laptop" as their author."""
    bob = member(alice, "bob")
    alice_device = alice.fog("key", "show", "--json").json()["device_id"]
    forge = f"""
import fog.sync.push as _push
_real = _push.changes_for
def _as_alice(reader, root, db, entries, scan_start, device, *args, **kwargs):
    return _real(reader, root, db, entries, scan_start, {alice_device!r}, *args, **kwargs)
_push.changes_for = _as_alice
"""
    bob.write("contract.txt", "alice agrees to everything\n")
    bob.fog("push", patch=forge)
    bob.write("honest.txt", "from bob\n")
    bob.push()
    r = alice.pull()
    assert "version(s) made, it says, by another user's device: set aside" in r.err, str(r)
    assert not (alice.root / "contract.txt").exists()
    assert alice.read("honest.txt") == "from bob\n"
    log = alice.fog("log", "contract.txt", "--json", expect=None)
    assert log.rc != 0 or log.json() == [], str(log)


def test_an_invited_clone_never_overwrites_a_key_file_nor_writes_one_into_a_store(alice: Device) -> None:
    """`clone --invited --master-key-file F` on a machine without an identity replaced an existing F (the
    user's real master key, passed as for any clone) with a new identity's key, and failed anyway
    (review 5, keys 7); F inside the store it clones from was taken too (keys 6)."""
    dave = user(alice, "dave", own_share=False)
    key_file = alice.world.tmp / "dave.key"
    key_file.write_text("DAVE-REAL-MASTER-KEY\n")
    argv = ["clone", alice.world.remote, dave.root, "--invited", "--master-key-file", key_file]
    r = run_fog(argv, home=dave.home, cwd=alice.world.tmp, expect=2)
    assert "exists; refusing to overwrite it" in r.error_line()
    assert key_file.read_text() == "DAVE-REAL-MASTER-KEY\n"
    assert not (dave.home / "identity.json").exists()
    in_store = alice.world.remote / "dave.key"
    argv = ["clone", alice.world.remote, dave.root, "--invited", "--master-key-file", in_store]
    r = run_fog(argv, home=dave.home, cwd=alice.world.tmp, expect=2)
    assert "inside the fog store" in r.error_line() and not in_store.exists()


# -- review 5, keys ---------------------------------------------------------------------------

_PATCH_NO_CHECK = (
    "import fog.api as _a\n"
    "def _no_check(ctxs, **_):\n"
    "    for c in ctxs:\n"
    "        _a.pull_mod.refresh_config(c)\n"
    "    return ctxs\n"
    "_a.follow_rotation = _no_check\n"
)


_PATCH_CUT_AT_TOP = (  # the removal of a retired key as an older fog recorded it: at the log tops, no pins
    "import fog.sync.members as _m\n"
    "from fog.crypto import keys as _k\n"
    "def _tops(ctx, roster, m):\n"
    "    logs = ctx.store.list_logs()\n"
    "    name = lambda d: _k.device_log_name(ctx.keys.share_id, bytes.fromhex(d['public']))\n"
    "    return {did: {ctx.remote_name: max(logs.get(name(d), [0]))} for did, d in m.devices.items()}, {}\n"
    "_m.cut_now = _tops\n"
)


@pytest.mark.parametrize("owner_fog", ["this", "older"])
def test_a_members_revoked_device_is_cut_where_its_user_revoked_it_not_where_the_owner_noticed(
    alice: Device, owner_fog: str
) -> None:
    """Bob revoked his stolen phone; the phone (its client ignoring the rotation) pushed on before Alice's next
    pull, and Alice took that batch: her removal of bob's retired key cut at the log top when she noticed,
    over the limit bob's retiring statement gave (review 5, keys 1). A removal an older fog recorded that way
    is limited by the retiring statements when read."""
    bob = member(alice, "bob")
    phone = bob_phone(alice)
    phone.write("phone.txt", "before the theft\n")
    phone.push()
    alice.pull()
    bob.fog("device", "revoke", "bob-phone", "--master-key-file", alice.world.tmp / "bob-new.key")
    records = list((alice.world.remote / "config").glob("*/rotation.*"))
    assert records
    hidden = {p: p.read_bytes() for p in records}
    for p in records:  # the thief's store (or patched client) does not see the rotation
        p.unlink()
    phone.write("evil.txt", "written by the revoked phone\n")
    phone.push()
    for p, data in hidden.items():
        p.write_bytes(data)
    r = alice.fog("pull", patch=_PATCH_CUT_AT_TOP if owner_fog == "older" else "")
    assert "member bob rotated their keys" in r.err
    assert not (alice.root / "evil.txt").exists(), str(r)
    assert alice.read("phone.txt") == "before the theft\n"
    assert not (alice.root / "evil.txt").exists()
    # a new device of alice's, reading the removal as alice recorded it, agrees
    desktop = _second_device(alice, "alice-desktop", alice.world.key)
    assert desktop.read("phone.txt") == "before the theft\n"
    assert not (desktop.root / "evil.txt").exists()


def test_a_member_whose_own_rotation_cut_them_off_is_told_and_shown_the_way_back(alice: Device) -> None:
    """Bob rotated his keys: Alice's fog removed his old key, and his push and sync still said "pushed", exit 0,
    while Alice set every batch aside; `key rotate` said nothing of the shared share (review 5, keys 2)."""
    bob = member(alice, "bob")
    r = run_fog(["key", "rotate", "--master-key-file", alice.world.tmp / "bob-new.key"], home=bob.home, cwd=bob.root)
    assert "alice-laptop (owner " in r.err and "invites your new key" in r.err
    doc = run_fog(
        ["key", "rotate", "--master-key-file", alice.world.tmp / "bob-3.key", "--json"],
        home=bob.home,
        cwd=bob.root,
    ).json()
    assert doc["shared_by_others"] and doc["shared_by_others"][0].startswith("alice-laptop")
    alice.pull()
    bob.write("bob.txt", "important edit by bob\n")
    logs = set(alice.world.log_files())
    for args in (["push"], ["sync"], ["pull"]):
        r = bob.fog(*args, expect=EXIT_REVOKED)
        assert "replaced by a key rotation" in r.error_line() and "--invited --from fogpub-" in r.error_line()
    assert set(alice.world.log_files()) == logs
    # the way out it names: the owner invites the new key, bob takes it, and his edit arrives
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob")
    run_fog(
        ["clone", alice.world.remote, alice.world.tmp / "x", "--invited", "--from", user_key(alice)],
        home=bob.home,
        cwd=alice.world.tmp,
    )
    bob.push()
    alice.pull()
    assert alice.read("bob.txt") == "important edit by bob\n"


def test_demoting_a_member_to_read_only_keeps_what_they_wrote_before(alice: Device) -> None:
    """Inviting bob again --read-only made every reader refuse all his batches from 0, those written while he
    could too: Alice's new device never got bob.txt (review 5, keys 3). A role change stops later batches."""
    bob = member(alice, "bob")
    bob.write("bob.txt", "written by bob while read-write\n")
    bob.push()
    alice.pull()
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob", "--read-only")
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob", "--read-only")  # (twice: same cut)
    bob.pull()
    bob.write("late.txt", "bob, read-only now\n")
    assert bob.fog("push", patch=_PATCH_NO_CHECK, expect=None).rc == 0
    first = alice.pull()
    assert "belongs to a read-only member" in first.err and not (alice.root / "late.txt").exists()
    desktop = _second_device(alice, "alice-desktop", alice.world.key)
    assert desktop.read("bob.txt") == "written by bob while read-write\n"
    assert not (desktop.root / "late.txt").exists()
    assert "bob.txt" in desktop.fog("log").out
    carol = member(alice, "carol")
    assert carol.read("bob.txt") == "written by bob while read-write\n"
    assert not (carol.root / "late.txt").exists()


def test_the_owner_cannot_invite_a_retired_key_nor_a_removed_member(alice: Device) -> None:
    """`share invite` took bob's retired key (his revoked device holds it: it opened the invitation and the
    new key epoch in it), and a removed member's key, saying "invited", exit 0 (review 5, keys 8)."""
    bob, carol = user(alice, "bob"), user(alice, "carol")
    for who in (bob, carol):
        alice.fog("share", "invite", "--user", user_key(who), "--name", who.name)
        accept(alice, who)
    bob_old = user_key(bob)
    run_fog(["key", "rotate", "--master-key-file", alice.world.tmp / "bob-new.key"], home=bob.home, cwd=bob.root)
    alice.pull()
    before = sorted(p.name for p in (alice.world.remote / "invites").rglob("*"))
    r = alice.fog("share", "invite", "--user", bob_old, "--name", "bob", expect=2)
    assert "retired by a key rotation" in r.error_line()
    alice.fog("share", "remove-member", "carol")
    r = alice.fog("share", "invite", "--user", user_key(carol), "--name", "carol", expect=2)
    assert "removed from this share" in r.error_line()
    assert sorted(p.name for p in (alice.world.remote / "invites").rglob("*")) == before
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob")  # bob's new key: fine


def test_an_invitation_gives_the_member_only_the_remote_it_is_written_to(alice: Device) -> None:
    """The owner's other remotes (a USB disk's path here) came with the invitation: the member's every push
    and sync then exited 1 on them, and they named the owner's private places (review 5, keys 11)."""
    usb = alice.world.tmp / "alice-usb"
    alice.fog("remote", "add", "usb", usb)
    alice.fog("push")
    bob = member(alice, "bob")
    listed = bob.fog("remote", "list", "--json").json()
    assert [r["name"] for r in listed] == ["origin"] and str(usb) not in json.dumps(listed), listed
    bob.write("doc.txt", "bob's edit\n")
    bob.fog("sync")
    alice.pull()
    assert alice.read("doc.txt") == "bob's edit\n"


def test_a_password_in_the_owners_remote_url_never_reaches_a_member(s3_env: str, s3_url: str, tmp_path: Path) -> None:
    """Review 6, remotes R7: the invitation carried the remote's URL as the owner's settings hold it, an S3
    endpoint's password included: a read-only member's FOG_HOME then held the credentials of the owner's bucket."""
    host = s3_env.split("://", 1)[1]
    world = World(tmp_path, f"{s3_url}?endpoint=http://AKIDX:OwnerS3cretPW@{host}&path_style=1", tmp_path / "a.key")  # type: ignore[arg-type]
    alice = world.init("alice-laptop")
    alice.write("doc.txt", "alice's first draft\n")
    alice.fog("push")
    bob = user(alice, "bob")
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob", "--read-only")
    run_fog(["clone", f"{s3_url}?endpoint={s3_env}&path_style=1", bob.root, "--invited"], home=bob.home, cwd=tmp_path)
    assert bob.read("doc.txt") == "alice's first draft\n"
    held = [
        p for p in (*bob.home.rglob("*"), *bob.root.rglob("*")) if p.is_file() and b"OwnerS3cretPW" in p.read_bytes()
    ]
    assert held == []
    assert (
        "OwnerS3cretPW"
        in (alice.root / ".fog" / "config.json").read_text() + (alice.home / "syncconfig.json").read_text()
    )


def _both_read_each_other(alice: Device) -> Device:
    """Bob, a member, and alice each pushed and pulled the other's batches (each holds a cursor on the other's log)."""
    bob = member(alice, "bob")
    bob.write("bob.txt", "from bob\n")
    bob.push()
    alice.pull()
    assert alice.read("bob.txt") == "from bob\n"
    return bob


def test_member_statements_the_store_deletes_are_a_rollback_then_restated(alice: Device) -> None:
    """Review 7, F5: the store deleted shares/<id>/members/*: every sync then exited 0 while each user's changes
    silently stopped reaching the other, `fog check` said "no problems", the owner's `fog share members` lost bob
    (whom its own SyncConfig lists), and fog advised deleting the other member's log. Now each device refuses
    the remote in one line (exit 4) until the statements it saw are replaced: each user's sync states its own
    again (the owner's members from its SyncConfig), and the two converge."""
    bob = _both_read_each_other(alice)
    for p in (_share_dir(alice) / "members").iterdir():
        p.unlink()  # the store's doing
    members = {m["name"]: m["role"] for m in alice.fog("share", "members", "--json").json()}
    assert members == {user_name_of(alice): "owner", "bob": "member"}, members  # the owner's own word
    for d in (alice, bob):
        r = d.fog("check", expect=EXIT_INTEGRITY)
        assert "member statement(s) seen before are gone from remote origin" in r.err, r
        assert "delete log/" not in r.err, r
    alice.write("doc.txt", "owner edit\n")
    bob.write("bob.txt", "bob edit\n")
    for d in (bob, alice):  # each states its own again, and is refused while the other's is missing
        r = d.fog("sync", expect=EXIT_INTEGRITY)
        line = r.error_line()
        assert "member statement(s) seen before are gone from remote origin" in line, line
        assert "published there again" in line, line
    for d in (bob, alice, bob):
        r = d.fog("sync")
        assert "delete log/" not in r.err and "belongs to no device" not in r.err, r
    assert alice.read("bob.txt") == "bob edit\n" and bob.read("doc.txt") == "owner edit\n"
    for d in (alice, bob):
        d.fog("check")
    members = {m["name"]: m for m in alice.fog("share", "members", "--json").json()}
    assert members["bob"]["devices"] == ["bob"], members


def test_a_statement_the_store_alters_or_rolls_back_is_refused_not_ignored(alice: Device) -> None:
    """The same as a deletion: a statement seen before that no longer verifies, or the store showing only the
    statements of an older day (a newer one of the same author withheld)."""
    bob = _both_read_each_other(alice)
    place = _share_dir(alice) / "members"
    before = {p: p.read_bytes() for p in place.iterdir()}
    alice.fog("share", "invite", "--user", user_key(bob), "--name", "bob", "--read-only")  # a newer statement
    bob.pull()
    (newer,) = set(place.iterdir()) - before.keys()
    saved = newer.read_bytes()
    newer.write_bytes(saved[:-1] + bytes([saved[-1] ^ 1]))
    r = bob.fog("pull", expect=EXIT_INTEGRITY)
    assert "1 member statement(s) seen before are gone" in r.error_line(), r
    newer.unlink()  # back to the roster of before the demotion: bob read-write again
    r = bob.fog("pull", expect=EXIT_INTEGRITY)
    assert "1 member statement(s) seen before are gone" in r.error_line(), r
    newer.write_bytes(saved)
    bob.pull()


def test_a_log_read_before_is_never_called_foreign_nor_to_be_deleted(alice: Device) -> None:
    """A device that read a member's batches before (a cursor on their log), and holds no memory of the
    statements (a fog before it remembered them), no longer finds the member's device in the roster: set
    aside with a warning, never "delete log/…" (that deletes the other member's history)."""
    bob = _both_read_each_other(alice)
    for p in (_share_dir(alice) / "members").iterdir():
        p.unlink()
    forgetful = "import fog.sync.members as _m\n_m._seen = lambda ctx: {}\n"
    bob.write("bob.txt", "bob edit\n")
    bob.fog("push", patch=forgetful)
    r = alice.fog("pull", patch=forgetful)
    assert "read here up to batch" in r.err and "do not delete it" in r.err, r
    assert "delete log/" not in r.err, r
    r = alice.fog("check", patch=forgetful)
    assert "read here up to batch" in r.err and "delete log/" not in r.err, r
