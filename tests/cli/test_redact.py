"""A password in a remote URL (user:PASSWORD@) never shows: not in errors, warnings nor `remote list`."""

from __future__ import annotations

import pytest
from fogcli import Share

S3_WITH_KEYS = "s3://bucket/p?endpoint=http://AKID:SECRETKEY@127.0.0.1:1"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("remote sftp://u:hunter2@127.0.0.1:1/x: no", "remote sftp://u:***@127.0.0.1:1/x: no"),
        ('URL: "http://AKID:SECRET@127.0.0.1:1/bucket"', 'URL: "http://AKID:***@127.0.0.1:1/bucket"'),
        (
            "s3://b/p?endpoint=http://K:S%40ECRET%40h:1&path_style=1",
            "s3://b/p?endpoint=http://K:***%40h:1&path_style=1",
        ),
        ("s3://b/p?endpoint=http%3A%2F%2FK%3ASECRET%40h", "s3://b/p?endpoint=http%3A%2F%2FK%3A***%40h"),
        ("http://u:p@ss@h/x", "http://u:***@h/x"),
        ("sftp://u@host:22/x and a:b@c", "sftp://u@host:22/x and a:b@c"),  # no password: unchanged
        ("sftp://host:22/x", "sftp://host:22/x"),
    ],
)
def test_redact(text: str, want: str) -> None:
    from fog.cli.redact import redact

    assert redact(text) == want


def test_passwords_in_urls_never_print(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    for sub in (False, True):
        r = share.fog("remote", "add", "x", "sftp://u:hunter2@127.0.0.1:1/x", expect=2, sub=sub)
        assert "hunter2" not in r.err and "u:***@127.0.0.1" in r.one_line_error(), r.err
    for extra in ((), ("--json",)):
        r = share.fog("remote", "add", "y", S3_WITH_KEYS, *extra, expect=1)
        assert "SECRETKEY" not in r.err and "AKID:***@127.0.0.1" in r.one_line_error(), r.err
    # a URL kept on this device only (not probed): listed, and failing, without its password
    r = share.fog("remote", "set-url", "origin", S3_WITH_KEYS, "--local")
    assert "SECRETKEY" not in r.out and "AKID:***@" in r.out
    for args in (("remote", "list"), ("remote", "list", "--json"), ("remote", "list", "--offline"), ("push",)):
        r = share.fog(*args, expect=None)
        assert "SECRETKEY" not in r.out + r.err and "AKID:***@" in r.out + r.err, r
    assert "SECRETKEY" in (share.root / ".fog" / "config.json").read_text()  # (kept where it is used)


def test_passwords_never_print_in_json_when_one_of_two_remotes_fails(
    share: Share, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """Review 6, remotes R1: `remote_errors` (push, pull, sync) and `failed` (stats) carried the endpoint unmasked."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    share.fog("remote", "add", "usb", str(tmp_path / "usb"))
    share.fog("push", "-q")
    share.fog("remote", "set-url", "origin", S3_WITH_KEYS, "--local")
    (share.root / "new.txt").write_text("new\n")
    for cmd in ("push", "pull", "sync", "stats"):
        r = share.fog(cmd, "--json", expect=None)
        assert "SECRETKEY" not in r.out + r.err and "AKID:***@" in r.out, (cmd, r.out)
