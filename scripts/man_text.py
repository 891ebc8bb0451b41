"""The hand-written parts of fog's man pages, merged by scripts/gen_docs.py.

Everything that can be read from the CLI (synopsis, options, their help and
defaults, the command list) is generated; only what the code cannot say is
here. Keep it short and true: gen_docs.py refuses an entry for a command that
does not exist, and parses every example command line with the live CLI.

Text markup: a block is a paragraph (str), a definition list (list of
(term, text) pairs) or a bullet list (tuple of str). In text, `code` is set
in bold (commands, options, literal values) and *word* in italics
(placeholders).
"""

from __future__ import annotations

Block = str | list[tuple[str, str]] | tuple[str, ...]

# -- fog(1) ------------------------------------------------------------------------

DESCRIPTION: list[Block] = [
    "fog keeps a directory (a *share*) in sync across your devices, with a version history for every "
    "file, through storage you do not trust: a USB disk, a NAS mount, an SFTP server or an "
    "S3-compatible bucket (a *remote*). The remote only ever holds encrypted blocks and sealed logs "
    "under opaque names; it never sees a file name, a directory structure, file contents or a key, "
    "and fog refuses any object or log entry that a remote altered, swapped, dropped or made up.",
    "Trusted devices hold the keys and see plaintext. All keys come from one secret, the *master "
    "key*, which `fog init` creates once and shows (or writes to a file); another device needs it to "
    "join with `fog clone`. Files are cut into content-defined blocks of about 64 KiB, so an edit in "
    "the middle of a large file uploads only the blocks around it, and a block that appears twice "
    "in a share is stored once.",
    "fog is a command-line tool with no daemon, run by a person or by cron. Every command except "
    "`init` and `clone` works from any directory inside a share: fog walks up to the directory that "
    "holds `.fog/`. Paths are relative to the current directory (or `-C` *DIR*). A second fog "
    "process on the same share never interleaves with the first: it exits 75, or waits when given "
    "`--wait`.",
]

REVISIONS: list[Block] = [
    "`restore`, `cat` and `diff` name one version of a path as *PATH*`@`*REV*; without `@`*REV* "
    "it is the newest version. *REV* is one of:",
    [
        ("`~`*N*", "*N* versions back in that path's history: `~0` is the newest, `~1` the one before."),
        (
            "a hex prefix",
            "of a version id, 4 digits or more, matching exactly one version of the path (`fog log` shows 12).",
        ),
        (
            "an ISO date or date-time",
            "the newest version at or before it: `2026-11-28` (the end of that day), `2026-11-28T16:21`, "
            "`2026-11-28T16:21:02Z`; without a zone it is local time. During the hour a clock turned "
            "back shows twice, `fog log` prints the UTC offset (`2026-10-25 02:30:30+01:00`), and such a "
            "time without one names the later of its two moments.",
        ),
        (
            "an age",
            "`30m` or `30min`, `2h`, `3d`, `1w`, `6mo`, `1y`: the newest version at least that old (`m`: "
            "minutes here, months in a policy's durations; `mo`: 30 days, `y`: 365).",
        ),
        ("`yesterday`", "the newest version from before today."),
    ],
    "A path whose name holds `@` (a folder `me@example.com`) is that path, with no *REV*, when the part "
    "before the last `@` names nothing (in history or on disk); `me@example.com@~1` names it at a *REV*.",
]

ENVIRONMENT: list[tuple[str, str]] = [
    (
        "`FOG_HOME`",
        "The directory holding this device's identity: device and user keypairs, the master key and "
        "the cached SyncConfig (files mode 0600; sealed under a passphrase after `fog key protect`). "
        "Default: `~/.config/fog` (honouring `XDG_CONFIG_HOME`). Set it to keep a separate identity, for "
        "scripts or tests.",
    ),
    (
        "`FOG_PASSPHRASE_COMMAND`",
        "A shell command (run by `/bin/sh -c`, as git runs credential helpers: pipes and variables work) "
        "whose first line of output is the passphrase that `FOG_HOME` is sealed under (`fog key protect`), "
        "for example `pass show fog/home`; "
        "for cron. Without it, fog asks on the terminal (without echo), and without a terminal a command "
        "that needs the secrets exits 1 saying so. Asked only when `FOG_HOME` is sealed; `fog key protect` "
        "of a home in clear also takes the new passphrase from it.",
    ),
    (
        "`FOG_NEW_PASSPHRASE_COMMAND`",
        "As `FOG_PASSPHRASE_COMMAND`, for the new passphrase of `fog key protect` (the current one, when the "
        "home is sealed already, comes from `FOG_PASSPHRASE_COMMAND` or the terminal).",
    ),
    (
        "`FOG_MASTER_KEY_FILE`",
        "A file holding the master key, read by `fog clone` when `--master-key-file` is not given.",
    ),
    (
        "`FOG_MASTER_KEY_COMMAND`",
        "A shell command (run by `/bin/sh -c`) whose first line of output is "
        "the master key, for example `pass show fog | head -1`; used by `fog clone` when neither "
        "`--master-key-file` nor `FOG_MASTER_KEY_FILE` is given. The master key is never accepted as "
        "a command-line value.",
    ),
    ("`FOG_S3_ENDPOINT`", "The endpoint of an S3-compatible service, as `--s3-endpoint` (saved with the remote)."),
    (
        "`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`",
        "Credentials for `s3://` remotes, from the standard AWS chain (also `~/.aws/credentials` and `~/.aws/config`).",
    ),
    (
        "`HOME`",
        "`sftp://` remotes use `~/.ssh`: keys from the agent (`SSH_AUTH_SOCK`) and `~/.ssh`, host "
        "aliases, `User`, `Port`, `IdentityFile` and `ProxyCommand` from `~/.ssh/config`, and "
        "`~/.ssh/known_hosts` for host keys.",
    ),
    ("`NO_COLOR`", "When set, output is never coloured. Colour is only used on a terminal, and not with `TERM=dumb`."),
    (
        "`FOG_NO_FAST`",
        "When set, `push`, `pull`, `sync`, `status`, `log`, `clone` and `--version` always go through the "
        "full command-line parser. By default their common forms (no progress bar; for `log` only PATH, `-n` "
        "and `--json`; for `clone` a master key from a file or `FOG_MASTER_KEY_COMMAND`, not a prompt) are "
        "answered by a lighter path that starts in half the time, and `log FILE` reads "
        "the file's history straight from the share database (a tenth of the time); output and exit "
        "codes are the same.",
    ),
]

FILES: list[tuple[str, str]] = [
    ("`$FOG_HOME/`", "This device's identity (see ENVIRONMENT)."),
    (
        "`$FOG_HOME/identity.json`, `master-key`, `master-key.old`, `syncconfig.json`",
        "Its secrets: in clear (mode 0600), or, after `fog key protect`, each sealed under the passphrase "
        "(a first line `fog-sealed 1`; docs/FORMAT.md, section 12).",
    ),
    ("*DIR*`/.fog/config.json`", "The share's id and name, its remotes (name and URL) and settings."),
    (
        "*DIR*`/.fog/db/`",
        "The LMDB database: stat index, the history of every version, remote cursors and the outbox.",
    ),
    ("*DIR*`/.fog/lock`", "Held by every command that scans the share or talks to a remote."),
    (
        "*DIR*`/.fog/archive/`",
        "Encrypted copies of files that a pull replaced or deleted, so recent versions restore offline "
        "(size: `settings.archive_max_bytes` in `config.json`).",
    ),
    ("*DIR*`/.fog/tmp/`", "Scratch space for atomic writes."),
]

