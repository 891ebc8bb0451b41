"""Master key text form and key derivations (fog.crypto.keys)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fog.crypto import keys as K

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SAMPLE_KEYS = [bytes(16), b"\xff" * 16, bytes(range(16)), bytes(random.Random(7).randrange(256) for _ in range(16))]


@given(st.binary(min_size=16, max_size=16))
def test_text_round_trip(key: bytes) -> None:
    text = K.master_key_to_text(key)
    assert K.master_key_from_text(text) == key
    groups = text.split("-")
    assert len(groups) == 8 and all(len(g) == 4 and set(g) <= set(ALPHABET) for g in groups)


def test_new_master_key_is_random_16_bytes() -> None:
    a, b = K.new_master_key(), K.new_master_key()
    assert len(a) == len(b) == 16 and a != b


@pytest.mark.parametrize("key", SAMPLE_KEYS, ids=lambda k: k[:2].hex())
def test_every_single_character_substitution_is_rejected(key: bytes) -> None:
    chars = list(K.master_key_to_text(key).replace("-", ""))
    for pos, original in enumerate(chars):
        for replacement in ALPHABET:
            if replacement == original:
                continue
            typo = "".join(chars[:pos] + [replacement] + chars[pos + 1 :])
            with pytest.raises(ValueError, match="checksum"):
                K.master_key_from_text(typo)


@pytest.mark.parametrize("key", SAMPLE_KEYS, ids=lambda k: k[:2].hex())
def test_adjacent_transpositions_are_rejected(key: bytes) -> None:
    chars = list(K.master_key_to_text(key).replace("-", ""))
    for pos in range(len(chars) - 1):
        if chars[pos] == chars[pos + 1]:
            continue
        swapped = chars[:pos] + [chars[pos + 1], chars[pos]] + chars[pos + 2 :]
        with pytest.raises(ValueError):
            K.master_key_from_text("".join(swapped))


def test_crockford_aliases_case_and_separators_are_accepted() -> None:
    key = bytes(range(16))
    text = K.master_key_to_text(key)
    assert "1" in text and "0" in text
    for variant in (
        text.replace("1", "I"),
        text.replace("1", "L"),
        text.replace("1", "i").replace("0", "o"),
        text.replace("0", "O"),
        text.lower(),
        text.replace("-", ""),
        text.replace("-", " "),
        f"  {text}\n",
    ):
        assert K.master_key_from_text(variant) == key


@pytest.mark.parametrize("text", ["", "0000", "0" * 31, "0" * 33, "0000-0000-0000-0000-0000-0000-00AD-TNA"])
def test_wrong_length_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="32 characters"):
        K.master_key_from_text(text)


@pytest.mark.parametrize("bad", ["U", "!", "_", "é"])
def test_characters_outside_the_alphabet_are_rejected(bad: str) -> None:
    text = K.master_key_to_text(bytes(16)).replace("-", "")
    with pytest.raises(ValueError, match="cannot appear"):
        K.master_key_from_text(bad + text[1:])


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_master_keys_are_16_bytes(size: int) -> None:
    with pytest.raises(ValueError):
        K.master_key_to_text(bytes(size))
    with pytest.raises(ValueError):
        K.config_keys(bytes(size))


def test_labels_are_distinct_and_prefix_free() -> None:
    labels = [getattr(K, n) for n in dir(K) if n.startswith("LABEL_")]
    assert len(labels) == len(set(labels)) >= 5
    for a in labels:
        assert a.startswith(b"fog/v1/")
        for b in labels:
            assert a == b or not b.startswith(a), "SHA256(label || secret) needs prefix-free labels"


def test_derive_requires_a_fog_label() -> None:
    with pytest.raises(ValueError):
        K.derive(b"syncconfig", bytes(16))


def test_config_keys_are_separate() -> None:
    locator, box_key, hmac_key = K.config_keys(bytes(range(16)))
    assert len(locator) == 32 and int(locator, 16) >= 0
    assert len(box_key) == len(hmac_key) == 32 and box_key != hmac_key
    assert bytes.fromhex(locator) not in (box_key[:16], hmac_key[:16])
    assert K.config_keys(bytes(16))[0] != locator


def test_device_log_names_are_unlinkable_across_shares() -> None:
    public = b"\x01" * 32
    a, b = K.device_log_name(b"\xaa" * 16, public), K.device_log_name(b"\xbb" * 16, public)
    assert a != b and len(a) == len(b) == 32
    assert K.device_id(public) not in (a, b) and len(K.device_id(public)) == 32


def test_share_keys_generate_and_json_round_trip() -> None:
    keys = K.ShareKeys.generate()
    assert 0 < keys.chunk_seed < 1 << 62
    assert keys.locator == keys.share_id.hex() and len(keys.share_id) == 16
    assert K.ShareKeys.from_json(keys.locator, keys.to_json()) == keys
    assert K.ShareKeys.generate() != keys


@pytest.mark.parametrize(
    "change",
    [{"data_key": "00" * 31}, {"mac_key": "00" * 33}, {"chunk_seed": 0}, {"chunk_seed": 1 << 62}],
)
def test_share_keys_from_json_rejects_bad_values(change: dict[str, object]) -> None:
    keys = K.ShareKeys.generate()
    with pytest.raises(ValueError):
        K.ShareKeys.from_json(keys.locator, {**keys.to_json(), **change})
    with pytest.raises(ValueError):
        K.ShareKeys.from_json("00" * 15, keys.to_json())


def test_config_fingerprint_is_keyed_by_its_own_label() -> None:
    """What a share's database records of a remote's SyncConfig (fog.sync.keyring.fingerprint): HMAC-SHA256
    under SHA256("fog/v1/syncconfig-held" || master key), never the key naming versions on the remote."""
    import hashlib
    import hmac

    mk, body = bytes(range(16)), b'{"format":1}'
    key = hashlib.sha256(b"fog/v1/syncconfig-held" + mk).digest()
    assert K.config_fingerprint(mk, body) == hmac.digest(key, body, "sha256").hex()
    assert K.config_fingerprint(mk, body) != hmac.digest(K.config_keys(mk)[2], body, "sha256").hex()
    assert K.config_fingerprint(bytes(16), body) != K.config_fingerprint(mk, body)
    with pytest.raises(ValueError):
        K.config_fingerprint(bytes(15), body)


def test_epoch_key_tag_names_a_data_key_by_its_own_derivation() -> None:
    key = bytes(range(32))
    assert K.epoch_key_tag(key) == K.derive(K.LABEL_EPOCH_KEY_TAG, key)[:16].hex()
    with pytest.raises(ValueError):
        K.epoch_key_tag(key[:16])
