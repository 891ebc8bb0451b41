"""man/ and completions/ are generated from the live CLI and stay true (issue 6, items 1 and 2).

scripts/gen_docs.py walks typer's command tree; these tests fail when a command
has no page, when a page or completion script is stale, when a page does not
render cleanly, and when shell completion does not complete commands, share
paths and versions.
"""

from __future__ import annotations

import inspect
import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fogcli import Share, init_share, run_fog

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import gen_docs  # noqa: E402
import man_text  # noqa: E402

FOG_BIN = Path(sys.executable).parent / "fog"  # the console script pip installed


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return gen_docs.generate()


def _commands() -> list[gen_docs.Cmd]:
    return list(gen_docs.load_cli().walk())


# -- man pages ------------------------------------------------------------------------------


def test_every_command_and_subcommand_has_a_page() -> None:
    cmds = _commands()
    keys = {c.key for c in cmds}
    assert {"push", "restore", "device", "device list", "remote add"} <= keys
    for cmd in cmds:
        page = ROOT / "man" / f"{cmd.page}.1"
        assert page.is_file(), f"no man page for `fog {cmd.key}`: run python scripts/gen_docs.py"
        assert f".TH {gen_docs.esc(cmd.page.upper())} 1" in page.read_text()


def test_generated_files_are_up_to_date(generated: dict[str, str]) -> None:
    assert {"completions/fog.bash", "completions/_fog", "completions/fog.fish", "man/fog.1"} <= set(generated)
    assert gen_docs.stale(generated) == [], "run: python scripts/gen_docs.py"
    assert gen_docs.main(["--check"]) == 0


def test_check_fails_when_an_option_changes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from fog.cli import push_cmd

    dry_run = inspect.signature(push_cmd.push).parameters["dry_run"].default  # typer's OptionInfo
    monkeypatch.setattr(dry_run, "help", "Pretend, with a help text nobody regenerated the pages for.")
    assert gen_docs.stale(gen_docs.generate()) == ["man/fog-push.1: stale"]
    assert gen_docs.main(["--check"]) == 1
    assert "man/fog-push.1: stale" in capsys.readouterr().out
    monkeypatch.undo()
    assert gen_docs.stale(gen_docs.generate()) == []


def test_a_page_nobody_generates_is_reported_and_removed(generated: dict[str, str], tmp_path: Path) -> None:
    gen_docs.write(generated, tmp_path)
    assert gen_docs.stale(generated, tmp_path) == []
    (tmp_path / "man" / "fog-gone.1").write_text(".TH FOG-GONE 1\n")
    (tmp_path / "man" / "fog-log.1").unlink()
    assert gen_docs.stale(generated, tmp_path) == [
        "man/fog-log.1: missing",
        "man/fog-gone.1: not generated (a removed command?)",
    ]
    gen_docs.write(generated, tmp_path)
    assert gen_docs.stale(generated, tmp_path) == []


def test_every_page_documents_h_as_well_as_help(generated: dict[str, str]) -> None:
    """Ten pages (the commands with no option of their own, and those of sub-apps) said only `--help`,
    though `-h` works everywhere: their context lacked the app's settings."""
    pages = {name: text for name, text in generated.items() if name.endswith(".1") and "Show this message" in text}
    assert len(pages) > 40
    assert [name for name, text in pages.items() if r"\fB\-h\fR, \fB\-\-help\fR" not in text] == []


def test_every_page_renders_without_warnings() -> None:
    groff = shutil.which("groff")
    assert groff, "groff is needed to check the man pages (apt-get install groff-base)"
    pages = sorted((ROOT / "man").glob("*.1"))
    assert len(pages) == len(_commands())

    def render(page: Path) -> subprocess.CompletedProcess[bytes]:
        argv = [groff, "-ww", "-man", "-Tutf8", str(page)]
        return subprocess.run(argv, capture_output=True, env={**os.environ, "LC_ALL": "C.UTF-8"})

    with ThreadPoolExecutor(8) as pool:
        rendered = list(pool.map(render, pages))
    for page, proc in zip(pages, rendered, strict=True):
        assert proc.returncode == 0 and proc.stderr == b"", f"{page.name}: {proc.stderr.decode()}"
        text = re.sub(".\x08", "", proc.stdout.decode())  # grotty's overstrike bold
        assert "NAME" in text and "SYNOPSIS" in text and "SEE ALSO" in text, page.name


