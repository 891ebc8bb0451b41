"""A remote dropped for refused data is told apart from one that failed (fog.errors.Refused)."""

from __future__ import annotations

import copy
import json

import pytest

from fog.cli.text import report_remote_errors
from fog.errors import IntegrityError, Refused, RemoteError, UnreadableObject, failure, none_left


def test_failure_marks_refused_data_only() -> None:
    assert isinstance(failure(IntegrityError("altered")), Refused)
    assert isinstance(failure(UnreadableObject("a FIFO")), Refused)
    plain = failure(RemoteError("down"))
    assert plain == "down" and not isinstance(plain, Refused)
    kept = copy.deepcopy({**{"a": failure(IntegrityError("x"))}})  # (merged and copied reports keep the mark)
    assert isinstance(kept["a"], Refused) and json.dumps(kept) == '{"a": "x"}'


def test_refused_data_wins_over_a_failed_remote(capsys: pytest.CaptureFixture[str]) -> None:
    errors = {"usb": "down", "nas": failure(IntegrityError("rolled back"))}
    assert report_remote_errors(errors, False) == 4
    err = capsys.readouterr().err
    assert "fog: remote nas refused, not used by this command: rolled back" in err
    assert "fog: remote usb failed: down" in err
    assert report_remote_errors({"usb": "down"}, True) == 1
    assert report_remote_errors(errors, True) == 4
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(d["remote"], d["code"], d["kind"]) for d in lines] == [
        ("usb", 1, "remote"),
        ("nas", 4, "integrity"),
        ("usb", 1, "remote"),
    ]


def test_none_left_is_an_integrity_error_when_one_was_refused() -> None:
    assert type(none_left({"usb": "down"})) is RemoteError
    exc = none_left({"usb": "down", "nas": failure(IntegrityError("altered"))})
    assert isinstance(exc, IntegrityError) and "nas: altered" in str(exc)


def test_the_rollback_advice_for_a_node_is_one_that_works() -> None:
    """Review 6 remotes R6: a node restored from an older copy was told `fog remote remove vps` then
    `fog remote add vps URL`, both of which fog refuses for a node."""
    from fog.sync.logs import rolled_back_text

    node = rolled_back_text("vps", 1, 2, node=True)
    assert "remote remove" not in node and "remote add" not in node and "remote renew" not in node
    assert "`fog device remove vps`" in node and "`fog serve` on a new directory" in node
    store = rolled_back_text("nas", 1, 2)
    assert "`fog remote renew nas` (on any one device)" in store  # (also for a share's only remote: review 7 F5)