EXIT_CODES: dict[int, str] = {
    0: "Done.",
    1: (
        "Error; the message says what happened and what to do (also when stdout cannot be written, "
        "a full disk under `fog log > FILE`: `cannot write to standard output`)."
    ),
    2: "Usage: the command line asked for something that cannot make sense.",
    3: "Done, but conflict copies were written (`NAME.fog-conflict-...`).",
    4: "Integrity or authentication failure: data was refused.",
    5: (
        "Done, but some paths could not be read (push) or written here (pull, clone, a tree restore): each is "
        "listed, and tried again by the next run."
    ),
    6: (
        "This device was revoked, or the master key it holds was replaced by a key rotation "
        "(`fog device revoke`, `fog key rotate` on another device), or this user was removed from a "
        "shared share (`fog share remove-member`), or is known there only by a user key their own rotation "
        "replaced (until its owner invites the new one); its local files are untouched."
    ),
    75: "Another fog process holds the share's lock (cron may retry; `--wait` waits instead).",
    128: "`fog diff --exit-code` only: an error that is 1 elsewhere (there 1 means that they differ, as in git).",
    130: "Interrupted by SIGINT (Ctrl-C); stops within a second, prints `fog: interrupted`, publishes nothing partial.",
    141: "The reader of stdout went away (`fog log | head -1`): fog stops quietly, as git does (128 + SIGPIPE).",
    143: "Stopped by SIGTERM (`kill`, `timeout`, `systemctl stop`), as cleanly as by SIGINT.",
}

ROLLED = (
    "A remote restored from an older copy (a NAS snapshot, a backup) holds old copies of the devices' "
    "logs and settings and is refused at every run (`fog remote list` says `REFUSED`); if that is what "
    "happened, `fog remote renew` *NAME*, on any one device, accepts it as it is now for every device, "
    "and every device publishes its versions there again (also for a share's only remote; an "
    "untrusted node: `fog device remove` *NAME*, then `fog serve` on a new directory)."
)
LOCKED = "Another fog process holds the share's lock."  # commands that lock without offering --wait

JSON_INTRO: list[Block] = [
    "`--json` is accepted by every command that reports something. With it, stdout carries exactly "
    "one JSON document and nothing else; messages, warnings and progress go to stderr. An error "
    "under `--json` is one JSON object on one line of stderr, with `code` (the exit code), `kind` "
    "(`error`, `usage`, `not-a-share`, `identity`, `passphrase`, `remote`, `integrity`, `locked`, `revision`, "
    "`unsaved-changes`, `read-only`, ...) and `message`; the exit code is the same as without `--json`. A "
    "command that goes on when some of its remotes fail (`push`, `pull`, `sync`, `stats`, `prune`, `forget`, "
    "`policy set`, `remote remove|set-url`) still prints its document on stdout, and on stderr one such "
    "line per failed remote, each with a fourth key, `remote` (its name): kind `remote` (exit 1), or "
    "`integrity` when its data was refused (exit 4). A "
    "command line that the parser itself rejects (an unknown option, a missing argument) gets a "
    "plain-text usage message and exit code 2.",
    "Times are ISO 8601 in UTC, sizes are bytes, version ids are 64 hex digits. The top-level fields of each document:",
]

# Documented top-level fields of each command's --json document (a list of
# objects where the command lists things). tests/cli/test_docs.py checks that
# the real output has exactly these: none missing, none undocumented.
ROTATION_FIELDS = [  # fog device revoke, fog key rotate (fog.sync.keyring.RotationResult)
    "epoch",
    "master_key",
    "master_key_file",
    "revoked",
    "following",
    "remotes",
    "failed",
    "seconds",
    "bytes_written",
    "nodes_failed",
    "shared_by_others",
    "key_file_error",
]
REMOTE_FIELDS = [
    "name",
    "url",
    "pending",
    "shared_url",
    "skipped",
    "reachable",
    "error",
    "kind",
    "node",
    "forgets",
    "refused",
    "undelivered",
    "replaced",
    "stranded",
    "stranded_at",
]
UNDELIVERED = (
    "The change is also put on the remote itself, so that a device that reads only that store learns it. "
    "When that remote is down, one line says so (exit 1; `undelivered` in `--json`: why) and this device puts "
    "the change there with its next `push`, `pull` or `sync` that reaches it."
)
UNDELIVERED_EXIT = "An error; also: the change was made, but the remote's old URL was unreachable (see above)."
DEVICE_FIELDS = [  # fog.sync.devices.DeviceInfo
    "id",
    "name",
    "trusted",
    "revoked",
    "this_device",
    "last_batch",
    "added_ns",
    "node",
    "address",
    "url",
    "space",
    "removed",
]
NODE_FIELDS = ["device", "published", "failed"]  # fog device add-untrusted|remove|set-address
PROTECT_FIELDS = ["home", "protected", "changed", "files"]  # fog key protect|unprotect (fog.api.ProtectResult)
MEMBER_FIELDS = ["name", "user_id", "role", "devices", "this_user", "user_key"]  # fog.api.MemberInfo

JSON_FIELDS: dict[str, list[str]] = {
    "init": ["root", "share_id", "name", "remote", "device", "new_identity", "master_key_file", "master_key"],
    "status": ["root", "clean", "added", "modified", "deleted", "skipped", "unread", "conflicts", "unapplied"],
    "push": [
        "remote",
        "dry_run",
        "added",
        "modified",
        "deleted",
        "skipped",
        "unread",
        "snapshots",
        "files_read",
        "bytes_read",
        "objects_uploaded",
        "bytes_uploaded",
        "bytes_deduped",
        "conflict_copies",
        "copied",
        "batch",
        "batches",
        "remote_errors",
        "seconds",
    ],
    "pull": [
        "remote",
        "batches",
        "versions",
        "updated",
        "deleted",
        "conflicts",
        "kept",
        "problems",
        "warnings",
        "skipped",
        "failed",
        "foreign_logs",
        "remote_errors",
        "remotes_added",
        "remotes_removed",
        "forgotten",
        "bytes_written",
        "seconds",
    ],
    "sync": ["pull", "push", "trim", "clock"],
    "log": [
        "version",
        "path",
        "time",
        "time_ns",
        "device",
        "device_id",
        "kind",
        "size",
        "mode",
        "mtime",
        "deleted",
        "conflict",
        "current",
        "parent",
    ],
    "restore": ["path", "version", "kind", "size", "output"],
    "diff": ["path", "identical", "text", "old", "new", "diff"],
    "ls": ["path", "moment", "moment_time", "entries", "forgotten"],
    "find": ["path", "deleted", "versions"],
    "check": [
        "remote",
        "read_data",
        "versions",
        "batches",
        "objects_referenced",
        "objects_on_remote",
        "objects_read",
        "packs_read",
        "packs_total",
        "problems",
        "notes",
        "unreferenced_packs",
        "unreferenced_objects",
        "unreferenced_bytes",
        "repaired",
        "repaired_from",
        "unrepaired",
        "ok",
    ],
    "stats": [
        "versions",
        "paths",
        "live_paths",
        "deleted_paths",
        "current_logical_bytes",
        "logical_bytes",
        "unique_bytes",
        "dedupe_ratio",
        "remotes",
        "failed",
        "unreadable",
    ],
    "prune": ["remotes", "failed", "refused", "skipped"],
    "forget": [
        "dry_run",
        "policy",
        "versions",
        "paths",
        "bytes",
        "forgotten",
        "batches",
        "remote_errors",
        "seconds",
    ],
    "clone": [
        "root",
        "share_id",
        "name",
        "remote",
        "device",
        "pull",
        "device_published",
        "nodes_failed",
        "invited_by",
        "name_taken",
    ],
    "remote list": REMOTE_FIELDS,
    "remote add": REMOTE_FIELDS,
    "remote remove": REMOTE_FIELDS,
    "remote set-url": REMOTE_FIELDS,
    "remote renew": REMOTE_FIELDS,
    "remote skip": REMOTE_FIELDS,
    "remote unskip": REMOTE_FIELDS,
    "device list": DEVICE_FIELDS,
    "device rename": DEVICE_FIELDS,
    "device revoke": ROTATION_FIELDS,
    "device add-untrusted": NODE_FIELDS,
    "device remove": NODE_FIELDS,
    "device set-address": NODE_FIELDS,
    "key show": [
        "device_id",
        "device_name",
        "device_public",
        "user_public",
        "user_key",
        "user_box_public",
        "user_sign_public",
        "sign_public",
        "epoch",
        "protected",
        "master_key",
    ],
    "key adopt": ["epoch"],
    "key protect": PROTECT_FIELDS,
    "key unprotect": PROTECT_FIELDS,
    "key rotate": ROTATION_FIELDS,
    "share invite": ["share", "share_id", "user", "user_id", "read_only", "remote"],
    "share members": MEMBER_FIELDS,
    "share remove-member": MEMBER_FIELDS,
    "policy show": ["stored", "policy"],
    "policy set": [
        "stored",
        "policy",
        "changed",
        "changes",
        "previous",
        "previous_stored",
        "published",
        "remote_errors",
    ],
}
TREE_REV = (
    "A directory, or the share as `.`, takes the same *REV* forms as a file, read as a moment: the tree then "
    "holds, for each path below it, its newest version recorded at or before that moment (version time), "
    "deleted paths left out. `~N` is the state right before the N-th most recent push that brought new "
    "versions below it (the N-th line of `fog log --pushes DIR`); `push:ID` the state right after a push "
    "(ID: 4 or more hex digits of the id `fog log --pushes` shows, or `DEVICE:N`, that device's N-th batch) "
    "and `push:ID^` right before it; a version id of the path itself, the moment of that version."
)

