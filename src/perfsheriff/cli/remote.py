"""Commands that talk to a perfsheriff server: ``agent`` (run its jobs here), ``upload`` (send CI results), and
the server's side of ``compare --server``."""

from __future__ import annotations

import stat
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from perfsheriff.agent import Agent, AgentOptions, Backoff
from perfsheriff.cli.context import (
    TimeoutOption,
    TokenFileOption,
    TokenOption,
    console,
    err_console,
    plain,
    unmarked,
    user_errors,
)
from perfsheriff.client import ApiError, Client, RunUpload, ServerUnavailable
from perfsheriff.errors import InputError
from perfsheriff.model import Configuration
from perfsheriff.runner import describe_environment
from perfsheriff.upload_files import MAX_UPLOAD_BYTES, read_result_path, upload_key
from perfsheriff.wire import Comparison, UploadResult

T = TypeVar("T")
_AUTH_STATUSES = frozenset({401, 403})
_TOKEN_FILE_LIMIT = 4096

ServerOption = Annotated[
    str, typer.Option(envvar="PERFSHERIFF_SERVER", help="The server's base URL, e.g. http://perf.example.org:8321.")
]
MachineOption = Annotated[str, typer.Option(help="This machine's name, as registered with the server.")]
ConfigOption = Annotated[
    list[str] | None, typer.Option("--config", "-c", help="Configuration key=value (repeatable): platform, backend...")
]


def agent(
    server: ServerOption,
    machine: MachineOption,
    token: TokenOption = None,
    token_file: TokenFileOption = None,
    config: Annotated[
        list[str] | None,
        typer.Option(
            "--config",
            "-c",
            help="Configuration key=value this machine provides (repeatable): a job asking for another value "
            "of one of these keys is reported as a fault and retried on another machine.",
        ),
    ] = None,
    workdir: Annotated[
        Path,
        typer.Option(
            help="Folder for repository mirrors, worktrees and the spool of undelivered results; one agent at a time."
        ),
    ] = Path(".perfsheriff/agent"),
    once: Annotated[bool, typer.Option("--once", help="Handle at most one job, then exit.")] = False,
    poll: Annotated[float, typer.Option(help="Seconds between claims while no job is queued.")] = 2.0,
    lease: Annotated[int, typer.Option(help="Seconds a claimed job is leased for; renewed every third.")] = 60,
    stop_timeout: Annotated[
        float | None,
        typer.Option(help="On SIGTERM, give the running job back after this many seconds (default: let it finish)."),
    ] = None,
    pass_env: Annotated[
        list[str] | None,
        typer.Option(
            "--pass-env",
            help="An environment variable benchmarks get from the agent (repeatable); by default only PATH, HOME, "
            "USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TZ, TERM and TMPDIR/TEMP/TMP.",
        ),
    ] = None,
    sandbox: Annotated[
        str,
        typer.Option(
            help="Run benchmarks in a sandbox: unshare or bwrap (new user, mount and PID namespaces; the token file "
            "and the spool hidden; bwrap also lets them write only in the work folder and their TMPDIR), or none. "
            "Fails at start-up when this machine cannot provide it.",
        ),
    ] = "none",
    timeout: TimeoutOption = 30.0,
) -> None:
    """Run the server's benchmark jobs for this machine: claim, run, upload; until SIGTERM.

    SIGTERM (or Ctrl-C) stops claiming and lets the running job finish and
    upload; a second one gives the job back to the queue. Results the server
    cannot take now are kept in WORKDIR/spool and uploaded, oldest first,
    before any new job is claimed.
    """
    with user_errors():
        secret = _token(token, token_file)
        options = AgentOptions(
            machine=machine,
            workdir=workdir.absolute(),
            configuration=Configuration.parse(config or []),
            poll_interval=poll,
            lease_seconds=lease,
            stop_timeout=stop_timeout,
            pass_env=tuple(pass_env or ()),
            sandbox=sandbox,
            masked=(token_file.absolute(),) if token_file is not None else (),
        )
        with Client(server, secret, timeout) as client:
            _log(f"agent {machine}: working for {client.server} in {options.workdir}")
            code = Agent(client, options, _log).run(once=once)
    raise typer.Exit(code)


