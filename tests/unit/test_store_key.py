"""store_key: one store whatever the URL's spelling, two stores whatever else (review 6 remotes R2, R3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fog.backends.base import duplicates, store_key


@pytest.fixture
def ssh_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME with an `~/.ssh/config`, login user `alice`."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(var, "alice")
    (tmp_path / ".ssh").mkdir()
    config = tmp_path / ".ssh" / "config"
    config.write_text(
        "Host nas\n  HostName NAS.lan\n  User backup\n"
        "Host nas-proxied\n  HostName nas.lan\n  User backup\n  ProxyCommand ssh -W %h:%p gate\n"
        "Host other-proxied\n  HostName nas.lan\n  User backup\n  ProxyCommand ssh -W %h:%p gate2\n"
        "Host box\n  HostName 10.0.0.5\n  Port 2222\n"
    )
    return config


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("sftp://nas.lan/srv/fog", "sftp://NAS.lan:22/srv/fog/"),  # port 22 said or not, host case
        ("sftp://nas.lan/srv/fog", "sftp://alice@nas.lan/srv/fog"),  # the login user said or not
        ("sftp://backup@nas.lan/srv/fog", "sftp://nas/srv/fog"),  # an ~/.ssh/config alias
        ("sftp://box/srv/fog", "sftp://alice@10.0.0.5:2222/srv/fog?timeout=3"),  # its port, and options
        ("sftp://nas.lan/~/fog", "sftp://nas.lan/~/x/../fog"),
    ],
)
def test_spellings_of_one_sftp_store(ssh_config: Path, one: str, other: str) -> None:
    assert store_key(one) == store_key(other)
    assert duplicates({"origin": one, "origin-2": other}) == {"origin-2": "origin"}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("sftp://nas.lan/srv/fog", "sftp://nas.lan:2222/srv/fog"),
        ("sftp://nas.lan/~/fog", "sftp://bob@nas.lan/~/fog"),  # another login directory
        ("sftp://nas.lan/srv/fog", "sftp://bob@nas.lan/srv/fog"),  # (a chroot may differ per user)
        ("sftp://nas-proxied/srv/fog", "sftp://other-proxied/srv/fog"),  # one name, two networks
        ("sftp://nas-proxied/srv/fog", "sftp://backup@nas.lan/srv/fog"),
        ("sftp://nas/srv/fog", "sftp://nas/srv/fog2"),
    ],
)
def test_two_sftp_stores(ssh_config: Path, one: str, other: str) -> None:
    assert store_key(one) != store_key(other)


def test_an_unusable_ssh_config_counts_as_none(ssh_config: Path) -> None:
    ssh_config.write_text("Host nas\n  Port notanumber\n")
    assert store_key("sftp://nas/srv/fog") == store_key("sftp://alice@nas:22/srv/fog")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("s3://fog/p?endpoint=http://minio:9000", "s3://fog/p/?endpoint=HTTP://MinIO:9000/&path_style=1"),
        ("s3://fog/p?endpoint=https://s3.example.com", "s3://fog/p?endpoint=https%3A//s3.example.com:443"),
        ("s3://fog/p?endpoint=http://key:secret@minio:9000", "s3://fog/p?endpoint=http://minio:9000&region=eu"),
        ("s3://fog/p", "s3://fog/p?endpoint=https://s3.eu-west-1.amazonaws.com"),  # AWS: one namespace
        ("s3://fog/p", "s3://fog/p?endpoint=https://s3-fips.us-east-1.amazonaws.com"),
        ("s3://fog/p", "s3://fog/p?endpoint=https://s3.cn-north-1.amazonaws.com.cn"),
    ],
)
def test_spellings_of_one_s3_store(one: str, other: str) -> None:
    assert store_key(one) == store_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("s3://fog/p?endpoint=http://127.0.0.1:9000", "s3://fog/p?endpoint=http://127.0.0.2:9000"),
        ("s3://fog/p?endpoint=http://minio:9000", "s3://fog/p?endpoint=http://minio:9001"),
        ("s3://fog/p", "s3://fog/p?endpoint=https://s3.eu-central-003.backblazeb2.com"),
        ("s3://fog/p?endpoint=http://minio:9000", "s3://fog/q?endpoint=http://minio:9000"),
        ("s3://fog/p?endpoint=http://minio:9000", "s3://fog2/p?endpoint=http://minio:9000"),
        # review 7 diff F4: two MinIO servers on EC2 machines are not AWS S3, nor one store
        (
            "s3://fog/p?endpoint=http://ec2-3-120-1-10.eu-central-1.compute.amazonaws.com:9000",
            "s3://fog/p?endpoint=http://ec2-18-194-7-22.eu-central-1.compute.amazonaws.com:9000",
        ),
        ("s3://fog/p", "s3://fog/p?endpoint=http://ec2-3-120-1-10.eu-central-1.compute.amazonaws.com:9000"),
    ],
)
def test_two_s3_stores(one: str, other: str) -> None:
    assert store_key(one) != store_key(other)
    assert duplicates({"origin": one, "backup": other}) == {}


def test_other_kinds_keep_their_keys(tmp_path: Path) -> None:
    assert store_key("fog://H:1") == "fog://h:1" and store_key("fog+ssh://h/d/") == "fog+ssh://h/d"
    assert store_key(str(tmp_path)) == store_key(f"file://{tmp_path}/") == f"file:{tmp_path}"
