"""Sharing a share with another user: invitations, the member roster, read-only members, removal.

The user who made a share is its **owner**. `fog share invite` leaves an
invitation sealed to the other user's Box key (only they can find and open
it) and a member statement adding them; `fog clone URL DIR --invited` takes
the share into the invitee's own SyncConfig. Every member user publishes, in
member statements signed with their user signing key, the devices they use,
so that every device of every member can verify every batch (the batch
signatures of section 9 with the devices' signing keys). A read-only
member's batches are set aside by everyone. Removing a member starts a new
key epoch for the share, sealed to each remaining member. docs/FORMAT.md,
section 16.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import time
from dataclasses import dataclass, field, replace
from typing import Any

from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import AlreadyExists, FogError, IntegrityError, ObjectNotFound, RevokedError, UsageError
from fog.format import roster as R
from fog.format.batch import chain_hash
from fog.format.syncconfig import SyncConfig, is_pins
from fog.repo.identity import Identity
from fog.store import Remote, ShareStore, read_bounded
from fog.sync.context import Context, members_seen_key
from fog.sync.logs import accepted_limit, accepted_pin
from fog.urlpass import without_password

DEVICE_FIELDS = ("public", "sign", "name", "trusted", "revoked", "revoked_logs", "revoked_seq")
# What another user's statement may say of its devices: keys, a name, and a revocation of its own (which only
# ever accepts fewer batches). Never trust or a limit: a removed member would lift its own cut with them.
STATED_FIELDS = ("public", "sign", "name", "revoked", "revoked_logs", "revoked_chains", "claim")


@dataclass
class Member:
    user_id: str
    box: str
    sign: str
    name: str
    owner: bool = False
    read_only: bool = False
    added: int = 0
    removed: int = 0
    cut: dict[str, dict[str, int]] = field(default_factory=dict)  # device id -> remote name -> last batch
    # device id -> remote name -> {"seq", "chain"}: the cut's batches and their chain hashes (a removal by
    # an older fog has none): the log up to the cut must still be the one the owner saw (section 16)
    pins: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    this_user: bool = False
    key_epoch: int = 0  # (a removed member) the share's key epoch that began with the removal
    retired: bool = False  # the user key was retired by a key rotation: nothing new is taken from it or sealed to it
    former_self: bool = False  # an earlier user key of this user (a rotation replaced it: SyncConfig `user_old`)


@dataclass
class Roster:
    owner: Member
    members: dict[str, Member]  # by user id, the owner included
    ignored: int = 0  # statements that did not verify, or whose author is no member
    # statements this device verified on this remote before that are gone from it or no longer verify (the
    # remote deleted them or was rolled back), and that no later statement of their author replaces yet:
    # (author signing key hex, time_ns) each; `keep_current` refuses the remote, `fog check` reports them
    gone: list[tuple[str, int]] = field(default_factory=list)

    def other_devices(self, share_hex: str) -> dict[str, dict[str, Any]]:
        """Devices of the other members, as SyncConfig device entries (what reading logs needs).

        A read-only member's devices, and a removed member's past their cut,
        are entries whose batches are set aside (the `revoked` rules of section 9).
        """
        out: dict[str, dict[str, Any]] = {}
        for m in self.members.values():
            if m.this_user:
                continue
            for did, dev in m.devices.items():
                entry = {k: dev[k] for k in STATED_FIELDS if k in dev}
                entry["name"] = f"{dev.get('name', did[:8])} ({m.name})"
                entry["user"] = m.name
                entry["user_id"] = m.user_id  # (a forget of theirs applies to their versions only: fog.sync.pull)
                logs = entry.get("revoked_logs")
                if not entry.get("revoked") or not isinstance(logs, dict) or not isinstance(logs.get(share_hex), dict):
                    entry.pop("revoked", None)  # a revocation of its own counts only with its limits
                    entry.pop("revoked_logs", None)
                    entry.pop("revoked_chains", None)
                if m.retired:
                    entry["revoked_seq"] = {share_hex: 0}  # (a remote the retiring statements give no limit for)
                if m.read_only or m.removed:
                    # Cut where the owner removed or demoted the member (a member invited read-only: at 0), and,
                    # for a retired key, never above the limits its retiring statements give (a removal an older
                    # fog recorded at the log top when it noticed). What the member states later lowers nothing:
                    # with a pin of its own it could have a rewritten log taken below the owner's pin.
                    cut = m.cut.get(did) if isinstance(m.cut.get(did), dict) else {}
                    pins = m.pins.get(did) if is_pins(m.pins.get(did)) else {}
                    limits = _cut_limits(entry if m.retired else {}, share_hex, cut, pins)
                    entry = {k: v for k, v in entry.items() if k not in ("revoked_logs", "revoked_chains")} | limits
                    entry.update(revoked=m.removed or 1)
                    entry["read_only" if m.read_only and not m.removed else "removed_member"] = True
                out[did] = entry
        return out


def _cut_limits(
    entry: dict[str, Any], share_hex: str, cut: dict[str, Any], pins: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The revocation fields of a device cut at a member's cut (`cut`, `pins`: remote name -> last batch, its
    pin), per remote the lower of it and the limit `entry` gives there (with that limit's pin); 0 on a remote
    the cut does not name. The limits of section 9 then apply as to a revoked device."""
    limits: dict[str, int] = {}
    chains: dict[str, dict[str, Any]] = {}
    for remote, seq in cut.items():
        if type(seq) is not int:
            continue
        own = accepted_limit(entry, share_hex, remote)
        if own is not None and own < seq:
            limits[remote] = own
            pin = accepted_pin(entry, share_hex, remote)
            if pin is not None and pin[0] == own:
                chains[remote] = {"seq": own, "chain": pin[1].hex()}
        else:
            limits[remote] = seq
            if remote in pins:
                chains[remote] = pins[remote]
    out: dict[str, Any] = {"revoked_logs": {share_hex: limits}, "revoked_seq": {share_hex: 0}}
    if chains:
        out["revoked_chains"] = {share_hex: chains}
    return out


def owner_of(ident: Identity, entry: dict[str, Any]) -> dict[str, str]:
    """The share's owner: named in the entry of a share this user was invited to, else this user."""
    owner = entry.get("owner")
    if isinstance(owner, dict) and {"box", "sign"} <= owner.keys():
        return {"box": str(owner["box"]), "sign": str(owner["sign"]), "name": str(owner.get("name", "owner"))}
    return {"box": ident.user_public.hex(), "sign": ident.user_sign_public.hex(), "name": user_name()}