JSON_LISTS = {"log", "find", "remote list", "device list", "share members"}  # these print a list of such objects

EXAMPLES: list[tuple[str, str]] = [
    (
        "Create a share on a mounted disk, keeping the master key in a file:",
        "fog init ~/notes -r /mnt/usb/fog --master-key-file ~/fog-master-key",
    ),
    (
        "Record and publish changes, then look at a file's history:",
        "fog -C ~/notes push && fog -C ~/notes log todo.txt",
    ),
    ("Bring back the version before the last:", "fog restore todo.txt@~1"),
    (
        "Join a second device, then keep it in step (the cron command):",
        "fog clone /mnt/usb/fog ~/notes --master-key-file ~/fog-master-key",
    ),
    ("", "fog -C ~/notes sync --quiet"),
    ("The id of the previous version, for a script:", "fog log notes.txt --json | jq -r '.[1].version'"),
]

SEE_ALSO_EXTRA = [
    "*docs/FORMAT.md* in the source tree: the on-disk and on-remote format, key derivations, write ordering "
    "and threat model.",
]

# -- one entry per command page (key: the command path) ------------------------------------
# description: blocks after the docstring; exit: the codes beyond 0, 1, 2 (75 is added for
# commands with --wait); examples: (what, command line); see_also: command paths.

