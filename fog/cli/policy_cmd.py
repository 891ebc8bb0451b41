"""fog policy show|set: the share's retention policy, kept in the SyncConfig for every device."""

from __future__ import annotations

from typing import Any

import typer

from fog.cli.app import WholeSummaries, app
from fog.cli.common import JSON_OPTION, STATE, WAIT_OPTION, api, emit_json, fog_home, human_size, local_time, run
from fog.cli.policy_opts import (
    UNSET_NAMES,
    KeepDaily,
    KeepDeleted,
    KeepHourly,
    KeepLast,
    KeepMonthly,
    KeepWeekly,
    KeepWithin,
    KeepYearly,
    MaxOldSize,
    RuleOptions,
    policy_edit,
    rule_options,
)
from fog.cli.text import report_remote_errors
from fog.format.policy import RULE_FIELDS, Policy, Rules, format_duration, rule_name

policy_app = typer.Typer(
    cls=WholeSummaries,
    help="Show or change the share's retention policy (kept in your fog settings: every device applies it).",
    no_args_is_help=True,
)
app.add_typer(policy_app, name="policy")


def _value(field: str, value: int | None, *, share_wide: bool = True) -> str:
    if value is None:
        return "forever" if field == "keep_deleted" and share_wide else "not set"
    return format_duration(value) if field in ("keep_within", "keep_deleted") else str(value)


def _size(n: int | None) -> str:
    return "no limit" if n is None else (human_size(n) if n >= 1024 else f"{n} B")


def rules_text(rules: Rules) -> str:
    """'keep-last 2, keep-within 30d': the rules set, in words (an override's)."""
    set_rules = [(f, getattr(rules, f)) for f in RULE_FIELDS if getattr(rules, f) is not None]
    return ", ".join(f"{rule_name(f)} {_value(f, v)}" for f, v in set_rules) or "no rule"


def policy_doc(policy: Policy, stored: bool) -> dict[str, Any]:
    return {"stored": stored, "policy": policy.to_json()}


@policy_app.command()
def show(as_json: bool = JSON_OPTION) -> None:
    """Show the share's retention policy: rules, per-pattern overrides, the cap on old versions."""
    policy, stored = run(lambda: api.policy(fog_home(), STATE.cwd), as_json)
    if as_json:
        emit_json(policy_doc(policy, stored))
        return
    if stored:
        typer.echo(f"Retention policy of this share (set {local_time(policy.updated)}, kept in your fog settings):")
    else:
        typer.echo("Retention policy of this share: fog's defaults (none is stored; `fog policy set` stores one):")
    for f in RULE_FIELDS:
        typer.echo(f"  {rule_name(f):<14}{_value(f, getattr(policy.rules, f))}")
    typer.echo(f"  {'max-old-size':<14}{_size(policy.max_old_bytes)}")
    if not policy.rules.keeps_versions():
        typer.echo("No rule keeps versions: every version is kept (keep-deleted still applies).")
    if policy.overrides:
        typer.echo("Overrides (the first pattern that matches a path wins; what it leaves unset comes from above):")
        width = max(len(p) for p, _ in policy.overrides) + 2
        for pattern, rules in policy.overrides:
            typer.echo(f"  {pattern:<{width}}{rules_text(rules)}")


def changes(old: Policy, new: Policy) -> list[str]:
    """What differs between two policies, one line each."""
    out = [
        f"{rule_name(f)}: {_value(f, getattr(old.rules, f))} -> {_value(f, getattr(new.rules, f))}"
        for f in RULE_FIELDS
        if getattr(old.rules, f) != getattr(new.rules, f)
    ]
    if old.max_old_bytes != new.max_old_bytes:
        out.append(f"max-old-size: {_size(old.max_old_bytes)} -> {_size(new.max_old_bytes)}")
    before, after = dict(old.overrides), dict(new.overrides)
    for pattern, rules in new.overrides:
        if pattern not in before:
            out.append(f"override {pattern}: added ({rules_text(rules)})")
        elif before[pattern] != rules:
            out.append(f"override {pattern}: {rules_text(before[pattern])} -> {rules_text(rules)}")
    out += [f"override {p}: removed" for p, _ in old.overrides if p not in after]
    return out


@policy_app.command("set")
def set_cmd(
    keep_last: KeepLast = None,
    keep_within: KeepWithin = None,
    keep_hourly: KeepHourly = None,
    keep_daily: KeepDaily = None,
    keep_weekly: KeepWeekly = None,
    keep_monthly: KeepMonthly = None,
    keep_yearly: KeepYearly = None,
    keep_deleted: KeepDeleted = None,
    max_old_size: MaxOldSize = None,
    path: str = typer.Option(
        None, "--path", help="Change the rules for paths matching PATTERN (an override).", metavar="PATTERN"
    ),
    unset: list[str] = typer.Option(
        None, "--unset", help=f"Remove a rule ({', '.join(UNSET_NAMES)}); repeatable.", metavar="RULE"
    ),
    reset: bool = typer.Option(
        False, "--reset", help="Start from fog's defaults (with --path: drop that pattern's override)."
    ),
    as_json: bool = JSON_OPTION,
    wait: bool = WAIT_OPTION,
) -> None:
    """Change the share's retention policy for every device (the other rules stay as they are)."""
    options = rule_options(locals())
    edit = run(
        lambda: policy_edit(
            RuleOptions(**options),
            unset=unset or [],
            pattern=path,
            reset=reset,
        ),
        as_json,
    )
    result = run(lambda: api.set_policy(fog_home(), STATE.cwd, edit.apply, wait=wait), as_json)
    lines = changes(result.previous, result.policy)
    if as_json:
        emit_json(
            {
                **policy_doc(result.policy, True),
                "changed": result.changed,
                "changes": lines,
                "previous": result.previous.to_json(),
                "previous_stored": result.previous_stored,
                "published": result.published,
                "remote_errors": result.remote_errors,
            }
        )
    elif not result.changed:
        typer.echo("The policy is unchanged (those rules are in force already).")
    else:
        where = ", ".join(result.published)
        typer.echo(f"Policy changed for every device (published on {where}; the others apply it at their next pull):")
        for line in lines or ["fog's defaults are now stored as the share's policy"]:
            typer.echo(f"  {line}")
    code = report_remote_errors(result.remote_errors, as_json)
    if code:
        raise typer.Exit(code)