def test_overview_documents_environment_exit_codes_and_json() -> None:
    text = (ROOT / "man" / "fog.1").read_text()
    names = ("FOG_HOME", "FOG_MASTER_KEY_FILE", "FOG_MASTER_KEY_COMMAND", "FOG_S3_ENDPOINT", "NO_COLOR")
    for name in (*names, "FOG_PASSPHRASE_COMMAND", "FOG_NEW_PASSPHRASE_COMMAND"):
        assert gen_docs.esc(name) in text, name
    for section in ("ENVIRONMENT", "FILES", "EXIT STATUS", "JSON OUTPUT", "EXAMPLES", "SEE ALSO"):
        assert f".SH {section}\n" in text, section
    assert sorted(man_text.EXIT_CODES) == [0, 1, 2, 3, 4, 5, 6, 75, 128, 130, 141, 143]
    from fog import errors

    assert (errors.EXIT_CONFLICTS, errors.EXIT_INTEGRITY, errors.EXIT_REVOKED, errors.EXIT_LOCKED) == (3, 4, 6, 75)


def test_roff_escaping() -> None:
    assert gen_docs.esc(r"-n --dry-run 'a' \x ~1 é") == r"\-n \-\-dry\-run \(aqa\(aq \ex \(ti1 \[u00E9]"
    assert gen_docs.text_line(".fog/ is never pushed") == r"\&.fog/ is never pushed"
    assert gen_docs.inline("`--json` and *DIR*") == r"\fB\-\-json\fR and \fIDIR\fR"


def test_hand_written_text_must_fit_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    root = gen_docs.load_cli()
    cmds = {c.key: c for c in root.walk()}
    assert gen_docs.validate(root, cmds) == []
    monkeypatch.setitem(
        man_text.PAGES,
        "push",
        {"examples": [("", "fog push --no-such-option"), ("", "fog diff .@~1 ~0")], "see_also": ["x"]},
    )
    monkeypatch.setitem(man_text.PAGES, "frobnicate", {})
    problems = "\n".join(gen_docs.validate(root, cmds))
    assert "PAGES['frobnicate']: no such command" in problems
    assert "see_also 'x': no such command" in problems
    assert "--no-such-option" in problems
    assert "'fog diff .@~1 ~0': the shell expands an unquoted ~N" in problems  # bash makes ~0 the cwd
    assert gen_docs.example_argv("cd ~/n && FOO=1 fog -C x log a --json | jq . 2>/dev/null") == [
        ["-C", "x", "log", "a", "--json"]
    ]


def test_every_json_command_documents_its_fields() -> None:
    with_json = {c.key for c in _commands() if any("--json" in getattr(p, "opts", []) for p in c.params())}
    assert with_json == set(man_text.JSON_FIELDS), "add the command's fields to man_text.JSON_FIELDS"