PAGES: dict[str, dict[str, object]] = {
    "init": {
        "description": [
            "The first `init` with a given `FOG_HOME` also creates this device's identity: the master "
            "key, the user keypair and the device keypair. Without `--master-key-file` the master key "
            "is printed once, with a warning (under `--json` it is the `master_key` field). It looks "
            "like `YAJX-7VFC-AV4V-XWMP-KYGB-84M6-QVJK-T8MF` and carries a checksum that catches a "
            "mistyped character. Keep it safe: without it and without this device, the data cannot be "
            "recovered.",
            "*URL* is a directory path (made absolute), `file:///path`, `sftp://`[*user*`@`]*host*[`:`*port*]`/path` "
            "or `s3://`*bucket*[`/`*prefix*]. `--master-key-file` is only valid when `init` creates a new "
            "identity, and the file must not exist yet, nor be inside a share or a fog store (exit 2).",
        ],
        "examples": [
            ("A share on a mounted disk:", "fog init ~/notes --remote /mnt/usb/fog"),
            (
                "On an S3-compatible service, with the key in a file:",
                "fog init ~/notes -r s3://bucket/fog --s3-endpoint https://s3.example.net --master-key-file ~/fog-key",
            ),
        ],
        "see_also": ["clone", "remote add"],
    },
    "clone": {
        "description": [
            "Finds the user's SyncConfig on the remote (its name is derived from the master key), "
            "verifies it, adds this device to it and pulls the share into *DIR* (new or empty). The "
            "master key comes from `--master-key-file`, `FOG_MASTER_KEY_FILE`, `FOG_MASTER_KEY_COMMAND` "
            "or a prompt on a terminal; never from the command line.",
            "From an untrusted node (`fog://`*HOST*`:`*PORT* or `fog+ssh://`...), the master key opens it "
            "(its join key); the clone goes on only if the SyncConfig found there lists a node with the key "
            "the connection met (else one line, exit 4: the node is not one of your devices), then joins "
            "with this device's own key.",
            "With `--into-existing`, *DIR* may hold files already: a share whose `.fog/` was deleted, "
            "or moved out of the share because it was damaged. A new `.fog/` is made around them: a "
            "file equal to the newest version is recorded, one equal to an older version is updated, "
            "any other is kept as a local change for the next push (the newest version beside it as a "
            "conflict copy when it is newer than the file), and files the remote does not know stay.",
            "*URL* may spell a remote of the share another way than the SyncConfig does (`file://`*PATH*, "
            "a trailing `/`): the checkout uses the SyncConfig's spelling; options of its own (`?timeout=3`) "
            "are kept for this device, as `fog remote set-url --local` does.",
        ],
        "exit": {
            1: "An error; also a clone whose pull could not finish: the same `fog clone` again, or `fog pull` "
            "in *DIR*, finishes it.",
            3: EXIT_CODES[3],
            4: EXIT_CODES[4],
            5: EXIT_CODES[5],
            6: EXIT_CODES[6],
        },
        "examples": [
            ("", "fog clone /mnt/usb/fog ~/notes --master-key-file ~/fog-key"),
            (
                "The key from a password manager:",
                "FOG_MASTER_KEY_COMMAND='pass show fog' fog clone sftp://nas/srv/fog ~/notes",
            ),
            (
                "Rebuild a damaged .fog/ in place, keeping every file:",
                "mv ~/notes/.fog ~/notes.fog-damaged; fog clone /mnt/usb/fog ~/notes --into-existing "
                "--master-key-file ~/fog-key",
            ),
        ],
        "see_also": ["init", "sync"],
    },
    "status": {
        "description": [
            "Files are compared with the stat index first; a file whose size, mtime, inode or ctime "
            "changed is read and hashed, so a file that was only touched is not reported. Lines are "
            "marked `A` (added), `M` (modified), `D` (deleted) and `C` (an unresolved conflict copy). "
            "Works offline.",
            "Paths matched by a `.fogignore` (gitignore syntax, in any directory, relative to it) or by "
            "the built-in rules (`*.swp`, `*.swo`, `*~`, `.#*`, `#*#`, `.DS_Store`, `Thumbs.db`; re-include "
            "with `!`) are never pushed, and a pull records but does not write them; `--ignored` lists "
            "them (`!` lines, an `ignored` list under `--json`).",
        ],
        "examples": [("Fail a script when there are unpushed changes:", "fog status --json | jq -e .clean")],
        "see_also": ["push"],
    },
    "push": {
        "description": [
            "Scans the share, uploads the blocks each remote lacks and publishes one event batch with "
            "the new versions; deleted files become deletion versions. Without *REMOTE* it pushes to "
            "every remote of the share. A remote that fails does not stop the others: it is named on "
            "stderr, fog exits 1, and its versions stay queued for the next push. Nor does one whose "
            "data is refused: it is named on stderr and left out, and fog exits 4. With *REMOTE*, the "
            "share's other remotes are read (never written) for what it lacks: `fog push` *NAME* "
            "seeds a remote just added.",
            "A push that would publish more deletions than `--max-delete` allows is refused before "
            "anything is read or uploaded (exit 1); its dry run (`-n`) is refused the same way.",
        ],
        "exit": {
            4: (
                "Data on a remote was refused (this device's own log there rolled back or altered, its "
                "settings altered): that remote is named on stderr and was left out; the others got the push. " + ROLLED
            ),
            5: EXIT_CODES[5],
            6: EXIT_CODES[6],
        },
        "examples": [
            ("What would be pushed:", "fog push --dry-run"),
            ("From cron:", "fog -C ~/notes push --quiet"),
        ],
        "see_also": ["status", "sync", "pull"],
    },
    "pull": {
        "description": [
            "Reads every device's new event batches and verifies each (signed by a listed device; "
            "numbered without gaps; hash chain intact). A revoked device's batches past its limit are "
            "not applied: a warning says so once. A file unchanged here since this device "
            "last had it is replaced atomically. A file changed here and elsewhere is kept: the "
            "incoming version is written beside it as *NAME*`.fog-conflict-`*YYYYMMDD-HHMMSS-DEVICE*`.`*EXT* "
            "and pull exits 3. Resolve by keeping what you want, deleting the copy, and pushing.",
        ],
        "exit": {
            3: EXIT_CODES[3],
            4: (
                "A batch or object was refused (forged, altered, rolled back, or from an untrusted device): "
                "nothing refused was applied. A remote whose data is refused is named on stderr and left "
                "out; the others are still pulled."
            ),
            5: EXIT_CODES[5],
            6: EXIT_CODES[6],
        },
        "examples": [("", "fog pull")],
        "see_also": ["sync", "push", "status"],
    },
    "sync": {
        "description": [
            "A pull, then a push, under one lock. With `--quiet` it prints nothing on success, so cron "
            "only mails errors and conflicts.",
            "With `--prune`, the sync then trims history, at most once in 20 hours on this device: "
            "`fog forget` with the share's retention policy (`fog policy show`), then `fog prune` of every "
            "remote reached, with the default grace period (a day). Prune's two phases spread over two "
            "runs: one announces what it will delete, a run a day later (once every other device has "
            "synced) deletes it. Other devices' syncs are never blocked: they only acknowledge. Add it to "
            "one device's cron job (every device may, but one is enough). A share shared with another "
            "user is not pruned (`fog prune` refuses it for now): the trim report says so (`not pruned`), "
            "and the sync still exits 0.",
            "In `--json`, `trim` is null when no trim ran, else `forget` (as `fog forget --json`) and "
            "`prune` (as `fog prune --json`).",
        ],
        "exit": {
            3: EXIT_CODES[3],
            4: (
                "Data was refused: a remote whose data is refused is named on stderr and left out, the "
                "others are pulled and pushed (see fog-push(1) for a remote restored from an older copy)."
            ),
            5: EXIT_CODES[5],
            6: EXIT_CODES[6],
        },
        "examples": [
            ("A crontab line:", "fog -C /home/me/notes sync --quiet"),
            ("The same, trimming history once a day:", "fog -C /home/me/notes sync --quiet --prune"),
        ],
        "see_also": ["pull", "push", "forget", "prune", "policy"],
    },
    "log": {
        "description": [
            "With *PATH*, every version of that path (of a directory: also of everything below it); "
            "without, the most recent versions of all paths: 50, or all of them under `--json`. Each "
            "line shows the version id (12 hex digits), the local time and age, the device, the size, "
            "the kind (`file`, `dir`, `link`, `deleted`) and the path, marked `current`, `deleted` or "
            "`conflict`. Works offline.",
            "Without *PATH*, or for a directory, versions are grouped by push, newest push first: a line "
            "`push ID  TIME (AGE)  DEVICE  REMOTE#BATCH  N version(s), SIZE`, then that push's versions in "
            "path order. `--pushes` lists the pushes alone (like `restic snapshots`); with `--json` a list "
            "of `{push, device, device_id, time, time_ns, batches, files, deleted, versions, bytes}` "
            "(`push`: the full batch id, null for versions recorded before fog kept batch records; "
            "`batches`: remote name -> batch number).",
        ],
        "examples": [
            ("", "fog log notes.txt"),
            ("Every push, newest first:", "fog log --pushes"),
            ("What the laptop changed since yesterday:", "fog log --since yesterday --device laptop"),
        ],
        "see_also": ["restore", "diff", "cat"],
    },
    "restore": {
        "description": [
            "*REV* forms are listed in fog(1) under PATH@REV. Without `--output` the version is written "
            "back to its place atomically, with its mode and mtime; a working file with unpushed changes "
            "is not replaced unless `--force` is given. The restored file is a change of its own: the "
            "next push records it. A deleted file is restored from the version before its deletion "
            "(`@~1`). Every block is verified before anything is put in place.",
            TREE_REV,
            "`fog restore DIR@REV` restores the whole tree: files, directories, symlinks and modes. Paths "
            "already as they were are not touched (a rerun resumes); the others are fetched in pack order, "
            "staged, verified and made durable with one sync before anything is removed, made or replaced, "
            "then renamed into place. Paths created since are "
            "left alone, or removed with `--delete` (listed; `--max-delete` as for pull), never an ignored "
            "path, nor a directory holding one; a nested share (a directory with a `.fog/` of its own) is "
            "never entered. A directory where the tree has a file is replaced only when nothing in it stays. "
            "If any path to be "
            "replaced or removed holds changes never pushed, nothing is done without `--force`. A path that "
            "changes while the restore runs is left as it is and named under skipped. "
            "`--output DIR2` writes the tree there instead (into it, under the tree's name, if DIR2 is a "
            "directory that is not empty; a stopped one is finished by the same command, which fetches no file "
            "already there with its version's size, mode, mtime and content). "
            "The summary names the moment REV resolved to and the rate. "
            "`--json` for a tree: `{path, moment, moment_time, output, dry_run, written, dirs, unchanged, deleted, "
            "extra, skipped, bytes_written, seconds}`.",
        ],
        "exit": {
            1: "An error; also: no remote this device uses could be reached (the default one is read, else the "
            "first other that opens), and the local archive does not hold the version.",
            4: "A block failed verification; nothing was replaced (with `-o -`, part may have been written).",
            5: "A tree restore left some path of the tree as it is (changed while it ran, or a directory in the "
            "way that holds paths left alone): each is named under skipped; a nested share is not counted. "
            "A dry run exits 5 (and 1) where the plan shows the real run would.",
        },
        "examples": [
            ("The version before the last, in place:", "fog restore notes.txt@~1"),
            ("As it was yesterday, to stdout:", "fog restore notes.txt@yesterday -o -"),
            ("The whole share as it was yesterday, removing what was made since:", "fog restore .@yesterday --delete"),
            ("A directory right before a push:", "fog restore docs@push:3fa9c1e2^ -o /tmp/docs"),
        ],
        "see_also": ["log", "cat", "diff"],
    },
    "cat": {
        "exit": {4: EXIT_CODES[4], 75: LOCKED},
        "examples": [("", "fog cat notes.txt@~1")],
        "see_also": ["restore", "diff"],
    },
    "ls": {
        "description": [
            TREE_REV,
            "Lists the entries of *DIR* at that moment (`-R`: everything below it), directories with a "
            "trailing `/`, links with their targets; `-l` adds mode, size, version time, device and version "
            "id. No *REV*: the current state (each path's newest version). `--json`: `{path, moment, "
            "moment_time, entries}`, each entry `{path, version, kind, size, mode, mtime, time, device, target}`; "
            "`moment` says what *REV* resolved to in words (a local time in it), `moment_time` is that time, "
            "ISO 8601 UTC to the nanosecond (`right before` a push is 1 ns before it), null for the current state.",
        ],
        "examples": [("The share as it was yesterday:", "fog ls -R .@yesterday")],
        "see_also": ["restore", "diff", "find"],
    },
    "find": {
        "description": [
            "Every path in the history (deleted ones too) whose name (a pattern without `/`) or whole path "
            "(a pattern with `/`) matches the glob, with each of its versions, newest first. `--json`: a "
            "list of `{path, deleted, versions}`, `versions` as in `fog ls --json` plus `current`.",
        ],
        "examples": [("Where did that spreadsheet go?", "fog find '*.ods'")],
        "see_also": ["log", "restore", "ls"],
    },
    "mount": {
        "description": [
            "Mounts the share's history at *MOUNTPOINT* (an empty directory outside the share) as a "
            "read-only FUSE file system and serves it in the foreground until it is unmounted. The root "
            "holds `current/` (the share now: each path's newest version, following pushes and pulls made "
            "meanwhile), `at/` (one directory per push, named by the local time right after it, as "
            "`2026-03-01T12:30:05+01:00`; any other name that reads as a tree *REV* works too when looked "
            "up: `at/2026-03-01/`, `at/yesterday/`, `at/2h/`, `at/push:3fa9c1e2^/`), `by-push/` (one "
            "directory per push, named by its 12-digit id; `by-push/ID^/` is the state right before it) "
            "and `versions/` (every path ever recorded, deleted ones too, as a directory of its versions, "
            "each a file or symlink named by its time and version id plus the path's extension).",
            TREE_REV,
            "`--at WHEN` mounts only the tree at that moment, at the root. Files show their recorded "
            "mode, size and mtime; symlinks are symlinks. Every write is refused (EROFS). Blocks are "
            "fetched from the share's remote when read, verified as a restore verifies them, and kept "
            "decrypted in a bounded cache (64 MiB); a block that fails verification makes the read fail "
            "(EIO) with one line on stderr. A file opened under `current/` (or any tree) reads the version "
            "its open found to the end, whatever is pushed or pulled meanwhile; the next open reads the new "
            "one. Needs FUSE: /dev/fuse, libfuse 2 or 3 and fusermount (Debian: "
            "`apt install fuse3` or `fuse`).",
        ],
        "exit": {
            0: "Unmounted from outside (`fusermount -u MOUNTPOINT`).",
            130: "Interrupted (Ctrl-C); the file system was unmounted.",
            143: "Terminated (SIGTERM); the file system was unmounted.",
        },
        "examples": [
            ("Browse the history (at/yesterday/notes.txt, versions/notes.txt/...):", "fog mount ~/fog-history"),
            ("Only the share right before a push:", "fog mount /mnt/before --at push:3fa9c1e2^"),
        ],
        "see_also": ["ls", "restore", "find"],
    },
    "diff": {
        "description": [
            "For a file: a unified diff of two versions (or a version and the working file); binary files "
            "and files over 16 MiB get sizes and SHA-256; a change of mode is a change (`old mode 0644`, "
            "`new mode 0755`, as git). `--json`: `{path, identical, text, old, new, diff}`, each side "
            "`{label, kind, size, sha256, mode}`.",
            TREE_REV,
            "For a directory or the share (`.`): the paths added (`A`), deleted (`D`), modified (`M`: "
            "content or mode) and changed kind (`T`) between two moments, or between a moment and the "
            "working tree; with no argument, between the last push and the working tree. `--name-status` "
            "(the default), `--stat`, `-p` (a content diff of each text file). `--exit-code` exits 1 when "
            "they differ, and 128 (git's fatal) on an error that is 1 without it. "
            "`--json`: `{path, old, new, old_time, new_time, identical, changes}` (`old_time`, "
            "`new_time`: each side's moment as in `fog ls --json`'s `moment_time`), each change `{path, status, "
            "old, new}` (versions as in `fog ls --json`; the working side has no version id) and, with `-p` "
            "or `--stat`, `diff`.",
        ],
        "exit": {
            1: "With `--exit-code`: they differ (without it: an error).",
            4: EXIT_CODES[4],
            75: LOCKED,
            128: "With `--exit-code`: an error (1 without it), so that 1 means only that they differ.",
        },
        "examples": [
            ("What changed since the last push:", "fog diff"),
            ("What the last push changed:", "fog diff --stat .@~1 '~0'"),
            ("What changed since the previous version:", "fog diff notes.txt@~1"),
            ("Between two versions:", "fog diff notes.txt@~2 notes.txt@~1"),
        ],
        "see_also": ["log", "cat"],
    },
    "check": {
        "description": [
            "Reads and authenticates the SyncConfig and every device's event batches, reports a log "
            "that was rolled back, and checks that every object the history refers to is present. "
            "With `--read-data` every pack is also downloaded and checked against its name (the "
            "SHA-256 of its bytes), and every object in it decrypted and checked against its HMAC "
            "name. Problems are listed on stderr, one per line, naming the object and the file.",
            "`--read-data-subset P%` reads a random P percent of the packs; `n/t` reads the n-th of t "
            "fixed slices, so that t cron runs (n = 1..t) read every pack once.",
            "`--repair` puts back every missing or corrupt object history names: read from another "
            "remote of the share (verified against its HMAC name) or, failing that, found by chunking "
            "the working files that hold it, and uploaded in new packs. It never deletes anything. "
            "What it could not repair is listed, and the exit code stays 4. It reads every pack, as "
            "`--read-data` does (only a read finds a corrupt object), unless `--read-data-subset` names "
            "part of them.",
        ],
        "exit": {4: "A problem was found (and, with --repair, not every damaged object was put back)."},
        "examples": [
            ("", "fog check --read-data"),
            (
                "A seventh of the data each night, all of it every week",
                "fog check --read-data-subset $(( $(date +%u) ))/7",
            ),
            ("Heal a remote from the others", "fog check usb --repair"),
        ],
        "see_also": ["push"],
    },
    "stats": {
        "description": [
            "For each remote of the share (or the one named), what it stores: packs (count and bytes) and "
            "loose format-1 objects, and how those bytes divide between objects a current version "
            "references (the newest version of a live path), objects only old versions reference, and "
            "objects no version references (packs left by interrupted pushes: prune's job). An object "
            "many versions share is counted once. Also: the versions and paths in the history (live "
            "and deleted), the logical size of the current files and of every version, the dedupe ratio "
            "(logical bytes of every version over the plaintext of the distinct blocks), the compression "
            "ratio (plaintext over stored bytes of those blocks) and the ten paths whose histories take "
            "the most stored bytes.",
            "The history is this device's: `fog pull` first to count other devices' newest versions "
            "(until then their objects count as unreferenced). Pack sizes come from pack indexes (the "
            "local catalog, and one listing of the remote's packs: headers of packs the catalog does not "
            "know are read); manifest trees are walked once. Nothing is written to any remote, so a "
            "read-only remote works.",
            "In `--json`, each entry of `remotes` has `remote`, `url`, `stored_bytes`, `packs`, "
            "`pack_bytes`, `unreadable_packs`, `loose_objects`, `loose_bytes`, `objects`, "
            "`current_bytes`, `old_bytes`, `unreferenced_bytes`, `unreferenced_packs`, "
            "`unreferenced_objects`, `overhead_bytes` (pack headers), `missing_objects`, "
            "`waiting_versions` (queued here, not published yet), "
            "`compression_ratio` and `largest` (a list of `path`, `versions`, `bytes`).",
        ],
        "exit": {1: "A remote could not be read (named on stderr; the others are still shown)."},
        "examples": [
            ("", "fog stats"),
            ("Unreferenced bytes on one remote", "fog stats usb --json | jq '.remotes[0].unreferenced_bytes'"),
        ],
        "see_also": ["check"],
    },
    "forget": {
        "description": [
            "Applies a retention policy to the history: every version of each path that the policy does "
            "not keep is forgotten on this device, and the forget is published in this device's log on "
            "each remote, so every other device drops those versions from its history at its next pull, "
            "and a new clone never sees them. The current version of a live file is never forgotten, "
            "whatever the rules; a deleted path whose `--keep-deleted` time has passed goes whole, and "
            "it is never brought back. Forgetting frees no space by itself: `fog prune` then deletes what "
            "no remaining version needs.",
            "The policy is the one the options form when any is given (the same options as `fog policy "
            "set`, and only those given: `fog forget --keep-last 3` keeps the 3 newest versions of each "
            "path and nothing else), else the share's policy as this device last pulled it (`fog policy "
            "show`), else fog's defaults. *PATH* arguments (relative to the current directory; a "
            "directory means everything below it) limit it to those paths; `--max-old-size` then counts "
            "only their old versions.",
            "`--dry-run` lists what would be forgotten and changes nothing, here or on any remote; "
            "`--verbose` lists what was. Each line shows the version id, its local time, the device that "
            "made it, its size, its kind, the path and why the policy lets it go. A remote that cannot be "
            "reached keeps the forgets queued: the next push or sync publishes them there.",
            "In `--json`, `policy` says where the policy came from (`options`, `share` or `default`), "
            "`bytes` is the size of the file versions forgotten, and each entry of `forgotten` has "
            "`path`, `version`, `time`, `time_ns`, `device`, `device_id`, `kind`, `size` and `reasons`; "
            "`batches` maps each remote to the batch that published the forgets.",
        ],
        "exit": {1: "A remote could not be reached or written (named on stderr; the forgets wait for the next push)."},
        "examples": [
            ("What the share's policy would forget:", "fog forget --dry-run"),
            ("Keep the last 3 versions of everything under drafts/:", "fog forget drafts --keep-last 3"),
            ("Then free the space on every remote:", "fog prune"),
        ],
        "see_also": ["policy", "prune", "log"],
    },
    "prune": {
        "description": [
            "Deletes from each remote of the share (or the one named) the packs no remaining version "
            "references: packs left by interrupted pushes, and the data of versions `fog forget` removed "
            "from history. Packs that still hold some referenced objects are repacked (those objects "
            "copied into new packs) while more than `--max-unused` of the stored bytes would stay "
            "unreferenced.",
            "It is safe while other devices push at the same moment, on any remote, with no lock: prune "
            "works in two phases. A run first announces what it means to delete (an intent on the remote); "
            "every other device reads it at its next push or sync, stops counting those packs as present "
            "(it uploads such data again instead of relying on it) and acknowledges it in its next batch "
            "(`fog sync` with nothing to push acknowledges alone). A later run deletes the packs once every "
            "other device that has written to the remote has acknowledged and the grace period has passed "
            "since this device first saw the intent, after reading every log again: a pack holding an "
            "object some version names again is kept. A device that never acknowledges (switched off, "
            "lost) holds the deletion back and is named; revoke it if it is gone for good. "
            "docs/FORMAT.md, section 14, has the protocol and why no interleaving loses data.",
            "The first run on a remote moves its format marker to `fog-store 3`, which older fog "
            "versions refuse (they do not know the protocol). A prune stopped at any point (Ctrl-C, "
            "kill -9) leaves a complete remote, and the next run finishes it. Run it daily from one "
            "device (`fog sync --prune`), or by hand: `fog prune` then, a day later, `fog prune` again.",
            "In `--json`, each entry of `remotes` has `remote`, `dry_run`, `packs` and `pack_bytes` (before), "
            "`referenced_objects`, `unused_bytes` (stored bytes no remaining version needs), "
            "`planned_delete` and `planned_repack` (pack ids condemned by this run, or that would be "
            "under `--dry-run`), `planned_bytes`, `repacked_objects`, `repacked_bytes`, `intent` (the id "
            "of the intent written, or null), `deleted` (pack ids deleted by this run's collections of "
            "earlier intents, or that would be under `--dry-run`), `deleted_bytes`, "
            "`kept` (condemned packs kept: referenced again), `waiting` (intents not deletable yet, and "
            "why), `collectable` (the intents collected, or that would be), `clock` (intents first seen "
            "at a time ahead of the clock now: their grace period counts from now), `stuck` (the "
            "`waiting` lines of intents a device has not acknowledged for two grace periods: "
            "`fog sync --quiet --prune` prints them), `unreadable` "
            "(packs whose header does not open: left alone) and `seconds`; `refused` "
            "maps a remote to why it was left alone (a log or manifest that cannot be read: nothing is "
            "deleted where what is referenced is unknown); `skipped` maps a remote to why it was not pruned: "
            "an append-only node under `fog sync --prune` (always empty for `fog prune`, which refuses one "
            "with exit 1).",
        ],
        "exit": {
            1: "A remote could not be reached, or prune refused one (named on stderr); others were pruned.",
        },
        "examples": [
            ("See what would go", "fog prune --dry-run"),
            ("Announce, then delete a day later (each run does both for earlier intents)", "fog prune"),
            ("Alone on the remote: no other device pushes", "fog prune --grace 0"),
        ],
        "see_also": ["forget", "policy", "stats", "check", "sync"],
    },
    "remote": {"see_also": ["push", "pull"]},
    "remote add": {
        "description": [
            "The remote is recorded in the share's entry of the SyncConfig, so every trusted device "
            "starts using it at its next pull or sync. The next push copies the share's whole history "
            "to the new remote (only the objects it lacks), so another device can later clone from it alone.",
        ],
        "examples": [("", "fog remote add nas sftp://me@nas/srv/fog")],
    },
    "remote list": {
        "description": [
            "Shows each remote of the share, whether this device reaches it now (`--offline` skips "
            "trying), how many versions wait to be published there, and this device's own URL or "
            "skip where it has one. A remote whose copy of this device's log ends before what this device "
            "published there (restored from an older copy) shows `REFUSED` and why. The user's untrusted "
            "nodes (`fog device add-untrusted`) are remotes "
            "of every share: kind `fog`, marked as nodes; they are moved and removed with `fog device`.",
        ],
    },
    "remote remove": {
        "description": [
            "Removes the remote for every device. The remote's data is left where it is.",
            "Refused while the remote holds versions this device has not given the other remotes yet "
            "(`fog push` with them reachable copies them over). With `--force` they stay queued as "
            "stranded (`stranded` in `--json`: how many), and the later versions of their paths wait "
            "behind them, until `fog remote add` of the old store lets a push copy them over (or they are "
            "forgotten). A device that learns of the removal at its pull, and holds such versions, says "
            "so once and keeps them the same way.",
            UNDELIVERED,
        ],
        "exit": {1: UNDELIVERED_EXIT},
    },
    "remote renew": {
        "description": [
            "Accepts the remote as it is now, for every device: its entry in the SyncConfig gets a new "
            "instance, so every device that learns it forgets what it read there, and its next push "
            "publishes its versions there again, reading its files once more (what the older copy lacks "
            "of the current versions is put there again). For a remote restored from an older copy, "
            "refused as rolled back at every run; it works for a share's only remote too.",
        ],
        "examples": [("", "fog remote renew origin")],
    },
    "remote set-url": {
        "description": [
            "Without `--local` the new URL is published in the SyncConfig for every device, at the old URL "
            "too, and a new, empty place is made a fog store, as by `fog remote add`. With `--local` only "
            "this device uses it (a disk mounted at another path here); `--reset` drops this device's URL "
            "again. The URL of another remote of the share (the same store, however spelt) is refused, as by "
            "`fog remote add`.",
            "A new URL whose store holds no copy of the old one (this device's logs there, as far as it read "
            "them) is refused while the old store holds versions the other remotes lack (all of them, for a "
            "share's only remote: add the new store under another name, push, then remove the old one), as "
            "`fog remote remove` is; `--force` changes it anyway, the versions stay queued as stranded as "
            "for `remote remove --force`.",
            UNDELIVERED,
        ],
        "exit": {1: UNDELIVERED_EXIT},
        "examples": [("", "fog remote set-url usb /media/me/usb/fog --local")],
    },
    "remote skip": {
        "description": [
            "This device stops using the remote (it cannot reach it) and leaves it to the devices "
            "that can: they keep it complete. `fog remote unskip` undoes it.",
        ],
    },
    "serve": {
        "description": [
            "The node key (`fognode-`...) is not a secret: the node tells it to anyone who connects, so that "
            "devices can check the node; it admits no one. Without `--user`, anyone who can reach the port "
            "can start a space of their own and store data in it. `--quota` bounds each space; "
            "`--max-spaces` and `--min-free` bound the node as a whole (a put that would leave less than "
            "`--min-free` free on the node's disk is refused as a transient failure). On a node reachable "
            "from the internet, give `--user` with your user key (`fog key show` on a trusted device).",
            "Puts being received hold at most 1 GiB of memory, one space at most a quarter of it, and a put "
            "must keep going (64 KiB/s after its first `--idle-timeout`). The protocol and every rule the "
            "node enforces: docs/FORMAT.md, section 17.",
        ],
        "examples": [
            ("A node for one user, on every address:", "fog serve /srv/fog --listen 0.0.0.0:7463 --user fogpub-..."),
            ("Print the node key again:", "fog serve /srv/fog --show-key"),
        ],
        "see_also": ["device add-untrusted"],
    },
    "device": {"see_also": ["clone", "serve"]},
    "device list": {
        "description": [
            "Shows every device of the user: trusted devices with the last batch this share read from "
            "each, and untrusted nodes (`fog serve`) with their address. Under `--json` a node has `node` "
            "true, `trusted` false, its `address`, its remote `url` (`fog://`*HOST*`:`*PORT*), the user's "
            "`space` on it and `removed`.",
        ],
        "exit": {75: LOCKED},
    },
    "device add-untrusted": {
        "description": [
            "Makes an untrusted node (a machine running `fog serve`, such as a VPS or a NAS) one of your "
            "devices. It holds no key: it stores the encrypted objects, logs and SyncConfig of every share "
            "like any remote, sees only ciphertext, and lets in only the device keys your devices hand it "
            "(a list signed with your user key; a revoked device is refused). *NAME* is also the node's "
            "remote name in every share. *NODEKEY* is what `fog serve` printed (`fognode-`...): fog checks "
            "the node against it at every connection.",
            "fog connects to the node first (the node makes your space there), then publishes the "
            "SyncConfig listing it on every remote it reaches and on the node. Every trusted device pushes "
            "to the node from its next pull; `fog clone fog://`*HOST*`:`*PORT* *DIR* works from it with the "
            "master key alone. A node that cannot be reached is one line, exit 1, and nothing changes.",
        ],
        "exit": {75: LOCKED},
        "examples": [
            ("", "fog device add-untrusted vps --address vps.example.org:7463 --key fognode-0123ABCD-..."),
        ],
        "see_also": ["serve", "remote"],
    },
    "device remove": {
        "description": [
            "Removes an untrusted node for every device: they stop pushing to it at their next pull, and "
            "its remote leaves every share. What it stores stays there. A removed node stays removed "
            "(the removal is a tombstone); to use that machine again, run `fog serve` on a new directory "
            "and add it as a new node. Trusted devices are revoked with `fog device revoke`.",
        ],
        "exit": {75: LOCKED},
    },
    "device set-address": {
        "description": [
            "Tells every device that an untrusted node moved: another host or port, the same node "
            "directory (the same key). Devices reach it at *ADDRESS* from their next pull; what they read "
            "there before stays valid, nothing is sent again.",
        ],
        "exit": {75: LOCKED},
        "examples": [("", "fog device set-address vps 203.0.113.7:7463")],
    },
    "device rename": {"exit": {75: LOCKED}},
    "device revoke": {
        "description": [
            "Revoking a device rotates every key it knew: a new master key (shown once, or written to "
            "`--master-key-file`), a new user keypair, a new data key for every share, and a new place for "
            "the SyncConfig. Each remaining device finds the new master key sealed to its own key at its next "
            "pull and follows by itself; the revoked device finds none, and its next command that touches a "
            "remote exits 6 saying so. It can no longer read anything pushed from then on, re-join with the "
            "old master key, or change the device list. Its batches written before the revocation stay; "
            "later ones are set aside, with one warning per device.",
            "Rotation is not re-encryption: what the device could read before, it keeps. Object names do not "
            "change, so nothing is uploaded again (docs/FORMAT.md, section 15).",
            "A share another user owns is not rotated: its members stop trusting your old user key, and your "
            "pulls and pushes of it exit 6 until its owner invites your new key (`fog key show`) and you run "
            "`fog clone URL DIR --invited --from OWNER-KEY`. The rotation names each such share "
            "(`shared_by_others` under `--json`).",
        ],
        "exit": {6: EXIT_CODES[6], 75: LOCKED},
        "examples": [
            ("", "fog device revoke old-laptop --master-key-file ~/new-master.key"),
        ],
    },
    "key show": {"examples": [("", "fog key show --json")]},
    "key adopt": {
        "description": [
            "A device follows a key rotation by itself at its next pull. When it cannot — two rotations that "
            "revoke each other (a stolen device answering its revocation), a store that withholds the new "
            "SyncConfig, or a device whose cached SyncConfig was lost — it refuses and says so; give it the "
            "master key you trust (as `fog device revoke` or `fog key rotate` showed it) with this command. "
            "The SyncConfig of that key must list this device, not revoked.",
        ],
        "exit": {6: EXIT_CODES[6], 75: LOCKED},
        "examples": [("Inside any share of the user:", "fog key adopt --master-key-file ~/new-master.key")],
    },
    "key rotate": {
        "description": [
            "Rotates every key of the user as `fog device revoke` does, without naming a device: for a master "
            "key that may have leaked, or with `--keep` for a lost or stolen device whose name is not known "
            "(keep the devices in hand; every other one is revoked).",
        ],
        "exit": {6: EXIT_CODES[6], 75: LOCKED},
        "examples": [
            (
                "Inside any share of the user (its remotes carry the new SyncConfig):",
                "fog key rotate --keep desktop --keep phone --master-key-file ~/new-master.key",
            )
        ],
    },
    "key protect": {
        "description": [
            "Seals every secret file of `FOG_HOME` (`identity.json`, `master-key`, `master-key.old`, "
            "`syncconfig.json`) under a passphrase: its key is Argon2id of the passphrase (a random salt; "
            "libsodium's interactive limits, about 0.1 s and 64 MiB, stored in each file so that they can be "
            "raised later), each file a SecretBox. From then on every command that needs the secrets asks "
            "for the passphrase once: `FOG_PASSPHRASE_COMMAND` (for cron), else the terminal, else it exits "
            "1 saying so. What it writes stays sealed. A wrong passphrase is one line, and nothing changes.",
            "The new passphrase comes from `FOG_NEW_PASSPHRASE_COMMAND`, else (a home in clear) "
            "`FOG_PASSPHRASE_COMMAND`, else it is asked twice on the terminal. On a sealed home it changes "
            "the passphrase (asking the current one first). Surrounding white space is not part of a "
            "passphrase. Other fog processes using `FOG_HOME` finish first; a crash leaves every file under "
            "the old passphrase or every file under the new one.",
            "What it protects: a disk or backup taken without the passphrase gives the keys of no share. "
            "What it does not: malware running as you while fog runs, a passphrase command that leaves the "
            "passphrase where others can read it, the files of your shares (they are in clear in their "
            "directories: use disk encryption), and copies in clear made before (old disk blocks, backups "
            "of `FOG_HOME`: if one may be in other hands, `fog key rotate`).",
        ],
        "examples": [
            ("On a terminal:", "fog key protect"),
            ("For cron, from a password manager:", "FOG_PASSPHRASE_COMMAND='pass show fog/home' fog key protect"),
        ],
        "see_also": ["key unprotect", "key rotate"],
    },
    "key unprotect": {
        "description": [
            "Writes the sealed files of `FOG_HOME` in clear again (mode 0600), with the passphrase from "
            "`FOG_PASSPHRASE_COMMAND` or the terminal. A home in clear is left as it is.",
        ],
        "examples": [("", "fog key unprotect")],
        "see_also": ["key protect"],
    },
    "share": {"see_also": ["clone", "key"]},
    "share invite": {
        "description": [
            "Seals the share's keys (every key epoch) to the other user's public key and leaves the invitation "
            "on the share's remote, where only that user can find and open it; they run "
            "`fog clone URL DIR --invited` with their own identity. Get their key (`fog key show` on their side) "
            "by a channel you trust, and check it with them: whoever holds the matching secret key reads the "
            "share. Only the share's owner (the user who made it) invites and removes members.",
            "Inviting a member again changes their role: with `--read-only`, their batches written after this "
            "are set aside by every member, and what they pushed before stays. A user key that a key rotation "
            "of theirs retired, and a member removed from the share, are refused (exit 2): ask for their new "
            "key.",
        ],
        "exit": {75: LOCKED},
        "examples": [("", "fog share invite --user fogpub-... --name bob --read-only")],
    },
    "share members": {"exit": {75: LOCKED}},
    "share remove-member": {
        "description": [
            "The member's batches written after this are refused by every other member, and the share gets "
            "a new key epoch, sealed to each remaining member: the removed user reads nothing pushed from then "
            "on. What they could read before, they keep.",
        ],
        "exit": {75: LOCKED},
    },
    "policy": {
        "description": [
            "A share's retention policy says which old versions of each path `fog forget` keeps; it never "
            "touches the current version of a file. It is kept in the share's entry of the SyncConfig, so "
            "a change on one device reaches every other at its next pull. A share without one uses fog's "
            "defaults: `--keep-last 10 --keep-hourly 48 --keep-daily 7 --keep-weekly 4 --keep-monthly 24 "
            "--keep-yearly 3 --keep-deleted 90d` (Kopia's defaults, plus three months for deleted files).",
            "The rules, as restic's `forget` has them: a version is kept when any rule keeps it.",
            [
                ("`--keep-last` *N*", "the *N* newest versions of each path."),
                ("`--keep-within` *DURATION*", "every version younger than *DURATION*."),
                (
                    "`--keep-hourly`, `--keep-daily`, `--keep-weekly`, `--keep-monthly`, `--keep-yearly` *N*",
                    "the newest version of each of the last *N* hours, days, ISO weeks, months or years (UTC) "
                    "that have a version.",
                ),
                (
                    "`--keep-deleted` *DURATION*",
                    "how long the history of a deleted path is kept after its deletion (or after the path's "
                    "newest version, if later: a deleting device's clock may be behind); then all of it goes. "
                    "Not set (`forever`): kept for good. Durations: at most `1000y`.",
                ),
                (
                    "`--max-old-size` *SIZE*",
                    "share-wide, the most bytes of old versions to keep: beyond it the oldest go first.",
                ),
            ],
            "When no rule that keeps versions is set, every version is kept: a policy never forgets by "
            "omission. *DURATION* is a number and a unit, or several (`1y6m`): `s`, `min`, `h`, `d`, `w`, "
            "`m` or `mo` (a month of 30 days; unlike a REV's age, where `m` is minutes), `y` (365 days). "
            "*SIZE* is bytes, or a number with `K`, `M`, `G` or `T` (powers of 1024): `500M`, `1.5T`.",
            "An override applies other rules to the paths a *PATTERN* matches, laid over the share-wide "
            "ones; the first matching override wins. Patterns are gitignore-like: `*`, `?` and `[...]` "
            "never match a `/`, `**` matches any number of directories, a pattern without `/` matches a name "
            "at any depth (`*.log`), one with `/` starts at the share's root (`docs/drafts`), and a pattern "
            "that matches a directory matches everything below it.",
        ],
        "see_also": ["log", "stats"],
    },
    "policy show": {
        "description": [
            "Shows the policy in this device's copy of the SyncConfig (as of its last pull), or the defaults "
            "and that none is stored. Works offline. `--json` gives the policy as stored (counts, durations "
            "in seconds, `max-old-bytes`, `overrides`, `updated` in ns; unset rules absent).",
        ],
        "exit": {1: "The stored policy has a rule this fog does not know (set by a newer fog): upgrade fog."},
        "examples": [("", "fog policy show"), ("", "fog policy show --json | jq '.policy[\"keep-last\"]'")],
    },
    "policy set": {
        "description": [
            "Changes only the rules given, starting from the share's policy (or the defaults): first the "
            "SyncConfig of every remote this device uses is read, so a change another device made just "
            "before is kept. The new policy is published as a new SyncConfig version on each of them, and "
            "what changed is printed. With `--path` *PATTERN* the options change that pattern's override "
            "(created when new, dropped when its last rule is unset); `--max-old-size` is share-wide only. "
            "`--unset` *RULE* removes a rule (repeatable, or comma-separated); `--reset` starts from the "
            "defaults and drops every override (with `--path`: drops that override). Setting the rules in "
            "force writes nothing.",
        ],
        "exit": {
            1: "No remote could be read (nothing changed), or one could not be written (named on stderr; "
            "the others have the policy).",
        },
        "examples": [
            ("Fewer versions, and a cap:", "fog policy set --keep-last 5 --keep-hourly 24 --max-old-size 20G"),
            (
                "Logs: only the last two versions, deleted ones gone after a week:",
                "fog policy set --path '*.log' --keep-last 2 --keep-deleted 1w",
            ),
            ("Keep deleted files for good:", "fog policy set --unset keep-deleted"),
            ("Back to the defaults:", "fog policy set --reset"),
        ],
    },
}