def upload(
    files: Annotated[list[Path], typer.Argument(help="Result files (or result directories, such as Criterion's).")],
    server: ServerOption,
    revision: Annotated[str, typer.Option(help="Revision measured: its full sha (or a ref name the server knows).")],
    machine: MachineOption,
    token: TokenOption = None,
    token_file: TokenFileOption = None,
    project: Annotated[
        str | None, typer.Option(help="Project name on the server (default: its only project, if it has one).")
    ] = None,
    branch: Annotated[str | None, typer.Option(help="Branch (default: the project's default branch).")] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="Result format; detected from the content by default.")
    ] = None,
    config: ConfigOption = None,
    retries: Annotated[int, typer.Option(help="Tries again this many times while the server is unreachable.")] = 3,
    max_bytes: Annotated[
        int,
        typer.Option(
            "--max-bytes",
            min=1,
            help="Largest result (a file, or a directory's files together) sent, in bytes; larger ones are refused "
            "before they are read (the default is the server's default request limit).",
        ),
    ] = MAX_UPLOAD_BYTES,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Send result files to a server: one run per file, and a file sent again is not stored twice.

    Only regular files are read, no symbolic link out of a result directory
    is followed, and a result larger than --max-bytes is refused by name.
    """
    failed = 0
    with user_errors():
        configuration = Configuration.parse(config or [])
        environment = tuple(sorted(describe_environment(machine).items()))
        with Client(server, _token(token, token_file), timeout) as client:
            project = project or _only_project(client, retries)
            for index, path in enumerate(files):
                try:
                    read = read_result_path(path, max_bytes)
                    run = RunUpload(
                        project=project,
                        branch=branch,
                        revision=revision,
                        machine=machine,
                        configuration=configuration,
                        format=fmt,
                        files=read.files,
                        tree=read.tree,
                        source=read.source,
                        environment=environment,
                    )
                    key = upload_key(
                        project=project,
                        branch=branch,
                        revision=revision,
                        machine=machine,
                        configuration=configuration,
                        files=read.files,
                    )
                    result = _retrying(lambda: client.upload_run(run, idempotency_key=key), retries)  # noqa: B023
                except ServerUnavailable as err:
                    left = len(files) - index
                    raise ServerUnavailable(f"{err}; {left} file(s) not uploaded, from {path} on") from None
                except ApiError as err:
                    if err.status in _AUTH_STATUSES:
                        raise
                    _file_error(path, str(err).removeprefix(str(path)).removeprefix(": "))
                    failed += 1
                    continue
                except InputError as err:
                    if err.source is not None and err.source.startswith(str(path)):  # the file, or one in its folder
                        _file_error(Path(err.source), str(err).removeprefix(err.source).removeprefix(": "))
                    else:
                        _file_error(path, str(err))
                    failed += 1
                    continue
                console.print(unmarked(f"{path}: {_describe(result)}"), highlight=False, markup=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def fetch_comparison(
    server: str,
    token: str | None,
    token_file: Path | None,
    timeout: float,
    base: str,
    head: str,
    fail_on: str | None,
) -> Comparison:
    """``compare --server``: the server's comparison of two revisions, the gate judged there on its data."""
    with Client(server, _token(token, token_file), timeout) as client:
        return client.compare(base, head, fail_on)


def _token(token: str | None, token_file: Path | None) -> str | None:
    """The API token: given as it is, or read from ``token_file`` (which only its owner may read)."""
    if token_file is None:
        return token
    if token is not None:
        raise InputError("a token is given twice (--token or PERFSHERIFF_TOKEN, and --token-file): keep one")
    try:
        mode = token_file.stat().st_mode
        if not stat.S_ISREG(mode):
            raise InputError("not a regular file", source=str(token_file))
        with token_file.open("rb") as handle:
            data = handle.read(_TOKEN_FILE_LIMIT + 1)
    except OSError as err:
        raise InputError(f"cannot read the token file: {err.strerror or err}", source=str(token_file)) from None
    if mode & 0o077:
        raise InputError(
            f"other users may read this token file (mode {stat.S_IMODE(mode):o}): chmod 600 it", source=str(token_file)
        )
    lines = data.decode(errors="replace").split()
    if len(data) > _TOKEN_FILE_LIMIT or len(lines) != 1:
        raise InputError("expected the token alone on one line", source=str(token_file))
    return lines[0]


def _only_project(client: Client, retries: int) -> str:
    """The server's project when it has exactly one, so that a CI step need not repeat its name."""
    names = _retrying(client.projects, retries)
    if len(names) != 1:
        listed = f" ({', '.join(names)})" if names else ""
        raise InputError(f"the server has {len(names)} projects{listed}: name one", where="--project")
    return names[0]


def _retrying(call: Callable[[], T], retries: int) -> T:
    """``call``, tried again up to ``retries`` times with backoff while the server is unavailable."""
    backoff = Backoff()
    while True:
        try:
            return call()
        except ServerUnavailable as err:
            if backoff.failures >= retries:
                raise
            delay = backoff.next_delay()
            _log(f"server unavailable ({err}); trying again in {delay:.1f} s")
            time.sleep(delay)


def _describe(result: UploadResult) -> str:
    if result.duplicate:
        return f"already uploaded (run {result.run_id})"
    return f"run {result.run_id} ({result.format}): {result.series} series, {result.samples} samples"


def _file_error(path: Path, message: str) -> None:
    """``error: FILE: message``, or ``error: FILE, place: message`` when the server located the problem."""
    located = message if message.startswith(", ") else f": {message}"
    err_console.print(f"[bold red]error:[/] {plain(f'{path}{located}')}", highlight=False, soft_wrap=True)


def _log(message: str) -> None:
    """One line on stderr with the time: what an agent's service log keeps."""
    err_console.print(
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M:%S} {unmarked(message)}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command()(agent)
    app.command()(upload)
