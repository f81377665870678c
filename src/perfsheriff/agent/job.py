"""One claimed job on this machine: get the repository, run the benchmark, keep the lease, shape the upload.

Everything a job needs from the machine is prepared here, and a machine that
cannot provide it (a repository that is neither a local path nor a URL, a
configuration folder missing, a clone that fails) makes an ``infra`` outcome:
the agent reports it with ``fail`` and the job is retried on another machine,
rather than a ``failed`` run that would mark a good commit unusable.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from perfsheriff.client import ApiError, Client, Job, RunUpload, ServerUnavailable
from perfsheriff.errors import GitError, NotFoundError, PerfsheriffError
from perfsheriff.formats import perfsheriff as own_format
from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import Configuration, RunStatus
from perfsheriff.projectfile import is_url
from perfsheriff.runner import Runner, RunOutcome, describe_environment, reap_groups

RESULT_FILE = "result.json"
GROUPS = "groups"  # under the workdir: the process groups of running benchmarks (runner.reap_groups)
WORK = "work"  # under the workdir: per repository, its worktree pool and its attempts' outputs
TMP = "tmp"  # under the workdir: the TMPDIR of sandboxed benchmarks, emptied at start-up


class _Unrunnable(Exception):
    """This machine cannot run the job (internal: becomes an ``infra`` outcome)."""


def run_job(
    job: Job,
    workdir: Path,
    machine: str,
    configuration: Configuration,
    *,
    pass_env: Sequence[str] = (),
    wrapper: Sequence[str] = (),
) -> RunOutcome:
    """Measure ``job`` on this machine; never raises for a problem of the job or the machine.

    ``configuration`` is what this machine provides (the agent's ``--config``):
    a job asking for another value of one of its keys is not run here, since
    its results would carry a label this machine cannot honour.
    A URL repository is mirrored under ``workdir/repos`` (fetched only when
    the revision is missing); each repository gets its own worktree pool
    under ``workdir/work`` so that jobs of different projects never share a
    checkout. The benchmark's process groups are recorded under
    ``workdir/groups`` while they run, for :func:`clean_up_after_crash`.
    ``pass_env`` and ``wrapper`` are the runner's (environment variables
    passed on besides the allow-list, and a sandbox's command line).
    """
    started = time.monotonic()
    try:
        _check_configuration(job.configuration, configuration)
        spec = job.spec()
        config_dir = Path(job.benchmark.config_dir)
        if not config_dir.is_dir():
            raise _Unrunnable(f"the benchmark's configuration folder {config_dir} does not exist on this machine")
        repo = _repository(job.repository, job.revision, workdir / "repos")
        runner = Runner(
            repo,
            workdir / WORK / _slug(job.repository),
            config_dir,
            machine,
            groups=workdir / GROUPS,
            pass_env=pass_env,
            wrapper=wrapper,
        )
    except (_Unrunnable, PerfsheriffError, OSError) as err:
        return RunOutcome(
            RunStatus.INFRA, None, describe_environment(machine), time.monotonic() - started, str(err), "", 1
        )
    return runner.run(spec, job.revision)


def clean_up_after_crash(workdir: Path) -> list[str]:
    """Remove what an agent killed in the middle of a job left in ``workdir``; say what was done.

    Called at start-up, under the workdir's lock, so nothing else here runs:
    benchmark process groups still running are killed (normally their
    supervisor has already done it when the agent died) and said so, and
    earlier attempts' outputs and logs are deleted, and so is what
    sandboxed benchmarks left in their ``TMPDIR``. Worktree slots are
    repaired when next used (``GitRepo.worktree`` removes stale locks and
    replaces damaged slots).
    """
    done = [f"killed process group {pgid}, left running by a previous agent" for pgid in reap_groups(workdir / GROUPS)]
    for scratch in [*sorted((workdir / WORK).glob("*/outputs")), workdir / TMP]:
        if scratch.is_dir() and not scratch.is_symlink():
            shutil.rmtree(scratch)
    return done


def _check_configuration(wanted: Configuration, provided: Configuration) -> None:
    offered = provided.as_dict()
    clashes = [f"{key}={value}" for key, value in wanted.items if offered.get(key, value) != value]
    if clashes:
        raise _Unrunnable(f"the job asks for {', '.join(clashes)}; this agent runs with {provided}")


def _repository(location: str, revision: str, mirrors: Path) -> GitRepo:
    """The job's repository: a local path that exists as it is, a URL as a mirror kept under ``mirrors``."""
    if not is_url(location):
        if not Path(location).exists():
            raise _Unrunnable(f"the repository {location} does not exist on this machine (and is not a URL)")
        return GitRepo(location)
    path = mirrors / _slug(location)
    if path.exists():
        try:
            GitRepo(path).resolve(revision)  # a sha never changes: no fetch needed when it is there
            return GitRepo(path)
        except (GitError, NotFoundError):
            pass
    return GitRepo.mirror(location, path)


def _slug(location: str) -> str:
    """A folder name for a repository: readable, and unique per location thanks to a hash."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", location).strip("-.")[-48:]
    return f"{readable}-{hashlib.sha256(location.encode()).hexdigest()[:12]}"


def job_upload(job: Job, outcome: RunOutcome, machine: str) -> RunUpload:
    """The upload that completes ``job`` with ``outcome`` (``ok``, ``failed`` or ``timeout``).

    It carries the job's configuration, which the server checks. Results go
    in perfsheriff's own format: the runner merged every repetition, so the
    tool's last output file alone would lose samples.
    """
    assert outcome.status is not RunStatus.INFRA, "infra outcomes are reported with fail, not uploaded"
    files: tuple[tuple[str, str], ...] = ()
    if outcome.status is RunStatus.OK:
        assert outcome.results is not None
        files = ((RESULT_FILE, own_format.dump(outcome.results)),)
    return RunUpload(
        project=job.project,
        branch=job.branch,
        revision=job.revision,
        machine=machine,
        configuration=job.configuration,
        format=own_format.NAME if files else None,
        files=files,
        source=f"job {job.id}: {job.benchmark.name}",
        environment=tuple(sorted(outcome.environment.items())),
        status=outcome.status,
        error=outcome.error,
        log_tail=outcome.log_tail,
        job=job.ref,
    )


class LeaseKeeper:
    """Renews a running job's lease from a background thread, every third of the lease.

    The benchmark runs in the main thread; this thread keeps the claim alive
    meanwhile. A renewal the server cannot answer is tried again sooner (the
    lease has two more thirds to go); one it refuses (409: the lease expired
    and the job went to another agent) ends the renewals, and the job's
    result is still uploaded: the first finisher wins. ``tick`` runs about
    once a second (the agent uses it to say that a stop was requested).
    """

    def __init__(
        self,
        client: Client,
        job: Job,
        lease_seconds: int,
        log: Callable[[str], None],
        tick: Callable[[], None] = lambda: None,
    ) -> None:
        self.client = client
        self.job = job
        self.lease_seconds = lease_seconds
        self.log = log
        self.tick = tick
        self.renewals = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._keep, name=f"lease-job-{job.id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()

    def _keep(self) -> None:
        interval = self.lease_seconds / 3
        due = time.monotonic() + interval
        holding = True
        while not self._done.wait(min(1.0, max(0.0, due - time.monotonic()))):
            self.tick()
            if not holding or time.monotonic() < due:
                continue
            try:
                self.client.renew(self.job.id, self.job.lease, self.lease_seconds)
            except ServerUnavailable as err:
                self.log(f"job {self.job.id}: cannot renew the lease, trying again shortly: {err}")
                due = time.monotonic() + min(5.0, interval)
                continue
            except ApiError as err:
                self.log(f"job {self.job.id}: the lease is lost ({err}); the result is uploaded all the same")
                holding = False
                continue
            self.renewals += 1
            due = time.monotonic() + interval
