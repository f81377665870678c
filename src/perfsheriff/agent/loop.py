"""The agent's loop: deliver what is spooled, claim a job, run it, upload it; stop cleanly on a signal.

Order of work in each turn: first the spool (results kept while the server
was unreachable, oldest first, with backoff between tries), then a claim.
Claiming waits until the spool is empty, so results reach the server in the
order they were measured and an outage does not pile up new work on top of
undelivered work.

Stopping (SIGTERM or SIGINT): the first signal stops claiming; the running
job finishes and is uploaded (or spooled), then the agent exits 0. A second
signal, or ``stop_timeout`` seconds after the first, aborts the running job
(its process group is killed, as on a timeout), gives it back to the queue
with ``release`` and exits. Signal handlers only set flags, or raise in the
main thread while a benchmark runs (as Ctrl-C raises KeyboardInterrupt); the
waits of the loop are short sleeps that look at those flags.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from perfsheriff.agent.backoff import Backoff
from perfsheriff.agent.job import GROUPS, TMP, WORK, LeaseKeeper, clean_up_after_crash, job_upload, run_job
from perfsheriff.agent.spool import Spool, SpooledUpload
from perfsheriff.client import ApiError, Client, Job, ServerUnavailable
from perfsheriff.errors import InputError, PerfsheriffError
from perfsheriff.model import Configuration, RunStatus
from perfsheriff.runner import RunOutcome
from perfsheriff.runner.sandbox import SANDBOXES, sandbox_wrapper
from perfsheriff.runner.workdir import exclusive
from perfsheriff.wire import UploadResult

#: 401 and 403 say the agent's token is wrong, not the result: stop, and keep the spool for a fixed token.
_AUTH_STATUSES = frozenset({401, 403})
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_NAP_S = 0.2


@dataclass(frozen=True, slots=True)
class AgentOptions:
    """How an agent works: its machine, its folder, and its timings (seconds).

    ``configuration`` is what this machine provides: jobs asking for other
    values of its keys are reported as faults here, to be run elsewhere.
    ``stop_timeout`` bounds how long a stop waits for the running job
    (``None``: as long as the job takes). ``pass_env`` names environment
    variables benchmarks get besides the allow-list; ``sandbox`` is where they
    run (``none``, ``unshare``, ``bwrap``: :mod:`perfsheriff.runner.sandbox`),
    with ``masked`` (the token file) and the spool hidden from them.
    """

    machine: str
    workdir: Path
    configuration: Configuration = field(default_factory=Configuration)
    poll_interval: float = 2.0
    lease_seconds: int = 60
    stop_timeout: float | None = None
    pass_env: tuple[str, ...] = ()
    sandbox: str = "none"
    masked: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if not self.machine.strip():
            raise InputError("the machine name must not be empty", where="--machine")
        if not self.poll_interval > 0:
            raise InputError(f"expected a number of seconds > 0, got {self.poll_interval}", where="--poll")
        if self.lease_seconds < 3:
            raise InputError(f"expected at least 3 seconds, got {self.lease_seconds}", where="--lease")
        if self.stop_timeout is not None and not self.stop_timeout > 0:
            raise InputError(f"expected a number of seconds > 0, got {self.stop_timeout}", where="--stop-timeout")
        if self.sandbox not in SANDBOXES:
            raise InputError(f"expected one of {', '.join(SANDBOXES)}, got {self.sandbox!r}", where="--sandbox")


class _Abort(BaseException):
    """Raised in the main thread by a second stop signal to end the running job (like KeyboardInterrupt)."""


class Agent:
    """Claims and runs jobs for one machine until stopped; see the module docstring for the order of work."""

    def __init__(
        self,
        client: Client,
        options: AgentOptions,
        log: Callable[[str], None],
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.log = log
        self.backoff = backoff or Backoff()
        self.spool = Spool(options.workdir / "spool")
        self._stopping = False  # set by the first stop signal
        self._forced = False  # set by the second one, or when the stop timeout expires
        self._abortable = False  # a benchmark is running in the main thread and may be interrupted
        self._stop_announced = False
        self._wrapper: tuple[str, ...] = ()

    def run(self, *, once: bool = False) -> int:
        """Work until a stop signal (or, with ``once``, after at most one job); return the exit status.

        Raises ApiError when the server refuses the agent itself (bad token,
        unknown machine): no later try would succeed.
        """
        with exclusive(self.options.workdir), self._signals():
            for stale in self.spool.discard_temporary():
                self.log(f"removed {stale}, left by an interrupted write")
            for cleaned in clean_up_after_crash(self.options.workdir):
                self.log(cleaned)
            self._wrapper = self._sandbox()  # after the clean-up, which empties the benchmarks' TMPDIR
            while not self._stopping:
                if not self._drain_spool():
                    break
                job = self._claim()
                if job is None:
                    if once and not self._unreachable:
                        break
                    if not self._unreachable:
                        self._sleep(self.options.poll_interval)
                    continue
                self._handle(job)
                if once:
                    break
            if self._stopping:
                self.log("stopped")
        return 0

    def _sandbox(self) -> tuple[str, ...]:
        """The sandbox's command line, checked to work here; the folders it masks or lets write in exist first.

        Benchmarks may write only in the worktrees and outputs (``work/``) and
        in their ``TMPDIR`` (``tmp/``), where a sandbox confines writes.
        """
        workdir = self.options.workdir
        private, writable, tmpdir = [workdir / "spool", workdir / GROUPS], [workdir / WORK], workdir / TMP
        if self.options.sandbox != "none":
            for folder in [*private, *writable, tmpdir]:
                folder.mkdir(parents=True, exist_ok=True)
        return sandbox_wrapper(self.options.sandbox, [*private, *self.options.masked], writable, tmpdir)

    # -- the spool -------------------------------------------------------------------------

    def _drain_spool(self) -> bool:
        """Upload spooled results, oldest first, until none is left (True) or a stop is requested (False)."""
        for path in self.spool.pending():
            while True:
                if self._stopping:
                    return False
                try:
                    item = self.spool.load(path)
                except InputError as err:
                    self._set_aside(path, str(err))
                    break
                try:
                    result = self.client.upload_run(item.upload, idempotency_key=item.idempotency_key)
                except ServerUnavailable as err:
                    self._wait_for_server(err)
                    continue
                except ApiError as err:
                    if err.status in _AUTH_STATUSES:
                        raise
                    self._set_aside(path, str(err))
                    break
                self._server_back()
                self.spool.remove(path)
                self.log(f"delivered spooled {path.name}: {_stored(result)}")
                break
        return True

    def _set_aside(self, path: Path, reason: str) -> None:
        target = self.spool.reject(path, reason)
        self.log(f"spooled upload set aside in {target}: {reason}")

    # -- the server's availability ---------------------------------------------------------

    @property
    def _unreachable(self) -> bool:
        return self.backoff.failures > 0

    def _wait_for_server(self, err: ServerUnavailable) -> None:
        delay = self.backoff.next_delay()
        self.log(f"server unavailable ({err}); trying again in {delay:.1f} s")
        self._sleep(delay)

    def _server_back(self) -> None:
        if self._unreachable:
            self.log("server reachable again")
        self.backoff.reset()

    def _sleep(self, seconds: float) -> None:
        """Sleep, waking early when a stop is requested (short naps: handlers only set flags)."""
        deadline = time.monotonic() + seconds
        while not self._stopping and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, _NAP_S))

    # -- jobs ------------------------------------------------------------------------------

    def _claim(self) -> Job | None:
        """The next job, or None: none queued, or the server unreachable (after the backoff's wait)."""
        try:
            job = self.client.claim(self.options.machine, self.options.lease_seconds)
        except ServerUnavailable as err:
            self._wait_for_server(err)
            return None
        self._server_back()
        return job

    def _handle(self, job: Job) -> None:
        """Run one job and deliver its outcome; a forced stop gives the job back instead."""
        title = f"job {job.id} ({job.reason}, attempt {job.attempt}/{job.max_attempts}) {job.benchmark.name}"
        title += f" @ {job.revision[:12]}"
        if self._stopping:  # the stop arrived while the claim was in flight
            self.log(f"{title}: not started, stopping; {self._release(job)}")
            return
        try:
            with LeaseKeeper(self.client, job, self.options.lease_seconds, self.log, self._announce_stop):
                self._abortable = True
                try:
                    if self._forced:
                        raise _Abort
                    outcome = run_job(
                        job,
                        self.options.workdir,
                        self.options.machine,
                        self.options.configuration,
                        pass_env=self.options.pass_env,
                        wrapper=self._wrapper,
                    )
                finally:
                    self._abortable = False
        except _Abort:
            self.log(f"{title}: stopped before it finished; {self._release(job)}")
            return
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        summary = f"{outcome.status.value} in {outcome.duration_s:.1f} s"
        if outcome.status is not RunStatus.OK and outcome.error:
            summary += f" ({outcome.error})"
        self.log(f"{title}: {summary}: {self._deliver(job, outcome)}")

    def _deliver(self, job: Job, outcome: RunOutcome) -> str:
        """Report an outcome to the server, spooling a result it cannot take now; say what happened."""
        if outcome.status is RunStatus.INFRA:
            try:
                state = self.client.fail(job.id, job.lease, outcome.error or "infrastructure fault")
            except (ServerUnavailable, ApiError) as err:
                return f"could not report the fault ({err}); the lease will expire and the job be retried"
            return f"fault reported, job {state}"
        upload = job_upload(job, outcome, self.options.machine)
        item = SpooledUpload(job.ref.idempotency_key, upload)
        try:
            result = self.client.upload_run(item.upload, idempotency_key=item.idempotency_key)
        except ServerUnavailable:
            path = self.spool.put(item, datetime.now(UTC))
            return f"server unavailable, result spooled in {path}"
        except ApiError as err:
            if err.status == 409:
                return f"already done by another agent, result dropped ({err.message})"
            path = self.spool.put(item, datetime.now(UTC))
            if err.status in _AUTH_STATUSES:  # kept pending: a corrected token delivers it
                raise
            path = self.spool.reject(path, str(err))
            return f"refused by the server, result set aside in {path}: {err}"
        self._server_back()
        return _stored(result)

    def _release(self, job: Job) -> str:
        try:
            state = self.client.release(job.id, job.lease)
        except PerfsheriffError as err:
            return f"could not release it ({err}); its lease will expire"
        return f"released, job {state}"

    # -- signals ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self._on_stop_signal) for sig in _STOP_SIGNALS}
        previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_stop_timeout)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            self._force()
            return
        self._stopping = True
        if self.options.stop_timeout is not None:
            signal.setitimer(signal.ITIMER_REAL, self.options.stop_timeout)

    def _on_stop_timeout(self, signum: int, frame: FrameType | None) -> None:
        self._force()

    def _force(self) -> None:
        self._forced = True
        if self._abortable:
            raise _Abort

    def _announce_stop(self) -> None:
        """Say once, from the lease thread, that the running job is the last (handlers must not print)."""
        if self._stopping and not self._stop_announced:
            self._stop_announced = True
            self.log("stop requested: finishing the running job first (signal again to give it back)")


def _stored(result: UploadResult) -> str:
    if result.duplicate:
        return f"already uploaded (run {result.run_id})"
    return f"run {result.run_id}, {result.series} series, {result.samples} samples"
