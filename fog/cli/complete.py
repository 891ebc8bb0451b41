"""Shell completion: turning typer's on, and completing paths and PATH@REV.

The scripts in completions/ (made by scripts/gen_docs.py) call back into fog
with _FOG_COMPLETE=complete_bash (zsh, fish) on every TAB. The app is built
with add_completion=False (no --install-completion: the scripts are shipped
instead), and that also leaves typer's shell classes unregistered, so `main()`
calls `enable_completion()` when it sees the variable.

The callbacks read the share's history (`.fog/db`) without the share's lock
and without FOG_HOME, so they are quick and work while a push runs. A path
argument is offered the paths the share has history for (deleted ones too:
restoring them is what `@~1` is for), relative to the current directory or
`-C DIR`; after `PATH@` the version ids of that path (12 hex digits, newest
first) or, after `PATH@~`, the `~N` forms. Any problem (not in a share, a
database being created) means no candidates: the shell then offers files.

bash gets its own completer class and script (typer's otherwise): bash cuts
the word under the cursor at '@' and ':' (COMP_WORDBREAKS), and puts a
candidate in as it is, so fog reads the whole word from COMP_LINE, offers
only the part bash replaces, and backslash-quotes spaces and the like.
After a path for PATH@REV (restore, cat, diff) bash adds no space, so `@`
can follow (as git's completion does after `git show HEAD:path`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from fog.cli import COMPLETE_VAR  # noqa: F401  -- defined once, in the light package module; used by commands

# typer's bash script, also passing the line as typed: COMP_WORDS has
# `notes.txt@7b` cut in three ('notes.txt', '@', '7b').
BASH_SCRIPT = r"""
%(complete_func)s() {
    local IFS=$'\n'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   COMP_LINE="$COMP_LINE" COMP_POINT=$COMP_POINT COMP_WORDBREAKS="$COMP_WORDBREAKS" \
                   %(autocomplete_var)s=complete_bash $1 ) )
    if [[ ${COMPREPLY[0]-} == $'\x1f' ]]; then  # fog asks for no space after it: PATH may go on with @REV
        COMPREPLY=( "${COMPREPLY[@]:1}" )
        compopt -o nospace 2>/dev/null
    fi
    return 0
}

complete -o default -F %(complete_func)s %(prog_name)s
"""
NOSPACE = "\x1f"  # a first line that tells the bash script to add no space after the candidate
_wants_nospace: list[bool] = [False]  # set by complete_spec when it offers paths (bash only acts on it)

_BASH_SPECIAL = re.compile(r"([\s'\"\\$`&;()<>|*?\[\]!{}])")


def enable_completion() -> None:
    """Register typer's zsh and fish completion classes, and fog's bash one."""
    from typer.completion import completion_init

    completion_init()
    try:
        from typer._click.shell_completion import add_completion_class
        from typer._completion_classes import BashComplete
    except ImportError:  # another typer: keep its own bash completion
        return

    class FogBashComplete(BashComplete):  # type: ignore[misc,valid-type]
        """typer's, reading the word being completed whole from COMP_LINE, and quoting what it offers."""

        source_template = BASH_SCRIPT

        def get_completion_args(self) -> tuple[list[str], str]:
            line, point = os.environ.get("COMP_LINE", ""), os.environ.get("COMP_POINT", "")
            if not line or not point.isdigit():  # COMP_WORDS and COMP_CWORD alone, as typer's script sends
                return super().get_completion_args()
            from typer._click.shell_completion import split_arg_string

            typed = line[: int(point)]  # COMP_POINT counts characters
            words = split_arg_string(typed)
            incomplete = words.pop() if typed and not typed[-1].isspace() and len(words) > 1 else ""
            self._replaced = _after_break(incomplete, os.environ.get("COMP_WORDBREAKS", ""))
            return words[1:], incomplete

        def complete(self) -> str:
            _wants_nospace[0] = False
            out = super().complete()
            return f"{NOSPACE}\n{out}" if out and _wants_nospace[0] else out

        def format_completion(self, item: Any) -> str:
            cut = getattr(self, "_replaced", 0)
            quoted = _BASH_SPECIAL.sub(r"\\\1", str(item.value)[cut:])
            return "\\" + quoted if cut == 0 and quoted.startswith(("~", "#")) else quoted  # at a word's start

    add_completion_class(FogBashComplete, "bash")