def user_name() -> str:
    """What this user is called in statements: the account's login name (from the password database, not
    from the environment: no layer below the CLI reads it)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except (KeyError, OSError):  # no passwd entry (a container)
        return "user"


def _statements(store: ShareStore) -> list[str]:
    return sorted(store.backend.list(f"{store.prefix}members/"))


def is_shared(store: ShareStore) -> bool:
    """The share has member statements on this remote (it is shared with another user there)."""
    return bool(_statements(store))


def _shared_entry(entry: dict[str, Any]) -> bool:
    """This user's share entry says the share is shared: another user owns it, or this user (the owner)
    invited members. That never depends on the store (section 16)."""
    return bool(entry.get("owner")) or bool(entry.get("members"))


def load(ctx: Context, config: SyncConfig, *, listing: bool = False) -> Roster | None:
    """The share's roster from the member statements on this remote; None when it holds none and this
    device verified none there before (a share shared through another remote; with `listing`, only when
    this user's share entry does not say it is shared either: `fog share members`).

    Membership comes from the owner: for the owner's own devices, from the
    owner's SyncConfig (`members` of the share entry, written by invite and
    remove); for everyone else, from the statements signed by the owner's
    key their SyncConfig names. A user key **retired** by a key rotation
    (a statement with `retired`, signed by that key: fog.sync.keyring)
    counts only through its retiring statements, whatever else it signs:
    the revoked device still holds it. What several retiring statements say
    is combined so that none adds anything (a member must be in all of them,
    a device counts revoked when any says so).
    """
    names = _statements(ctx.store)
    entry = config.shares.get(ctx.keys.share_id.hex(), {})
    seen = _seen(ctx)
    if not names and not seen and not (listing and _shared_entry(entry)):
        return None
    owner = owner_of(ctx.ident, entry)
    docs: list[tuple[str, dict[str, Any]]] = []
    ignored = 0
    opened: dict[str, Seen] = {}
    for name in names:
        tail = name.rsplit("/", 1)[-1]
        try:
            stored = read_bounded(ctx.store.backend, name, R.MAX_STORED, name)
            docs.append(R.open_statement(ctx.keys, stored, f"member statement {tail[:12]}"))
            opened[tail] = Seen(docs[-1][0], _time_of(docs[-1][1]), docs[-1][1].get("retired") is True)
        except (IntegrityError, ObjectNotFound):
            ignored += 1
    if opened.keys() - seen.keys():  # (remembered: never deleted, so one that vanishes is the remote's doing)
        doc = {name: [v.author, v.time_ns, *([1] if v.retiring else [])] for name, v in {**seen, **opened}.items()}
        ctx.share.db.put_meta(members_seen_key(ctx.remote_name), json.dumps(doc, sort_keys=True).encode())
    docs.sort(key=lambda d: int(d[1].get("time_ns", 0)))
    retired = {author for author, doc in docs if doc.get("retired") is True}
    docs = [(a, d) for a, d in docs if a not in retired or d.get("retired") is True]
    own = Member(
        K.user_id(bytes.fromhex(owner["box"]), bytes.fromhex(owner["sign"])),
        owner["box"],
        owner["sign"],
        owner["name"],
        owner=True,
    )
    own.retired = owner["sign"] in retired
    members: dict[str, Member] = {own.user_id: own}
    if not entry.get("owner"):  # this user owns the share: its SyncConfig says who the members are
        _add_members(members, own, [entry.get("members") or {}], intersect=False)
    else:
        maps = []
        for author, doc in docs:
            if author == owner["sign"]:
                own.name = str(doc["user"].get("name", own.name))
                maps.append(doc.get("members", {}))
        _add_members(members, own, maps, intersect=own.retired)
    for uid, gone in (entry.get("removed_members") or {}).items():  # what this user saw removed stays removed
        if uid in members and isinstance(gone, dict):
            m = members[uid]
            m.removed = max(m.removed, int(gone.get("removed") or 0))
            if not m.cut:
                m.cut, m.pins = dict(gone.get("cut") or {}), _pins(gone.get("cut_chains"))
    by_sign = {m.sign: m for m in members.values()}
    retiring: dict[str, list[dict[str, Any]]] = {}
    for author, doc in docs:  # each member says which devices they use (newest statement per device)
        m = by_sign.get(author)
        if m is None:
            ignored += 1
            continue
        if author in retired:
            m.retired = True
            retiring.setdefault(author, []).append(doc.get("devices", {}))
            continue
        for did, dev in doc.get("devices", {}).items():
            if isinstance(dev, dict) and _bound(did, dev) and _claimed(ctx.keys.share_id, author, dev):
                m.devices[did] = {k: dev[k] for k in STATED_FIELDS if k in dev}
    for author, statements in retiring.items():
        by_sign[author].devices = _retired_devices(ctx.keys.share_id.hex(), statements)
    mine = ctx.ident.user_public.hex()
    former = {u.get("public") for u in config.user_old if isinstance(u, dict)}
    # A device belongs to the first user that states it, the owner first, and never to anyone when it is one
    # of this user's own devices: a member cannot take another's device and have its batches set aside.
    claimed = set(config.devices)
    for m in sorted(members.values(), key=lambda m: (not m.owner, bool(m.removed or m.retired), m.added, m.user_id)):
        m.this_user = m.box == mine
        m.former_self = not m.this_user and m.box in former
        if m.this_user:
            continue
        m.devices = {did: d for did, d in m.devices.items() if did not in claimed}
        claimed |= m.devices.keys()
    # what counts of a lost statement: the owner's, an active member's, and this user's own (it states them again)
    counted = {own.sign, ctx.ident.user_sign_public.hex()} | {m.sign for m in members.values() if not m.removed}
    gone = [(v.author, v.time_ns) for v in _gone(seen, opened) if v.author in counted]
    return Roster(own, members, ignored, gone)


@dataclass(frozen=True)
class Seen:
    """A member statement as this device verified it on a remote (`members-seen`, section 16)."""

    author: str  # user signing key, hex
    time_ns: int
    retiring: bool = False  # a retired key's last statement (`retired`): replaced only by another such


def _seen(ctx: Context) -> dict[str, Seen]:
    """The member statements this device verified on ctx's remote before, by name."""
    try:
        doc = json.loads(ctx.share.db.get_meta(members_seen_key(ctx.remote_name)) or b"{}")
    except ValueError:
        doc = {}
    out = {}
    for name, v in doc.items() if isinstance(doc, dict) else ():
        if isinstance(v, list) and len(v) in (2, 3) and isinstance(v[0], str) and type(v[1]) is int:
            out[name] = Seen(v[0], v[1], len(v) == 3)
    return out


