"""This device's identity in FOG_HOME: keys, name, master key, SyncConfig cache.

Files (directory mode 0700, files 0600, written atomically; each one sealed
under a passphrase when the home is protected, fog.repo.vault):
  identity.json    device id, name, keypair; user keypair
  master-key       the master key in its text form
  syncconfig.json  the last merged SyncConfig this device saw
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.errors import IdentityError
from fog.format.syncconfig import SyncConfig
from fog.repo import vault


def _hex_key(entry: dict[str, Any], name: str, where: str) -> None:
    value = entry.get(name)
    if not isinstance(value, str) or len(value) != 64:
        raise ValueError(f"{where}.{name} is not a 32-byte key in hex")
    bytes.fromhex(value)  # ValueError: not hex


def _identity_fields(doc: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """The device and user entries of identity.json, checked; ValueError says what is wrong."""
    if not isinstance(doc, dict):
        raise ValueError(f"a JSON object was expected, not {type(doc).__name__}")
    dev, user = doc.get("device"), doc.get("user")
    if not isinstance(dev, dict) or not isinstance(user, dict):
        raise ValueError("device and user must be JSON objects")
    if not isinstance(dev.get("id"), str) or len(dev["id"]) != 32:
        raise ValueError("device.id is not 32 hex digits")
    if not isinstance(dev.get("name"), str):
        raise ValueError("device.name is not a string")
    for entry, where in ((dev, "device"), (user, "user")):
        for name in ("secret", "public"):
            _hex_key(entry, name, where)
    if "sign_secret" in dev or "sign_public" in dev:
        for name in ("sign_secret", "sign_public"):
            _hex_key(dev, name, "device")
    return dev, user


def load_master_key(path: Path, data: bytes | None = None) -> bytes:
    """The master key stored in FOG_HOME (its text form, `data` if read already); an IdentityError naming
    the file otherwise."""
    try:
        return K.master_key_from_text((vault.open_file(path) if data is None else data).decode("utf-8"))
    except FileNotFoundError:
        raise IdentityError(f"{path} is missing; write the master key (as `fog init` showed it) into it") from None
    except OSError as exc:
        raise IdentityError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise IdentityError(
            f"{path} is damaged ({exc}); write the master key (as `fog init` showed it) into it"
        ) from None


def check_cached_keys(config: SyncConfig) -> None:
    """Every key in a cached SyncConfig has its length (from_json checks the shape only); else ValueError."""
    for name in ("secret", "public"):
        _hex_key(config.user, name, "user")
    for did, dev in config.devices.items():
        if "public" in dev:  # an entry may be partial (a rename seen before the device's own entry)
            _hex_key(dev, "public", f"devices[{did[:8]}]")
    for sid, share in config.shares.items():
        K.ShareKeys.from_json(sid, share)


@dataclass(frozen=True)
class Identity:
    """A device: its keypair and name, and the user keypair it holds."""

    home: Path
    device_id: str
    device_name: str
    device_secret: bytes
    device_public: bytes
    user_secret: bytes
    user_public: bytes
    master_key: bytes
    sign_secret: bytes = b""  # Ed25519 seed: signs this device's batches and SyncConfig versions
    sign_public: bytes = b""

    @staticmethod
    def exists(home: Path) -> bool:
        return (home / "identity.json").exists()

    @classmethod
    def create(
        cls,
        home: Path,
        *,
        name: str | None = None,
        master_key: bytes | None = None,
        user: tuple[bytes, bytes] | None = None,
    ) -> Identity:
        """Make a new device identity (and a new user, unless one is given)."""
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(home, 0o700)
        dsk, dpk = S.new_keypair()
        ssk, spk = S.new_signing_key()
        usk, upk = user if user is not None else S.new_keypair()
        ident = cls(
            home,
            K.device_id(dpk, spk),
            name or os.uname().nodename or "device",  # socket.gethostname(), without importing socket
            dsk,
            dpk,
            usk,
            upk,
            master_key or K.new_master_key(),
            ssk,
            spk,
        )
        ident.save()
        return ident

    def save(self) -> None:
        vault.write_files(self.home, self._files())

    def _files(self) -> dict[str, bytes]:
        """identity.json and master-key, as save writes them."""
        doc = {
            "format": 1,
            "device": {
                "id": self.device_id,
                "name": self.device_name,
                "secret": self.device_secret.hex(),
                "public": self.device_public.hex(),
                "sign_secret": self.sign_secret.hex(),
                "sign_public": self.sign_public.hex(),
            },
            "user": {"secret": self.user_secret.hex(), "public": self.user_public.hex()},
        }
        master = (K.master_key_to_text(self.master_key) + "\n").encode()
        return {"master-key": master, "identity.json": json.dumps(doc, indent=1).encode()}

    @classmethod
    def load(cls, home: Path) -> Identity:
        """Read and check identity.json and master-key; an IdentityError naming the file otherwise."""
        path = home / "identity.json"
        try:
            files = vault.read_files(home, ("identity.json", "master-key"))  # both as one protect left them
        except OSError as exc:
            raise IdentityError(f"cannot read {exc.filename or path}: {exc.strerror}") from None
        raw = files.get("identity.json")
        if raw is None:
            raise IdentityError(f"no fog identity in {home}; run 'fog init' or 'fog clone' first")
        try:
            dev, user = _identity_fields(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as exc:
            raise IdentityError(
                f"{path} is damaged ({exc}); restore it from a backup, or move {home} aside and run "
                "`fog clone URL DIR --master-key-file F` to join this machine as a new device"
            ) from None
        ident = cls(
            home,
            str(dev["id"]),
            str(dev["name"]),
            bytes.fromhex(dev["secret"]),
            bytes.fromhex(dev["public"]),
            bytes.fromhex(user["secret"]),
            bytes.fromhex(user["public"]),
            load_master_key(home / "master-key", files.get("master-key")),
            bytes.fromhex(dev.get("sign_secret", "")),
            bytes.fromhex(dev.get("sign_public", "")),
        )
        _check_pairs(path, ident)
        if not ident.sign_secret:  # made by a fog without signing keys: it gets one now, under its old id
            ssk, spk = S.new_signing_key()
            object.__setattr__(ident, "sign_secret", ssk)
            object.__setattr__(ident, "sign_public", spk)
            ident.save()
        return ident

    def rename(self, name: str) -> None:
        object.__setattr__(self, "device_name", name)
        self.save()

    @property
    def user_sign_secret(self) -> bytes:
        """The user's Ed25519 signing seed (fog.crypto.keys.user_signing_seed): signs what the user,
        rather than one device, states (invitations, share membership)."""
        return K.user_signing_seed(self.user_secret)

    @property
    def user_sign_public(self) -> bytes:
        return S.signing_public_of(self.user_sign_secret)

    @property
    def user_id(self) -> str:
        return K.user_id(self.user_public, self.user_sign_public)

    def move_to(self, master_key: bytes, config: SyncConfig) -> None:
        """Take a key rotation's place: its master key (the old one kept in master-key.old, for the record),
        the user keypair of its SyncConfig, and that SyncConfig as the cached copy."""
        secret, public = bytes.fromhex(config.user["secret"]), bytes.fromhex(config.user["public"])
        if S.public_of(secret) != public:
            raise IdentityError("the user keypair in your fog settings is inconsistent")
        files = {}
        if master_key != self.master_key:
            files["master-key.old"] = (K.master_key_to_text(self.master_key) + "\n").encode()
        object.__setattr__(self, "master_key", master_key)
        object.__setattr__(self, "user_secret", secret)
        object.__setattr__(self, "user_public", public)
        # one change: a crash between the master key and the keypair or the SyncConfig left a device whose
        # every command was refused (two SyncConfig versions disagreeing on the user keypair)
        vault.write_together(self.home, {**files, **self._files(), "syncconfig.json": _config_json(config)})

    def old_master_key(self) -> bytes | None:
        """The master key before the last key rotation this device made or took (`master-key.old`), if any."""
        try:
            raw = vault.read_files(self.home, ("master-key.old",)).get("master-key.old")
        except (OSError, IdentityError):
            return None
        if raw is None:
            return None
        try:
            return K.master_key_from_text(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    def chose_place(self, locator: str) -> None:
        """Record that the user chose this SyncConfig place (`fog key adopt`): another key rotation beside the
        one that made it is then no reason to refuse (fog.sync.keyring.check_left_place)."""
        vault.write_private(self.home / CHOSEN_PLACE, (locator + "\n").encode())

    def chosen_place(self) -> str | None:
        """The locator `chose_place` recorded, if any."""
        try:
            return vault.read_home_file(self.home / CHOSEN_PLACE).decode().strip() or None
        except (OSError, UnicodeDecodeError):
            return None

    # -- SyncConfig ---------------------------------------------------------------

    def user_json(self) -> dict[str, str]:
        return {"public": self.user_public.hex(), "secret": self.user_secret.hex()}

    def device_entry(self) -> dict[str, Any]:
        now = time.time_ns()
        return {
            "name": self.device_name,
            "public": self.device_public.hex(),
            "sign": self.sign_public.hex(),
            "trusted": True,
            "revoked": 0,
            "added": now,
            "updated": now,
        }

    def cached_config(self) -> SyncConfig | None:
        return self.cached_state()[0]

    def cached_state(self) -> tuple[SyncConfig | None, set[str]]:
        """The cached SyncConfig, and the names of the remote versions it is known to hold merged.

        The names are recorded only by a pull that merged every listed version
        into the copy it cached (`cache_config(config, merged_versions)`); any
        other write of the cache forgets them, and the next pull reads every
        version again.
        """
        path = self.home / "syncconfig.json"
        try:
            raw = vault.read_files(self.home, ("syncconfig.json",)).get("syncconfig.json")
            if raw is None:
                return None, set()
            doc = json.loads(raw)
            config = SyncConfig.from_json(doc)
            check_cached_keys(config)
            names = doc.get("merged_versions", [])
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError("merged_versions is not a list of names")
            if doc.get("merge_rules") != MERGE_RULES:
                names = []  # merged by an older fog, whose merge dropped a key epoch: every version is read again
            return config, set(names)
        except OSError as exc:
            raise IdentityError(f"cannot read {path}: {exc.strerror}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise IdentityError(
                f"{path} is unreadable ({exc}); delete it: it is a cache of your fog settings "
                "(devices, shares) on the remote, "
                "fetched again by the next pull or push"
            ) from None

    def cache_config(self, config: SyncConfig, merged_versions: set[str] | None = None) -> None:
        vault.write_files(self.home, {"syncconfig.json": _config_json(config, merged_versions)})

    def share_keys(self, share_id: str) -> K.ShareKeys:
        config = self.cached_config()
        if config is None:
            raise IdentityError(
                f"{self.home / 'syncconfig.json'} (the cache of your fog settings) is missing: run `fog pull` "
                "to fetch it"
            )
        if share_id not in config.shares:
            raise IdentityError(f"this device ({self.home}) holds no keys for share {share_id[:12]}")
        return K.ShareKeys.from_json(share_id, config.shares[share_id])


CHOSEN_PLACE = "adopted-place"  # the locator of the SyncConfig place `fog key adopt` took (not a secret)

# The SyncConfig merge the cached copy's `merged_versions` were merged with. 2: no key of an epoch is ever
# dropped (`epochs_alt`); a copy merged by an older fog may lack one that a version on the remote still holds.
MERGE_RULES = 2


def _config_json(config: SyncConfig, merged_versions: set[str] | None = None) -> bytes:
    """The cached SyncConfig's file (`merged_versions`: see Identity.cached_state)."""
    doc = config.to_json()
    if merged_versions:
        doc["merged_versions"] = sorted(merged_versions)
        doc["merge_rules"] = MERGE_RULES
    return json.dumps(doc, indent=1).encode()


def _check_pairs(path: Path, ident: Identity) -> None:
    """Refuse an identity whose public keys are not its secret keys' (a damaged file).

    Its batches would be sealed with one key and named after another: every
    other device would refuse them, and pushing them would only fill the
    remote with a log nobody can read.
    """
    if ident.sign_secret and S.signing_public_of(ident.sign_secret) != ident.sign_public:
        raise IdentityError(
            f"{path}: the device signing key does not match its public half (the file is damaged); "
            "restore it from a backup, or clone the share afresh with a new FOG_HOME"
        )
    for what, secret, public in (
        ("device", ident.device_secret, ident.device_public),
        ("user", ident.user_secret, ident.user_public),
    ):
        if len(secret) != 32 or S.public_of(secret) != public:
            raise IdentityError(
                f"{path}: the {what} public key does not match its secret key (the file is damaged); "
                "restore it from a backup, or clone the share afresh with a new FOG_HOME"
            )
    if ident.device_id not in (K.device_id(ident.device_public, ident.sign_public), K.device_id(ident.device_public)):
        raise IdentityError(f"{path}: the device id is not derived from the device's keys (the file is damaged)")