def test_readme_names_every_command_that_takes_json() -> None:
    """README's "JSON output" list of the commands that take --json lacked ls, find, forget and prune
    (review6 C7); it is read here as `cmd sub1|sub2` words and must name exactly fog(1)'s."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### JSON output", 1)[1].split("###", 1)[0]
    listed = section.split("`--json` is accepted by every command that reports something:", 1)[1]
    listed = listed.split("(their fields are", 1)[0]
    named: set[str] = set()
    for word in re.findall(r"`([^`]+)`", listed):
        head, _, subs = word.partition(" ")
        named |= {f"{head} {s}" for s in subs.split("|")} if subs else {head}
    assert named == set(man_text.JSON_FIELDS)
    # the error line of a remote that failed, in a command that goes on without it
    assert '"kind": "remote", "remote":' in section


# The command line whose --json output shows each documented document (run in order).
JSON_RUNS: dict[str, list[str]] = {
    "status": ["status"],
    "share members": ["share", "members"],
    "push": ["push"],
    "log": ["log", "notes.txt"],
    "restore": ["restore", "notes.txt@~1", "-o", "old.txt"],
    "diff": ["diff", "notes.txt@~1", "notes.txt@~0"],
    "ls": ["ls"],
    "find": ["find", "*.txt"],
    "check": ["check"],
    "stats": ["stats"],
    "prune": ["prune", "--dry-run"],
    "pull": ["pull"],
    "sync": ["sync"],
    "remote add": ["remote", "add", "second", "{tmp}/remote2"],
    "remote list": ["remote", "list"],
    "remote skip": ["remote", "skip", "second"],
    "remote unskip": ["remote", "unskip", "second"],
    "remote set-url": ["remote", "set-url", "second", "{tmp}/remote2", "--local"],
    "remote renew": ["remote", "renew", "second"],
    "remote remove": ["remote", "remove", "second"],
    "device list": ["device", "list"],
    "device rename": ["device", "rename", "{device}", "renamed"],
    "key show": ["key", "show"],
    "policy set": ["policy", "set", "--keep-last", "5"],
    "policy show": ["policy", "show"],
    "forget": ["forget", "--keep-last", "1"],
    "init": ["init", "{tmp}/other", "--remote", "{tmp}/remote3"],
}


def test_documented_json_fields_are_present(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    # (run in tests/integration/test_sharing.py and test_key_rotation.py; key protect|unprotect in
    # tests/cli/test_passphrase.py)
    others = {"clone", "device revoke", "key rotate", "key adopt", "share invite", "share remove-member"}
    others |= {"key protect", "key unprotect"}
    others |= {"device add-untrusted", "device remove", "device set-address"}  # (tests/integration/test_node_e2e.py)
    assert set(JSON_RUNS) | others == set(man_text.JSON_FIELDS)
    share.write("notes.txt", "one\n")
    share.push()
    share.write("notes.txt", "two\n")
    share.push()
    device = share.fog("device", "list", "--json").json()[0]["name"]

    def check(key: str, doc: Any) -> None:
        items = doc if key in man_text.JSON_LISTS else [doc]
        assert items, key
        for item in items:  # (equal sets, not a subset: a field nobody documented fails as a missing one does)
            missing = set(man_text.JSON_FIELDS[key]) - set(item)
            assert not missing, f"fog {key} --json lacks documented fields {sorted(missing)}"
            extra = set(item) - set(man_text.JSON_FIELDS[key])
            assert not extra, f"fog {key} --json has fields fog(1) does not list: {sorted(extra)} (JSON_FIELDS)"

    for key, argv in JSON_RUNS.items():
        args = [a.format(tmp=share.tmp, device=device) for a in argv]
        check(key, share.fog(*args, "--json").json())
    # a second device joins, and is then revoked
    home = os.environ["FOG_HOME"]
    monkeypatch.setenv("FOG_HOME", str(share.tmp / "home2"))
    r = run_fog(["clone", share.remote, share.tmp / "clone", "--master-key-file", share.key_file, "--json"], share.tmp)
    check("clone", r.json())
    new = r.json()["device"]
    monkeypatch.setenv("FOG_HOME", home)
    check("device revoke", share.fog("device", "revoke", new, "--json").json())
    check("key rotate", share.fog("key", "rotate", "--json").json())


# -- completion ----------------------------------------------------------------------------


def _complete(args: list[str], incomplete: str) -> list[str]:
    """What a TAB offers, asked in this process the way the shell scripts ask fog."""
    completer = gen_docs.completion(gen_docs.load_cli(), "bash")
    return [item.value for item in completer.get_completions(args, incomplete)]


def _bash(cwd: Path, *words: str, line: str | None = None) -> list[str]:
    """COMPREPLY of the generated bash completion for `fog WORDS...` (the last one being completed).

    With `line`, also COMP_LINE and COMP_POINT, as an interactive bash sets
    them (its COMP_WORDS split at '@' and ':').
    """
    assert FOG_BIN.is_file(), f"{FOG_BIN} missing: install fog (pip install -e .)"
    quoted = " ".join(shlex.quote(w) for w in words)
    script = (
        f"source {ROOT / 'completions' / 'fog.bash'}\n"
        f"COMP_WORDS=(fog {quoted}); COMP_CWORD={len(words)}\n"
        + (f"COMP_LINE={shlex.quote(line)}; COMP_POINT=${{#COMP_LINE}}\n" if line is not None else "")
        + '_fog_completion fog; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{FOG_BIN.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", "--norc", "-c", script], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


def test_completion_scripts_are_what_fog_prints(generated: dict[str, str]) -> None:
    proc = subprocess.run(
        [str(FOG_BIN)], env={**os.environ, "_FOG_COMPLETE": "source_bash"}, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() in generated["completions/fog.bash"]
    root = gen_docs.load_cli()
    for shell, name in (("zsh", "_fog"), ("fish", "fog.fish")):
        body = str(gen_docs.completion(root, shell).source()).strip().splitlines()
        if shell == "zsh":  # made loadable from $fpath: #compdef first, the last line moves into an if
            assert body[0] == "#compdef fog"
            body = body[1:-1]
        assert "\n".join(body) in generated[f"completions/{name}"], shell
    assert generated["completions/_fog"].startswith("#compdef fog\n")


def test_zsh_and_fish_get_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    root = gen_docs.load_cli()
    monkeypatch.setenv("_TYPER_COMPLETE_ARGS", "fog pu")
    zsh = str(gen_docs.completion(root, "zsh").complete())
    assert zsh.startswith("_arguments ") and '"push"' in zsh and '"pull"' in zsh
    monkeypatch.setenv("_TYPER_COMPLETE_FISH_ACTION", "get-args")
    fish = str(gen_docs.completion(root, "fish").complete()).splitlines()
    assert sorted(line.split("\t")[0] for line in fish) == ["pull", "push"]


def test_bash_completes_commands(tmp_path: Path) -> None:
    offered = _bash(tmp_path, "pu")
    assert "push" in offered and "pull" in offered
    assert set(offered) <= {"push", "pull"}


def test_bash_completes_share_paths_and_versions(share: Share) -> None:
    share.write("notes.txt", "one\n")
    share.write("docs/old plan.md", "plan\n")
    share.push()
    share.write("notes.txt", "two\n")
    share.push()
    versions = [e["version"][:12] for e in share.log("notes.txt")]
    assert _bash(share.root, "restore", "notes") == ["notes.txt"]
    assert sorted(_bash(share.root, "restore", "notes.txt@")) == sorted(f"notes.txt@{v}" for v in versions)
    # interactive bash: the word is cut at '@', and only '@...' is replaced; a space is quoted
    line = "fog restore notes.txt@"
    assert sorted(_bash(share.root, "restore", "notes.txt", "@", line=line)) == sorted(f"@{v}" for v in versions)
    assert _bash(share.root, "log", "docs/o", line="fog log docs/o") == ["docs/old\\ plan.md"]


def test_completion_of_paths_follows_cwd_and_dash_c(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    share.write("notes.txt", "one\n")
    share.write("docs/plan.md", "plan\n")
    share.write("docs/gone.md", "bye\n")
    long = "L" * 200 + "/" + "x" * 250  # over LMDB's key limit: keyed by a hash
    share.write(long, "deep\n")
    share.push()
    (share.root / "docs" / "gone.md").unlink()
    share.push()
    monkeypatch.chdir(share.root)
    assert _complete(["log"], "LLL") == ["L" * 200, long]
    assert _complete(["restore"], "d") == ["docs", "docs/gone.md", "docs/plan.md"]
    assert _complete(["log"], "./no") == ["./notes.txt"]
    assert _complete(["restore"], "docs/gone.md@~") == ["docs/gone.md@~0", "docs/gone.md@~1"]
    monkeypatch.chdir(share.root / "docs")
    assert _complete(["restore"], "") == ["gone.md", "plan.md"]  # deleted files too: @~1 restores them
    monkeypatch.chdir(share.tmp)
    assert _complete(["-C", str(share.root), "log"], "n") == ["notes.txt"]
    assert _complete(["restore"], "n") == []  # not in a share: the shell falls back to file names


def test_bash_replaces_only_what_follows_a_word_break() -> None:
    from fog.cli.complete import _after_break

    breaks = "\"'@><=;|&(:"  # bash's default COMP_WORDBREAKS
    assert _after_break("notes.txt@7b", breaks) == len("notes.txt")  # '@' is part of what bash replaces
    assert _after_break("a:b/c.txt", breaks) == len("a:")
    assert _after_break("notes.txt", breaks) == 0


def test_completion_never_fails_in_a_broken_share(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    share = init_share(tmp_path)
    (share.root / ".fog" / "config.json").write_text("{not json")
    monkeypatch.chdir(share.root)
    assert _complete(["restore"], "") == []
    assert _complete(["log"], "x@") == []


def test_the_commands_that_exit_5_say_so(generated: dict[str, str]) -> None:
    """review 7 newuser 8: fog-sync(1), fog-pull(1), fog-push(1) and fog-clone(1) left out exit 5 (some paths
    could not be read or written), which each of them returns; fog-clone(1) also 6."""
    for page in ("man/fog-push.1", "man/fog-pull.1", "man/fog-sync.1", "man/fog-clone.1"):
        status = generated[page].split(".SH EXIT STATUS", 1)[1].split(".SH ", 1)[0]
        assert "\\fB5\\fR" in status, page
    assert "\\fB6\\fR" in generated["man/fog-clone.1"].split(".SH EXIT STATUS", 1)[1]