def _gone(seen: dict[str, Seen], opened: dict[str, Seen]) -> list[Seen]:
    """Of the statements seen before, those not verified now that no statement of the same author, at least as
    new (for a retiring one: retiring too), replaces: its author stated its devices, the owner the members,
    again since (section 16). An older one the remote shows instead replaces nothing."""

    def replaced(old: Seen) -> bool:
        return any(
            v.author == old.author and v.time_ns >= old.time_ns and (v.retiring or not old.retiring)
            for v in opened.values()
        )

    return sorted(
        (v for name, v in seen.items() if name not in opened and not replaced(v)), key=lambda v: (v.author, v.time_ns)
    )


def _claimed(share_id: bytes, author: str, dev: dict[str, Any]) -> bool:
    """The device itself signed that it belongs to this author in this share (a member cannot state
    another member's device as its own: it would have the other's batches set aside)."""
    try:
        S.verify(
            bytes.fromhex(dev["sign"]),
            R.claim_message(share_id, bytes.fromhex(author)),
            bytes.fromhex(dev["claim"]),
            "claim",
        )
    except (IntegrityError, KeyError, ValueError, TypeError):
        return False
    return True


def _retired_devices(share_hex: str, statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The devices of a retired user key: those every retiring statement lists (a revoked device could write
    one too, naming a device of its own), each limited to the lowest batch any of them allows per remote."""
    out: dict[str, dict[str, Any]] = {}
    common = set.intersection(*(set(d) for d in statements)) if statements else set()
    for did in sorted(common):
        entries = [d[did] for d in statements]
        if not all(isinstance(e, dict) and _bound(did, e) for e in entries):
            continue
        limits: dict[str, int] = {}
        for e in entries:
            logs = e.get("revoked_logs", {}).get(share_hex, {}) if isinstance(e.get("revoked_logs"), dict) else {}
            for remote, seq in logs.items() if isinstance(logs, dict) else []:
                if type(seq) is int:
                    limits[remote] = min(seq, limits.get(remote, seq))
        pins = _common_pins(share_hex, entries, limits)
        first = entries[0]
        out[did] = {
            "public": first["public"],
            "sign": first["sign"],
            "name": first.get("name", did[:8]),
            "revoked": 1,  # (a retired key's devices: batches up to the limits its retiring statements give)
            "revoked_logs": {share_hex: limits},
        }
        if pins:
            out[did]["revoked_chains"] = {share_hex: pins}
    return out


def _common_pins(share_hex: str, entries: list[dict[str, Any]], limits: dict[str, int]) -> dict[str, dict[str, Any]]:
    """The pins several retiring statements give one device, per remote, so that none accepts more: a pin at
    the lowest limit, the same in every statement that gives one. A pin the lowest limit cannot check (above
    it, or two that differ: one statement is the revoked device's) accepts nothing there (`limits` set to 0)."""
    out: dict[str, dict[str, Any]] = {}
    for remote in list(limits):
        given = []
        for e in entries:
            per = e.get("revoked_chains", {}).get(share_hex) if isinstance(e.get("revoked_chains"), dict) else None
            if isinstance(per, dict) and remote in per:
                given.append(per[remote] if is_pins({remote: per[remote]}) else None)
        if not given:
            continue
        if any(p is None or p != given[0] or p["seq"] != limits[remote] for p in given):
            limits[remote] = 0
            continue
        out[remote] = dict(given[0])
    return out


def _add_members(members: dict[str, Member], own: Member, maps: list[Any], *, intersect: bool) -> None:
    """Members from the owner's member maps: per user the newest entry, a removal final; with `intersect`
    (a retired owner key), only users that every map lists."""
    listed: list[set[str]] = []
    for doc_members in maps:
        if not isinstance(doc_members, dict):
            continue
        listed.append(set(doc_members))
        for uid, m in doc_members.items():
            if not isinstance(m, dict) or uid == own.user_id:
                continue
            try:
                box, sign = str(m["box"]), str(m["sign"])
                if K.user_id(bytes.fromhex(box), bytes.fromhex(sign)) != uid:
                    continue
            except (KeyError, ValueError):
                continue
            old = members.get(uid)
            removed = max(int(m.get("removed") or 0), old.removed if old else 0)
            members[uid] = Member(
                uid,
                box,
                sign,
                str(m.get("name", uid[:8])),
                False,
                bool(m.get("read_only")) or bool(old and old.read_only and intersect),
                int(m.get("added") or 0),
                removed,
                dict(m.get("cut") or {}) or (old.cut if old else {}),
                pins=_pins(m.get("cut_chains")) if m.get("cut") else (old.pins if old else {}),
            )
            if type(m.get("epoch")) is int:
                members[uid].key_epoch = m["epoch"]
    if intersect and listed:
        keep = set.intersection(*listed)
        for uid in [u for u in members if u != own.user_id and u not in keep]:
            del members[uid]


def _bound(did: str, dev: dict[str, Any]) -> bool:
    """A device entry whose id is derived from both its keys (section 15): the only kind another user takes."""
    try:
        public, sign = bytes.fromhex(dev["public"]), bytes.fromhex(dev["sign"])
    except (KeyError, ValueError, TypeError):
        return False
    return did == K.device_id(public, sign)


def view(ctx: Context, config: SyncConfig, roster: Roster | None) -> SyncConfig:
    """The SyncConfig as reading this share's logs needs it: this user's devices and every other member's
    (`roster`: `load`'s, None for a share nobody else has)."""
    if roster is None:
        return config
    devices = {**roster.other_devices(ctx.keys.share_id.hex()), **config.devices}
    names = _json({did: d.get("name", did[:8]) for did, d in devices.items()})
    if ctx.share.db.get_meta(MEMBER_NAMES) != names:
        ctx.share.db.put_meta(MEMBER_NAMES, names)
    return config.with_(devices=devices)


def notices(ctx: Context, roster: Roster | None) -> list[str]:
    """Once each: users of this share whose key a rotation retired, and what to do about it."""
    if roster is None:
        return []
    lines = []
    for m in roster.members.values():
        if not m.retired or m.this_user:
            continue
        if m.owner:
            lines.append(
                f"the owner of this share ({m.name}) rotated their keys: nothing new of theirs reaches this device "
                "until they invite you again (`fog share invite`) and you run `fog clone URL DIR --invited`"
            )
        elif roster.owner.this_user:
            lines.append(
                f"member {m.name} rotated their keys: their old key is removed (the share has a new key epoch), and "
                "they read nothing new until you invite their new key (`fog share invite --user KEY`)"
            )
    key = "member-notices"
    told = set(json.loads(ctx.share.db.get_meta(key) or b"[]"))
    new = [line for line in lines if line not in told]
    if set(lines) != told:
        ctx.share.db.put_meta(key, json.dumps(sorted(lines)).encode())
    return new


def other_ids(ctx: Context, roster: Roster | None) -> frozenset[str]:
    """The devices of the other users of a shared share (none for a share nobody else has)."""
    return frozenset(roster.other_devices(ctx.keys.share_id.hex())) if roster is not None else frozenset()


MEMBER_NAMES = "member-device-names"  # share db meta: device id -> name, for `fog log` of other members' versions


def _json(doc: Any) -> bytes:
    return R.canonical(doc) if isinstance(doc, dict) else b"{}"


# -- this user's statement ---------------------------------------------------------------


def my_devices(config: SyncConfig, ctx: Context | None = None, stated: dict[str, Any] | None = None) -> dict[str, Any]:
    """This user's devices as its member statements state them (only those the other users can take).

    With `ctx`, each with its claim: this device signs its own; another
    device's is the one it signed in an earlier statement (`stated`), and a
    device that has not claimed yet is left out until it pushes or pulls.
    """
    out = {}
    for did, d in config.devices.items():
        entry = {k: d[k] for k in STATED_FIELDS if k in d and k != "claim"}
        if not _bound(did, entry):
            continue
        if not entry.get("revoked"):
            entry.pop("revoked", None)
            entry.pop("revoked_logs", None)
            entry.pop("revoked_chains", None)
        if ctx is not None:
            mine = ctx.ident.user_sign_public
            if did == ctx.ident.device_id:
                entry["claim"] = S.sign(ctx.ident.sign_secret, R.claim_message(ctx.keys.share_id, mine)).hex()
            else:
                old = (stated or {}).get(did) or {}
                if not _claimed(ctx.keys.share_id, mine.hex(), {**entry, "claim": old.get("claim")}):
                    continue
                entry["claim"] = old["claim"]
        out[did] = entry
    return out


def publish_statement(
    ctx: Context,
    config: SyncConfig,
    members: dict[str, Any] | None = None,
    roster: Roster | None = None,
    *,
    after: int = 0,
) -> None:
    """A member statement by this user: its devices, and (the owner) who the members are; dated after `after`
    (a statement of this user's the remote lost: this one replaces it, whatever this clock says)."""
    doc: dict[str, Any] = {
        "format": 1,
        "share": ctx.keys.share_id.hex(),
        "user": {"box": ctx.ident.user_public.hex(), "sign": ctx.ident.user_sign_public.hex(), "name": user_name()},
        "time_ns": max(time.time_ns(), after + 1),
        "devices": my_devices(config, ctx, _stated(roster)),
    }
    if members is not None:
        doc["members"] = members
    put_statement(ctx.store, R.seal_statement(ctx.ident.user_sign_secret, ctx.keys, doc))


def put_statement(store: ShareStore, stored: bytes) -> None:
    """Write a sealed member statement under its name (SHA256 of its bytes), durably."""
    try:
        store.backend.put_new(f"{store.prefix}members/{hashlib.sha256(stored).hexdigest()}", stored)
    except AlreadyExists:
        pass
    store.backend.sync()


def _stated(roster: Roster | None) -> dict[str, Any]:
    """This user's devices as its statements on the remote state them (with their claims)."""
    me = next((m for m in roster.members.values() if m.this_user), None) if roster is not None else None
    return dict(me.devices) if me is not None else {}


def _members_json(roster: Roster | None) -> dict[str, Any]:
    if roster is None:
        return {}
    return {
        uid: {
            "box": m.box,
            "sign": m.sign,
            "name": m.name,
            "read_only": m.read_only,
            "added": m.added,
            "removed": m.removed,
            "cut": m.cut,
            "epoch": m.key_epoch,
            **({"cut_chains": m.pins} if m.pins else {}),
        }
        for uid, m in roster.members.items()
        if not m.owner
    }


def _pins(value: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """A member's `cut_chains` as recorded (device id -> remote name -> {seq, chain}); the malformed parts
    left out (their devices are then cut by the number alone)."""
    if not isinstance(value, dict):
        return {}
    return {did: dict(per) for did, per in value.items() if isinstance(did, str) and is_pins(per)}


def keep_current(ctx: Context, config: SyncConfig, roster: Roster | None, *, pushing: bool = False) -> SyncConfig:
    """At a pull or push of a shared share: this user's devices are stated, and key epochs flow.

    The owner seals each key epoch to every remaining member, and treats a
    member whose key a rotation retired as removed (a new epoch: the revoked
    device of that member holds the old key); a member takes the epochs
    sealed to it into its SyncConfig. Before a push (`pushing`), a member
    refuses while the owner's key is retired or while it lacks the epoch a
    removal started (what it would push would be readable by the removed
    user). Returns the SyncConfig, updated when an epoch was taken.
    """
    if roster is None:
        return config
    me = next((m for m in roster.members.values() if m.this_user), None)
    if me is None and (text := retired_self_text(roster)):
        raise RevokedError(text)
    if me is not None and me.removed:  # (a rollback hides a removal, never makes one: the owner signs each)
        raise RevokedError(removed_text(me, roster))
    if roster.gone:
        mine = [t for author, t in roster.gone if author == ctx.ident.user_sign_public.hex()]
        if mine:  # this user's own word, stated again (the owner's members: from its SyncConfig), after the lost one
            owning = me is not None and me.owner
            publish_statement(ctx, config, _members_json(roster) if owning else None, roster, after=max(mine))
        raise IntegrityError(rolled_back_text(ctx, len(roster.gone), len(mine)))
    if me is None:
        return config
    if me.devices != my_devices(config, ctx, me.devices):
        publish_statement(ctx, config, _members_json(roster) if me.owner else None, roster)
    config = _remember_removals(ctx, config, roster)
    if me.owner:
        for m in sorted(roster.members.values(), key=lambda m: m.user_id):
            if m.retired and not m.removed and not m.owner:
                config = _remove(ctx, config, roster, m)
        config = _renew_leaked_epoch(ctx, config, roster)
        _send_epochs(ctx, roster)
        return config
    config = _take_epochs(ctx, config, roster)
    config = _take_role(ctx, config, me)
    if pushing:
        if roster.owner.retired:
            raise FogError(
                f"the owner of this share ({roster.owner.name}) rotated their keys: pushing waits until they invite "
                "you again and you run `fog clone URL DIR --invited --from KEY`"
            )
        need = max((m.key_epoch for m in roster.members.values() if m.removed), default=0)
        if ctx.keys.epoch < need:
            raise FogError(
                f"a member was removed from this share, and this device does not hold the share's new key (epoch "
                f"{need}) yet: pushing waits for it (the owner's next push seals it to you)"
            )
    return config


def rolled_back_text(ctx: Context, gone: int, restated: int = 0) -> str:
    """Why a remote whose member statements seen before are gone (or no longer verify) is refused: an older
    roster would set aside another member's batches, or accept a device since revoked (pull, push, check).
    `restated`: how many of them were this user's, stated again just now."""
    if restated == gone:
        again = "this user's statement was published there again; "
    elif restated:
        again = "this user's statement was published there again, the other users' are at their next sync; "
    else:
        again = "each user's next sync publishes theirs again; "
    return (
        f"{gone} member statement(s) seen before are gone from remote {ctx.remote_name} (or no longer verify): the "
        "remote deleted them or was rolled back, and with the share's members unknown their changes would stop "
        f"reaching this device; nothing of that remote is used until every one is replaced ({again}see "
        "`fog share members`)"
    )


def _take_role(ctx: Context, config: SyncConfig, me: Member) -> SyncConfig:
    """A member's role as the roster (the owner's word) gives it now, into this user's SyncConfig: the owner
    may invite them again with or without --read-only, and push and forget go by that entry's `read_only`."""
    from fog.sync import remotes as remotes_mod  # (remotes imports the modules this one does)

    sid = ctx.keys.share_id.hex()
    entry = config.shares.get(sid)
    if entry is None or bool(entry.get("read_only")) == me.read_only:
        return config
    config = config.with_(shares={**config.shares, sid: {**entry, "read_only": me.read_only}})
    remotes_mod.publish_config(ctx.share, ctx.ident, config)
    return config


def removed_text(me: Member, roster: Roster) -> str:
    """What a removed member's pull and push say (exit 6, as a revoked device): at every run, since
    everything pushed from here is set aside by the others."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(me.removed / 1e9))
    return (
        f"this user ({me.name}) was removed from the share by its owner ({roster.owner.name}) on {when}: nothing "
        "pushed from here reaches the other members, and nothing new of theirs can be read; the local files are "
        "untouched"
    )


def retired_self_text(roster: Roster) -> str | None:
    """What this user's pull and push say (exit 6, as a removed member's) when the share's members know this
    user only by a key a rotation of theirs retired (its owner has not invited the new key yet): whatever it
    pushes is set aside by the others, and the owner's next pull starts a key epoch it will not hold. None
    when that is not so."""
    if roster.owner.this_user or any(m.this_user for m in roster.members.values()):
        return None
    old = next((m for m in roster.members.values() if m.former_self and not m.owner), None)
    if old is None:
        return None
    owner = roster.owner
    key = K.public_key_to_text(bytes.fromhex(owner.box), bytes.fromhex(owner.sign))
    return (
        f"this user's key was replaced by a key rotation (`fog key rotate`, `fog device revoke`), and the owner "
        f"of this share ({owner.name}) has not invited the new key: nothing pushed from here reaches the other "
        "members. Send them your new key (`fog key show`) for `fog share "
        f"invite --user KEY`, then run `fog clone URL DIR --invited --from {key}` (it updates this checkout); "
        "the local files are untouched"
    )


def _remember_removals(ctx: Context, config: SyncConfig, roster: Roster) -> SyncConfig:
    """Record in this user's SyncConfig every removal the roster shows: a store (or the removed member, who
    can still write statements' place) deleting the statement that removed someone undoes nothing then."""
    from fog.sync import remotes as remotes_mod  # (remotes imports the modules this one does)

    sid = ctx.keys.share_id.hex()
    entry = config.shares.get(sid)
    if entry is None:
        return config
    recorded = dict(entry.get("removed_members") or {})
    new = {
        uid: {"removed": m.removed, "cut": m.cut, **({"cut_chains": m.pins} if m.pins else {})}
        for uid, m in roster.members.items()
        if m.removed and uid not in recorded
    }
    if not new:
        return config
    shares = {**config.shares, sid: {**entry, "removed_members": {**recorded, **new}}}
    config = config.with_(shares=shares)
    remotes_mod.publish_config(ctx.share, ctx.ident, config)
    return config


def _key_name(ctx: Context, uid: str, epoch: int, author: str) -> str:
    """Where an epoch sealed to member `uid` by `author` (a user signing key, hex) waits: one name per
    author, so that nobody can take the owner's place first."""
    return f"{ctx.store.prefix}keys/{uid}.{epoch}.{author[:32]}"


def _send_epochs(ctx: Context, roster: Roster) -> None:
    present = set(ctx.store.backend.list(f"{ctx.store.prefix}keys/"))
    for m in roster.members.values():
        if m.owner or m.removed or m.this_user or m.retired:
            continue
        for epoch in range(1, ctx.keys.epoch + 1):
            name = _key_name(ctx, m.user_id, epoch, ctx.ident.user_sign_public.hex())
            if name in present:
                continue
            doc = {
                "format": 1,
                "share": ctx.keys.share_id.hex(),
                "epoch": epoch,
                "data_key": ctx.keys.data_key_of(epoch).hex(),
            }
            stored = R.seal_to_user(ctx.ident.user_sign_secret, R.KEYS_CONTEXT, bytes.fromhex(m.box), doc)
            try:
                ctx.store.backend.put_new(name, stored)
            except AlreadyExists:
                pass
        _send_epoch_keys(ctx, m, present)
    ctx.store.backend.sync()


def _renew_leaked_epoch(ctx: Context, config: SyncConfig, roster: Roster) -> SyncConfig:
    """A new key epoch when a removed member may hold a key of the current one: two owner devices that
    started it at once for two removals each sealed their key to the member the other removed (the merge
    keeps both keys, and new data would be sealed with one of them). Only an epoch with several keys is
    looked at, and a stanza of it for a removed member says so; one LIST (`_send_epochs` makes it too)."""
    from fog.sync import remotes as remotes_mod

    epoch = ctx.keys.epoch
    if epoch < 1 or all(e != epoch for e, _ in ctx.keys.alternates):
        return config  # (one key: no owner device sealed it to a member another one removed)
    names = set(ctx.store.backend.list(f"{ctx.store.prefix}keys/"))
    leaked = [
        m
        for m in roster.members.values()
        if m.removed and any(n.startswith(f"{ctx.store.prefix}keys/{m.user_id}.{epoch}.") for n in names)
    ]
    if not leaked:
        return config
    sid = ctx.keys.share_id.hex()
    keys = ctx.keys.rotated()
    now = time.time_ns()
    shares = {
        **config.shares,
        sid: {
            **config.shares[sid],
            **keys.to_json(),
            "updated": max(now, int(config.shares[sid].get("updated", 0)) + 1),
        },
    }
    config = config.with_(shares=shares)
    remotes_mod.publish_config(ctx.share, ctx.ident, config)
    ctx.rekey(config)
    return config


def _send_epoch_keys(ctx: Context, m: Member, present: set[str]) -> None:
    """Every key of an epoch that holds several (two owner devices started it at once), each sealed to the
    member under its own tag: what each device sealed with its own key stays readable to the member."""
    author = ctx.ident.user_sign_public.hex()
    for epoch in sorted({e for e, _ in ctx.keys.alternates}):
        for key in ctx.keys.data_keys_of(epoch):
            name = f"{_key_name(ctx, m.user_id, epoch, author)}.{K.epoch_key_tag(key)}"
            if name in present:
                continue
            doc = {"format": 1, "share": ctx.keys.share_id.hex(), "epoch": epoch, "data_key": key.hex()}
            try:
                ctx.store.backend.put_new(
                    name, R.seal_to_user(ctx.ident.user_sign_secret, R.KEYS_CONTEXT, bytes.fromhex(m.box), doc)
                )
            except AlreadyExists:
                pass


def _take_epoch_keys(ctx: Context, keys: K.ShareKeys, me: Member, owner_sign: str) -> K.ShareKeys:
    """`keys` with the other keys of its epochs that the owner sealed to this member (`_send_epoch_keys`)."""
    prefix = f"{ctx.store.prefix}keys/{me.user_id}."
    known = set(keys.epoch_keys)
    extra: list[tuple[int, bytes]] = []
    for name in ctx.store.backend.list(f"{ctx.store.prefix}keys/"):  # (a listing is by directory)
        if not name.startswith(prefix):
            continue
        parts = name[len(prefix) :].split(".")
        if len(parts) != 3 or not parts[0].isdigit() or parts[1] != owner_sign[:32]:
            continue
        epoch = int(parts[0])
        if not 1 <= epoch <= keys.epoch:
            continue
        try:
            stored = read_bounded(ctx.store.backend, name, R.MAX_STORED, name)
            author, doc = R.open_for_user(R.KEYS_CONTEXT, ctx.ident.user_secret, stored, f"key epoch {epoch}")
            key = bytes.fromhex(str(doc["data_key"]))
        except (ObjectNotFound, IntegrityError, KeyError, ValueError):
            continue  # (not the owner's, or junk: ignored)
        if author != owner_sign or doc.get("share") != keys.share_id.hex() or doc.get("epoch") != epoch:
            continue
        if len(key) == 32 and parts[2] == K.epoch_key_tag(key) and (epoch, key) not in known:
            extra.append((epoch, key))
            known.add((epoch, key))
    return replace(keys, alternates=tuple(sorted({*keys.alternates, *extra}))) if extra else keys


def _take_epochs(ctx: Context, config: SyncConfig, roster: Roster) -> SyncConfig:
    from fog.sync import remotes as remotes_mod  # (remotes imports the modules this one does)

    sid = ctx.keys.share_id.hex()
    me = next(m for m in roster.members.values() if m.this_user)
    keys = ctx.keys
    if roster.owner.retired:  # the owner rotated its keys: a new epoch comes with a new invitation
        return config
    while True:
        epoch = keys.epoch + 1
        name = _key_name(ctx, me.user_id, epoch, roster.owner.sign)
        try:
            stored = read_bounded(ctx.store.backend, name, R.MAX_STORED, name)
            author, doc = R.open_for_user(R.KEYS_CONTEXT, ctx.ident.user_secret, stored, f"key epoch {epoch}")
        except (ObjectNotFound, IntegrityError):
            break  # none yet, or not the owner's: what others write here is ignored
        if author != roster.owner.sign or doc.get("share") != sid or doc.get("epoch") != epoch:
            break
        try:
            data_key = bytes.fromhex(str(doc["data_key"]))
        except (KeyError, ValueError):
            break
        if len(data_key) != 32:
            break
        keys = keys.with_epoch(data_key)
    keys = _take_epoch_keys(ctx, keys, me, roster.owner.sign)
    if keys == ctx.keys:
        return config
    shares = dict(config.shares)
    shares[sid] = {
        **shares[sid],
        **keys.to_json(),
        "updated": max(time.time_ns(), int(shares[sid].get("updated", 0)) + 1),
    }
    config = config.with_(shares=shares)
    remotes_mod.publish_config(ctx.share, ctx.ident, config)
    ctx.rekey(config)
    return config


# -- the commands ------------------------------------------------------------------------


@dataclass
class Invitation:
    share: str
    share_id: str
    user: str  # the invitee's name
    user_id: str
    read_only: bool
    remote: str  # where the invitation waits


def invite(ctx: Context, config: SyncConfig, user_key: str, *, name: str | None, read_only: bool) -> Invitation:
    sid = ctx.keys.share_id.hex()
    entry = config.shares[sid]
    if entry.get("owner"):
        raise UsageError(f"only the owner of this share ({entry['owner'].get('name', '?')}) can invite")
    try:
        box, sign = K.public_key_from_text(user_key)
    except ValueError as exc:
        raise UsageError(f"--user: {exc}") from None
    if box == ctx.ident.user_public:
        raise UsageError("that is your own user key: your devices join with `fog clone` and the master key")
    uid = K.user_id(box, sign)
    roster = load(ctx, config)
    old = roster.members.get(uid) if roster is not None else None
    _refuse_invite(old, uid in (entry.get("removed_members") or {}))
    members = _members_json(roster)
    now = time.time_ns()
    label = name or (members.get(uid) or {}).get("name") or f"user-{uid[:8]}"
    cut: dict[str, Any] = {}
    pins: dict[str, Any] = {}
    if read_only and old is not None and roster is not None:  # a role change stops later batches only
        cut, pins = (old.cut, old.pins) if old.read_only else cut_now(ctx, roster, old)
    members[uid] = {
        "box": box.hex(),
        "sign": sign.hex(),
        "name": label,
        "read_only": read_only,
        "added": now,
        "removed": 0,
        "cut": cut,
        **({"cut_chains": pins} if pins else {}),
    }
    config = _owner_members(ctx, config, members)
    publish_statement(ctx, config, members, roster)
    owner = {"box": ctx.ident.user_public.hex(), "sign": ctx.ident.user_sign_public.hex(), "name": user_name()}
    shared = {k: v for k, v in entry.items() if k in SHARED_FIELDS}
    # the member gets the remote the invitation is written to, not the owner's others (a USB disk's path,
    # a private bucket): they failed at every one of the member's syncs, and named the owner's places
    remotes = entry.get("remotes") or {}
    shared.pop("remotes", None)
    if ctx.remote_name in remotes:
        given = remotes[ctx.remote_name]
        if isinstance(given, dict) and isinstance(given.get("url"), str):  # (the owner's password stays the owner's)
            given = {**given, "url": without_password(given["url"])}
        shared["remotes"] = {ctx.remote_name: given}
    doc = {"format": 1, "share": sid, "entry": shared, "owner": owner, "read_only": read_only, "time_ns": now}
    stored = R.seal_to_user(ctx.ident.user_sign_secret, R.INVITE_CONTEXT, box, doc)
    ctx.store.backend.put_new(f"invites/{R.invite_locator(box)}/{S.random_bytes(16).hex()}", stored)
    ctx.store.backend.sync()
    return Invitation(str(entry.get("name", sid[:8])), sid, label, uid, read_only, ctx.remote_name)


def _refuse_invite(old: Member | None, removed: bool) -> None:
    """UsageError for a user key that must not be invited: one a key rotation retired (whoever holds the old
    user secret, a revoked device of theirs, would open the invitation and every key epoch in it), or a
    member removed from the share (a removal is final: nothing would lift it, yet the invitation would carry
    the share's new keys)."""
    if old is not None and old.retired:
        raise UsageError(
            f"that key ({old.name}) was retired by a key rotation of theirs: ask them for their new key "
            "(`fog key show` on their side) and invite that one"
        )
    if removed or (old is not None and old.removed):
        who = old.name if old is not None else "that user"
        raise UsageError(
            f"{who} was removed from this share, and a removal is final: to share with them again, make a new "
            "share (or ask them for a new user key, after a `fog key rotate` of theirs)"
        )


def _owner_members(ctx: Context, config: SyncConfig, members: dict[str, Any]) -> SyncConfig:
    """The owner's SyncConfig with the share's members: what the owner's devices take membership from."""
    from fog.sync import remotes as remotes_mod

    sid = ctx.keys.share_id.hex()
    entry = config.shares[sid]
    now = time.time_ns()
    shares = {
        **config.shares,
        sid: {**entry, "members": members, "updated": max(now, int(entry.get("updated", 0)) + 1)},
    }
    config = config.with_(shares=shares)
    remotes_mod.publish_config(ctx.share, ctx.ident, config)
    return config


def find_invitations(remote: Remote, ident: Identity) -> list[dict[str, Any]]:
    """The invitations waiting for this user on a store, verified; each with `owner` and `entry`.

    Of the invitations one owner left for one share (invited again: a new role, new keys after a
    rotation, or just twice) only the newest counts: the owner signed each, and the newest says
    what the owner wants now."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in _verified_invitations(remote, ident):
        key = (str(doc.get("share")), str(doc["owner"]["sign"]))
        if key not in newest or _time_of(doc) >= _time_of(newest[key]):
            newest[key] = doc
    return list(newest.values())


def _time_of(doc: dict[str, Any]) -> int:
    t = doc.get("time_ns")
    return t if isinstance(t, int) and not isinstance(t, bool) else 0


def _verified_invitations(remote: Remote, ident: Identity) -> list[dict[str, Any]]:
    """Every invitation waiting for this user on a store that opens and is well formed."""
    out = []
    for name in sorted(remote.backend.list(f"invites/{R.invite_locator(ident.user_public)}/")):
        try:
            stored = read_bounded(remote.backend, name, R.MAX_STORED, name)
            author, doc = R.open_for_user(R.INVITE_CONTEXT, ident.user_secret, stored, "invitation")
        except (IntegrityError, ObjectNotFound):
            continue  # not for this user, or damaged: someone else's business
        owner = doc.get("owner")
        if not isinstance(owner, dict) or owner.get("sign") != author or not isinstance(doc.get("entry"), dict):
            continue
        if (
            not isinstance(owner.get("box"), str)
            or len(owner["box"]) != 64
            or not isinstance(owner.get("name", ""), str)
        ):
            continue
        try:
            K.ShareKeys.from_json(str(doc.get("share")), doc["entry"])
        except (ValueError, KeyError, TypeError):
            continue
        out.append(doc)
    return out


SHARED_FIELDS = ("name", "data_key", "mac_key", "chunk_seed", "epochs", "epochs_alt", "remotes")


def accept(config: SyncConfig, doc: dict[str, Any], *, inviter_given: bool) -> tuple[str, dict[str, Any], SyncConfig]:
    """This user's SyncConfig with the share of an invitation in it; FogError when it must not be taken.

    A share this user already has is only taken again from an invitation the
    user named the sender of (`--from`), for a share another user owns, with
    the same MAC key and chunk seed (the owner invited the user again after a
    key rotation): never over one of the user's own shares, whose id the
    store shows.
    """
    sid = str(doc["share"])
    now = time.time_ns()
    old = config.shares.get(sid, {})
    shared = {k: doc["entry"][k] for k in SHARED_FIELDS if k in doc["entry"]}
    owner = doc["owner"]
    if old and not old.get("removed"):
        same = all(old.get(k) == shared.get(k) for k in ("mac_key", "chunk_seed"))
        if not old.get("owner") or not same:
            raise FogError(f"an invitation names share {sid[:12]}, which this user already has: refused")
        if not inviter_given:
            raise UsageError("this user has that share already: take an invitation to it again only with --from KEY")
    entry = {
        **shared,
        "owner": {"box": owner["box"], "sign": owner["sign"], "name": str(owner.get("name", "owner"))},
        "read_only": bool(doc.get("read_only")),
        "created": old.get("created", now),
        "updated": max(now, int(old.get("updated", 0)) + 1),
        "removed": 0,
    }
    if old.get("epochs") and len(old["epochs"]) > len(entry.get("epochs") or []):
        entry["epochs"] = old["epochs"]  # (never fewer epochs than this user holds)
    if old.get("epochs_alt"):  # (nor fewer keys of an epoch: what was sealed with them stays readable)
        alt: dict[str, set[str]] = {}
        for source in (old["epochs_alt"], entry.get("epochs_alt") or {}):
            for epoch, keys in source.items() if isinstance(source, dict) else ():
                alt.setdefault(str(epoch), set()).update(k for k in keys if isinstance(k, str))
        entry["epochs_alt"] = {e: sorted(ks) for e, ks in sorted(alt.items())}
    new = config.with_(shares={**config.shares, sid: entry})
    try:
        SyncConfig.from_json(new.to_json())
        K.ShareKeys.from_json(sid, entry)
    except (ValueError, KeyError, TypeError) as exc:
        raise FogError(f"the invitation to share {sid[:12]} is malformed ({exc}): refused") from None
    return sid, entry, new


def remove_member(ctx: Context, config: SyncConfig, who: str) -> Member:
    """Remove a member: a new statement without them (their later batches set aside), and a new key epoch."""

    sid = ctx.keys.share_id.hex()
    if config.shares[sid].get("owner"):
        raise UsageError("only the owner of this share can remove members")
    roster = load(ctx, config)
    hits = [
        m
        for m in (roster.members.values() if roster else [])
        if not m.owner and (m.name == who or m.user_id.startswith(who.lower()))
    ]
    if len(hits) != 1:
        raise FogError(f"no single member matches {who!r} (see 'fog share members')")
    m = hits[0]
    if m.removed:
        raise UsageError(f"{m.name} is no longer a member")
    assert roster is not None
    _remove(ctx, config, roster, m)
    return m


def _remove(ctx: Context, config: SyncConfig, roster: Roster, m: Member) -> SyncConfig:
    """Record `m` removed (and where its devices' batches stop being taken), start a new key epoch for the
    share, publish both, and seal the epoch to every remaining member."""
    from fog.sync import remotes as remotes_mod

    sid = ctx.keys.share_id.hex()
    now = time.time_ns()
    m.cut, m.pins = cut_now(ctx, roster, m)
    m.removed = now
    keys = ctx.keys.rotated()
    m.key_epoch = keys.epoch  # members push nothing more until they hold it (a store could withhold it)
    shares = dict(config.shares)
    gone = {"removed": now, "cut": m.cut, **({"cut_chains": m.pins} if m.pins else {})}
    removed = {**(shares[sid].get("removed_members") or {}), m.user_id: gone}
    shares[sid] = {
        **shares[sid],
        **keys.to_json(),
        "removed_members": removed,
        "members": _members_json(roster),
        "updated": max(now, int(shares[sid].get("updated", 0)) + 1),
    }
    config = config.with_(shares=shares)
    remotes_mod.publish_config(ctx.share, ctx.ident, config)
    ctx.rekey(config)
    publish_statement(ctx, config, _members_json(roster), roster)
    _send_epochs(ctx, roster)
    return config


def cut_now(ctx: Context, roster: Roster, m: Member) -> tuple[dict[str, Any], dict[str, Any]]:
    """Where the batches of member `m`'s devices stop being taken (a removal, a demotion to read-only), with
    its pins: per device, on this remote, the last batch of its log now, or the lower limit the roster gives
    that device already (a revocation by its user, a retired key's retiring statements, an earlier demotion):
    a cut never accepts a batch the roster refused before it."""
    sid = ctx.keys.share_id.hex()
    before = roster.other_devices(sid)
    logs = ctx.store.list_logs()
    cut: dict[str, Any] = {}
    pins: dict[str, Any] = {}
    for did, d in m.devices.items():
        log = K.device_log_name(ctx.keys.share_id, bytes.fromhex(d["public"]))
        top = max(logs.get(log, [0]))
        limit = accepted_limit(before.get(did, {}), sid, ctx.remote_name)
        pin = accepted_pin(before.get(did, {}), sid, ctx.remote_name)
        if limit is not None and limit < top:
            top = limit
        cut[did] = {ctx.remote_name: top}
        if not top:
            continue
        if pin is not None and pin[0] == top:
            chain = pin[1]
        else:  # the chain hash of the last batch taken: this device's cursor's if it read it, else the remote's
            seen, chain = ctx.share.db.cursor(ctx.remote_name, log)
            if seen != top or chain is None:
                chain = chain_hash(ctx.store.get_batch(log, top))
        pins[did] = {ctx.remote_name: {"seq": top, "chain": chain.hex()}}
    return cut, pins


def members(ctx: Context, config: SyncConfig) -> list[Member]:
    roster = load(ctx, config, listing=True)  # (the owner's SyncConfig names the members, whatever the remote holds)
    if roster is None:
        owner = owner_of(ctx.ident, config.shares.get(ctx.keys.share_id.hex(), {}))
        me = Member(ctx.ident.user_id, owner["box"], owner["sign"], owner["name"], owner=True, this_user=True)
        me.devices = my_devices(config, ctx)
        return [me]
    return sorted(roster.members.values(), key=lambda m: (not m.owner, m.name))
