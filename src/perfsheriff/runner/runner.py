"""Run one benchmark at one revision: worktree, setup, repetitions, timeout, parse, classify.

The outcome is a value, never an exception: a benchmark that breaks is data
(``failed``: the commit is unusable, like ``git bisect skip``, not "bad"), a
hang is ``timeout``, and only the machine's own faults are ``infra``, retried
a bounded number of times and kept apart from results.

Classification:

- ``ok``: setup (if any) and every repetition exited 0 and their results parse;
- ``failed``: setup or command exited non-zero or was killed by a signal, or
  the results do not parse. Exit status 127 ("command not found") counts here
  too: a misspelt command is a mistake in the benchmark's configuration, and
  retrying on the same machine would only fail again;
- ``timeout``: the run exceeded the benchmark's ``timeout`` (which bounds setup
  and all repetitions together); the command's whole process group is killed;
- ``infra``: the revision could not be checked out, or a command could not be
  started or its output read (no space, no memory, missing directory).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perfsheriff.errors import FormatError, GitError, NotFoundError
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import ResultSet, RunStatus
from perfsheriff.projectfile import BenchmarkSpec
from perfsheriff.runner.environment import describe_environment
from perfsheriff.runner.process import Execution, run_shell, tail
from perfsheriff.runner.results import merge_repetitions, read_results
from perfsheriff.runner.sandbox import benchmark_environment

OUTPUT_VARIABLE = "PERFSHERIFF_OUTPUT"
_PLACEHOLDER = re.compile(r"\{(worktree|config_dir|output)\}")
_NOT_FOUND = 127
_NOT_EXECUTABLE = 126


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """The record of one run.

    ``results`` is set only when ``status`` is ``ok``; ``error`` says in one
    line why not; ``log_tail`` holds the last lines the command wrote to
    stderr (stdout when stderr is empty); ``duration_s`` is the wall time of
    the last attempt, checkout and setup included; ``attempts`` counts infra retries + 1.
    """

    status: RunStatus
    results: ResultSet | None
    environment: dict[str, str]
    duration_s: float
    error: str | None
    log_tail: str
    attempts: int


class _Stopped(Exception):
    """A run ends early; carries the outcome's status and message (internal control flow only)."""

    def __init__(self, status: RunStatus, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.log_tail = log_tail


def expand_placeholders(template: str, values: Mapping[str, Path]) -> str:
    """Substitute ``{worktree}``, ``{config_dir}`` and ``{output}``, shell-quoted, in one pass.

    Only these three names are replaced, so shell syntax such as ``${HOME}``
    or ``awk '{print $1}'`` passes through untouched (``str.format`` would
    choke on it).
    """
    return _PLACEHOLDER.sub(lambda match: shlex.quote(str(values[match[1]])), template)


class Runner:
    """Runs benchmarks of one repository on this machine, in worktree slot ``slot`` under ``workroot``.

    ``workroot/worktrees/slot-<n>`` holds the reused checkout and
    ``workroot/outputs/slot-<n>`` the output and logs of the latest attempt,
    in a folder of a fresh name per attempt (``attempt-<random>``): a path
    handed to one attempt's command is never handed to another, so a process
    left over from an earlier attempt cannot write into a later one's
    results. ``groups`` is the folder recording the running commands'
    process groups (default ``workroot/groups``; see
    :func:`perfsheriff.runner.process.reap_groups`). One runner per slot at a
    time; give concurrent runners different slots.

    Commands see only an allow-list of this process's environment (plus the
    names in ``pass_env`` and the benchmark's own ``environment``), and run
    behind ``wrapper`` when given (a sandbox: see
    :mod:`perfsheriff.runner.sandbox`).
    """

    def __init__(
        self,
        repo: GitRepo,
        workroot: Path,
        config_dir: Path,
        machine: str | None = None,
        *,
        slot: int = 0,
        infra_retries: int = 2,
        grace_s: float = 5.0,
        groups: Path | None = None,
        pass_env: Sequence[str] = (),
        wrapper: Sequence[str] = (),
    ) -> None:
        if infra_retries < 0:
            raise ValueError(f"infra_retries must be >= 0, got {infra_retries}")
        self.repo = repo
        self.workroot = workroot.absolute()
        self.config_dir = config_dir.absolute()
        self.slot = slot
        self.infra_retries = infra_retries
        self.grace_s = grace_s
        self.groups = groups.absolute() if groups is not None else self.workroot / "groups"
        self.pass_env = tuple(pass_env)
        self.wrapper = tuple(wrapper)
        self.environment = describe_environment(machine)

    @property
    def worktrees(self) -> Path:
        return self.workroot / "worktrees"

    @property
    def scratch(self) -> Path:
        """The folder holding this slot's attempt folders."""
        return self.workroot / "outputs" / f"slot-{self.slot}"

    def run(self, benchmark: BenchmarkSpec, sha: str) -> RunOutcome:
        """Measure ``benchmark`` at commit ``sha``; infra failures are retried up to ``infra_retries`` times."""
        attempt = 1
        while True:
            outcome = self._attempt(benchmark, sha, attempt)
            if outcome.status is not RunStatus.INFRA or attempt > self.infra_retries:
                return outcome
            attempt += 1

    def _attempt(self, benchmark: BenchmarkSpec, sha: str, attempt: int) -> RunOutcome:
        started = time.monotonic()
        results, error, log_tail, status = None, None, "", RunStatus.OK
        try:
            results, log_tail = self._measure(benchmark, sha, started + benchmark.timeout)
        except _Stopped as stop:
            status, error, log_tail = stop.status, stop.message, stop.log_tail
        duration = time.monotonic() - started
        return RunOutcome(status, results, dict(self.environment), duration, error, log_tail, attempt)

    def _measure(self, benchmark: BenchmarkSpec, sha: str, deadline: float) -> tuple[ResultSet, str]:
        """Check out, set up, repeat, parse; raise _Stopped for anything but success."""
        worktree = self._checkout(sha)
        scratch = self._prepare_scratch()
        output = scratch / "output"
        inherited = benchmark_environment(os.environ, self.pass_env)
        env = {**inherited, **benchmark.environment, OUTPUT_VARIABLE: str(output)}
        places = {"worktree": worktree, "config_dir": self.config_dir, "output": output}
        step = _Step(benchmark, worktree, scratch, env, places, deadline)
        if benchmark.setup is not None:
            self._execute(step, "setup", benchmark.setup)
        sets, execution = [], None
        for repetition in range(1, benchmark.repetitions + 1):
            _remove(output)
            name = f"command (repetition {repetition})" if benchmark.repetitions > 1 else "command"
            execution = self._execute(step, name, benchmark.command)
            sets.append(self._parse(output, execution, benchmark))
        assert execution is not None  # repetitions >= 1
        try:
            return merge_repetitions(sets), _log_tail(execution)
        except FormatError as err:
            raise _Stopped(RunStatus.FAILED, f"the results do not parse: {err}") from None

    def _checkout(self, sha: str) -> Path:
        try:
            return self.repo.worktree(sha, self.worktrees, self.slot)
        except (GitError, NotFoundError, OSError) as err:
            raise _Stopped(RunStatus.INFRA, f"cannot check out {sha}: {err}") from None

    def _prepare_scratch(self) -> Path:
        """A new, empty folder of a never-used name for this attempt's output and logs.

        The slot's earlier attempts' folders are deleted first (the last
        one's are kept until then, to look at).
        """
        try:
            if self.scratch.exists():
                shutil.rmtree(self.scratch)
            self.scratch.mkdir(parents=True)
            return Path(tempfile.mkdtemp(prefix="attempt-", dir=self.scratch))
        except OSError as err:
            raise _Stopped(RunStatus.INFRA, f"cannot prepare {self.scratch}: {err}") from None

    def _execute(self, step: _Step, name: str, template: str) -> Execution:
        """Run one command within what is left of the run's time; anything but exit status 0 stops the run."""
        remaining = step.deadline - time.monotonic()
        timed_out = f"timed out after {step.benchmark.timeout:g} s"
        if remaining <= 0:
            raise _Stopped(RunStatus.TIMEOUT, f"{timed_out}, before the {name} started")
        logs = step.scratch / re.sub(r"\W+", "-", name).strip("-")
        try:
            execution = run_shell(
                expand_placeholders(template, step.places),
                cwd=step.worktree,
                env=step.env,
                timeout=remaining,
                grace=self.grace_s,
                stdout=logs.with_suffix(".stdout"),
                stderr=logs.with_suffix(".stderr"),
                registry=self.groups,
                wrapper=self.wrapper,
            )
        except OSError as err:
            raise _Stopped(RunStatus.INFRA, f"cannot start the {name}: {err}") from None
        log_tail = _log_tail(execution)
        if execution.timed_out:
            raise _Stopped(RunStatus.TIMEOUT, f"{timed_out} in the {name}; its process group was killed", log_tail)
        if execution.returncode:
            raise _Stopped(RunStatus.FAILED, _exit_message(name, execution.returncode, log_tail), log_tail)
        return execution

    def _parse(self, output: Path, execution: Execution, benchmark: BenchmarkSpec) -> ResultSet:
        try:
            return read_results(output, execution.stdout, benchmark.format)
        except FormatError as err:
            raise _Stopped(RunStatus.FAILED, f"the results do not parse: {err}", _log_tail(execution)) from None
        except OSError as err:
            raise _Stopped(RunStatus.INFRA, f"cannot read the results: {err}", _log_tail(execution)) from None


@dataclass(frozen=True, slots=True)
class _Step:
    """What every command of one attempt shares: where it runs, its environment, the run's deadline."""

    benchmark: BenchmarkSpec
    worktree: Path
    scratch: Path
    env: Mapping[str, str]
    places: Mapping[str, Path]
    deadline: float


def _log_tail(execution: Execution) -> str:
    return tail(execution.stderr) or tail(execution.stdout)


def _exit_message(step: str, returncode: int, log_tail: str) -> str:
    """One line saying how a step failed, with the shell's own words for 126 and 127."""
    last_line = log_tail.splitlines()[-1] if log_tail else ""
    if returncode == _NOT_FOUND:
        return f"{step}: command not found: {last_line or 'exit status 127'}"
    if returncode == _NOT_EXECUTABLE:
        return f"{step}: command not executable: {last_line or 'exit status 126'}"
    if returncode < 0:
        return f"{step} was killed by signal {signal.Signals(-returncode).name}"
    return f"{step} exited with status {returncode}" + (f": {last_line}" if last_line else "")


def _remove(output: Path) -> None:
    """Clear what the previous repetition left at ``{output}``: a file, or a folder of results."""
    if output.is_dir() and not output.is_symlink():
        shutil.rmtree(output)
    else:
        output.unlink(missing_ok=True)