def _after_break(word: str, breaks: str) -> int:
    """How many leading characters of `word` bash leaves in place (a candidate must not repeat them).

    bash replaces only the end of a word after its last COMP_WORDBREAKS
    character (':', '=', '@' ...); for '@' and '$' (readline's special
    prefixes) the replaced part starts with the character itself.
    """
    cuts = [word.rfind(c) + (c not in "@$") for c in set(breaks) if not c.isspace() and c in word]
    return max(cuts, default=0)


@contextmanager
def _history(ctx: typer.Context) -> Iterator[tuple[Any, str]]:
    """The share's open database and the current directory relative to its root ('' at the root)."""
    from fog.repo.share import Share, find_root

    directory = ctx.find_root().params.get("directory")  # -C DIR: the callback that reads it has not run
    cwd = Path(os.fspath(directory)).expanduser().absolute() if directory else Path.cwd()
    root = find_root(cwd)
    share = Share(root, lock=False)
    try:
        rel = Path(os.path.normpath(cwd)).relative_to(root).as_posix()
        yield share.db, "" if rel == "." else rel
    finally:
        share.close()


def _local(path: str, here: str) -> str | None:
    """A share path as typed from `here` (None when it is not below it)."""
    if not here:
        return path
    return path[len(here) + 1 :] if path.startswith(here + "/") else None


def _describe(v: Any) -> str:
    from fog.cli.common import human_size, local_time

    what = "deleted" if v.deleted else (v.kind if v.kind in ("dir", "link") else human_size(v.size))
    return f"{local_time(v.time_ns)}, {what}"


def _heads_under(db: Any, prefix: str) -> dict[str, Any]:
    """The newest version of each path that starts with `prefix`, reading only those.

    The `heads` keys are the paths' bytes, sorted, so one range scan finds
    them in a share of any size; paths over 400 bytes are keyed by a hash
    (0xFF...) and looked at one by one.
    """
    start = os.fsencode(prefix)
    found = {}
    with db.read() as txn:
        cur = txn.cursor(db.db["heads"])
        for first, wanted in ((start, start), (b"\xff", b"\xff")):
            if not cur.set_range(first):
                continue
            for key, vid in cur:
                if not key.startswith(wanted):
                    break
                v = db.version(vid, txn)
                if v is not None and v.path.startswith(prefix):
                    found[v.path] = v
    return found


def _paths(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    dot = "./" if incomplete.startswith("./") else ""
    typed = incomplete[len(dot) :]
    with _history(ctx) as (db, here):
        heads = _heads_under(db, f"{here}/{typed}" if here else typed)
    out = []
    for path, v in heads.items():
        local = _local(path, here)
        if local is not None:
            out.append((dot + local, "deleted" if v.deleted else v.kind))
    return sorted(out)


def _revisions(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    typed_path, rev = incomplete.rsplit("@", 1)
    local = typed_path[2:] if typed_path.startswith("./") else typed_path
    with _history(ctx) as (db, here):
        history = db.path_history(f"{here}/{local}" if here else local)
    if rev.startswith("~"):
        return [(f"{typed_path}@~{n}", _describe(v)) for n, v in enumerate(history)]
    return [(f"{typed_path}@{v.id.hex()[:12]}", _describe(v)) for v in history]


def complete_path(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Paths with history in the share (for `fog log PATH`)."""
    try:
        return _paths(ctx, incomplete)
    except Exception:  # a traceback in the middle of the user's prompt helps no one
        return []


def complete_spec(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """PATH, then after `PATH@` that path's versions (for `fog restore PATH@REV`)."""
    try:
        if "@" in incomplete:
            found = _revisions(ctx, incomplete)
            if found:
                return found
        _wants_nospace[0] = True  # a path here is often followed by @REV: bash must not add a space
        return _paths(ctx, incomplete)  # a name that contains '@'
    except Exception:  # see complete_path
        return []
