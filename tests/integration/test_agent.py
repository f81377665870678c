"""Real agent processes against a real server: claim, run a real benchmark in a real repository, upload.

The project's benchmark (``benchrepo``) prints five samples per invocation.
A second benchmark, ``slow``, first writes a marker file and sleeps, so a test
can act while a job is running: stop the agent, kill the server, kill the agent.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from perfsheriff.agent import Spool, SpooledUpload
from perfsheriff.client import ApiError, Client, RunUpload, ServerUnavailable
from support.agents import SAMPLES_PER_INVOCATION, SLEEP_S, Setup, slow_benchmark, stop, wait_for
from support.benchrepo import build_project
from support.liveserver import free_port, start_server


@pytest.fixture
def setup(engine_url: str, tmp_path: Path) -> Iterator[Setup]:
    marker = tmp_path / "slow-started"
    project = build_project(tmp_path / "project", extra_config=slow_benchmark(marker))
    server = start_server(engine_url, tmp_path, config=project.config)
    try:
        made = Setup(
            project=project,
            server=server,
            marker=marker,
            sheriff=server.token("sheriff"),
            agent_token=server.token("agent", machine="box", machine_class="test-class"),
            root=tmp_path,
        )
        yield made
    finally:
        server.stop()


def test_an_agent_runs_a_job_and_completes_it(setup: Setup) -> None:
    revision = setup.project.tips[3]
    job_id = setup.enqueue(revision, reason="bisect", repetitions=2)
    done = setup.run_agent("--config", "ignored=yes")
    assert done.returncode == 0, done.stderr
    assert f"job {job_id} (bisect, attempt 1/3) work @ {revision[:12]}: ok" in done.stderr
    assert "1 series, 10 samples" in done.stderr
    assert [j["id"] for j in setup.jobs("done")] == [job_id]
    assert setup.samples_at(revision, "work") == [2 * SAMPLES_PER_INVOCATION]
    again = setup.run_agent()  # nothing queued: --once exits at once
    assert again.returncode == 0, again.stderr
    assert "job" not in again.stderr.split("\n", 1)[1]


def test_a_broken_revision_is_uploaded_as_a_failed_run(engine_url: str, tmp_path: Path) -> None:
    project = build_project(tmp_path / "project", broken=True)
    server = start_server(engine_url, tmp_path, config=project.config)
    try:
        setup = Setup(
            project,
            server,
            tmp_path / "m",
            server.token("sheriff"),
            server.token("agent", "box", "test-class"),
            tmp_path,
        )
        assert project.broken_tip is not None
        job_id = setup.enqueue(project.broken_tip)
        done = setup.run_agent()
        assert done.returncode == 0, done.stderr
        assert f"job {job_id} " in done.stderr
        assert ": failed in " in done.stderr
        assert "build failed: the tree is broken" in done.stderr or "exited with status 1" in done.stderr
        assert [j["id"] for j in setup.jobs("done")] == [job_id]
        assert setup.samples_at(project.broken_tip, "work") == []
    finally:
        server.stop()


def test_a_url_repository_is_mirrored_in_the_workdir(engine_url: str, tmp_path: Path) -> None:
    project = build_project(tmp_path / "project", url=True)
    server = start_server(engine_url, tmp_path, config=project.config)
    try:
        setup = Setup(
            project,
            server,
            tmp_path / "m",
            server.token("sheriff"),
            server.token("agent", "box", "test-class"),
            tmp_path,
        )
        first, second = setup.enqueue(project.tips[1]), setup.enqueue(project.tips[2])
        for job_id in (first, second):  # the second job finds its revision in the mirror, no fetch
            done = setup.run_agent()
            assert done.returncode == 0, done.stderr
            assert f"job {job_id} " in done.stderr
            assert ": ok in " in done.stderr
        (mirror,) = (tmp_path / "agent" / "repos").iterdir()
        assert (mirror / "HEAD").is_file()  # a bare mirror
        assert sorted(j["id"] for j in setup.jobs("done")) == [first, second]
    finally:
        server.stop()


def test_a_job_asking_for_another_configuration_is_left_to_other_machines(setup: Setup) -> None:
    job_id = setup.enqueue(setup.project.tips[2], configuration={"threads": "4"})
    done = setup.run_agent("--config", "threads=2")
    assert done.returncode == 0, done.stderr
    assert f"job {job_id} " in done.stderr
    assert "the job asks for threads=4; this agent runs with threads=2" in done.stderr
    assert "fault reported, job queued" in done.stderr
    (queued,) = setup.jobs("queued")
    assert queued["id"] == job_id
    assert "threads=4" in str(queued["error"])
    matching = setup.run_agent("--config", "threads=4", "--config", "python=3.12")
    assert matching.returncode == 0, matching.stderr
    assert ": ok in " in matching.stderr
    assert [j["id"] for j in setup.jobs("done")] == [job_id]


def test_a_second_agent_in_the_same_workdir_is_refused_naming_the_first(setup: Setup) -> None:
    job_id = setup.enqueue(setup.project.tips[4], benchmark="slow")
    first = setup.start_agent()
    try:
        wait_for(setup.marker.exists, "the slow benchmark to start")
        second = setup.run_agent()
        assert second.returncode == 1
        assert "Traceback" not in second.stderr
        assert second.stderr.strip().splitlines()[-1] == (
            f"error: {setup.root / 'agent'}: another perfsheriff process (pid {first.pid}) is using this folder; "
            "wait for it to end, or give each its own --workdir"
        )
        wait_for(lambda: [j["id"] for j in setup.jobs("done")] == [job_id], "the first agent's job to be done")
    finally:
        assert stop(first) == 0
    assert setup.samples_at(setup.project.tips[4], "work") == [SAMPLES_PER_INVOCATION]


def test_sigterm_lets_the_running_job_finish_and_upload(setup: Setup) -> None:
    revision = setup.project.tips[4]
    job_id = setup.enqueue(revision, benchmark="slow")
    agent = setup.start_agent()
    try:
        wait_for(setup.marker.exists, "the slow benchmark to start")
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(60) == 0
    finally:
        stop(agent)
    log = setup.agent_log()
    assert "stop requested: finishing the running job first" in log
    assert f"job {job_id} " in log
    assert ": ok in " in log
    assert [j["id"] for j in setup.jobs("done")] == [job_id]
    assert setup.samples_at(revision, "work") == [SAMPLES_PER_INVOCATION]


@pytest.mark.parametrize("how", ["second-signal", "stop-timeout"])
def test_a_forced_stop_gives_the_job_back_and_kills_the_benchmark(setup: Setup, how: str) -> None:
    job_id = setup.enqueue(setup.project.tips[5], benchmark="slow")
    agent = setup.start_agent(*(["--stop-timeout", "0.5"] if how == "stop-timeout" else []))
    try:
        wait_for(setup.marker.exists, "the slow benchmark to start")
        benchmark_shell = int(setup.marker.read_text().split()[0])
        agent.send_signal(signal.SIGTERM)
        if how == "second-signal":
            time.sleep(0.3)
            agent.send_signal(signal.SIGTERM)
        assert agent.wait(SLEEP_S - 1) == 0  # well before the benchmark would have ended
    finally:
        stop(agent)
    log = setup.agent_log()
    assert f"job {job_id} " in log
    assert "stopped before it finished; released, job queued" in log
    with pytest.raises(ProcessLookupError):
        os.kill(benchmark_shell, 0)  # its process group was killed (and reaped) with it
    (queued,) = setup.jobs("queued")
    assert (queued["id"], queued["attempt"]) == (job_id, 0)  # a release does not count as an attempt
    assert setup.jobs("done") == []


def test_the_lease_is_renewed_while_a_long_job_runs(setup: Setup) -> None:
    job_id = setup.enqueue(setup.project.tips[6], benchmark="slow")
    other = setup.server.token("agent", machine="box-2", machine_class="test-class")
    agent = setup.start_agent("--lease", "3")
    try:
        wait_for(setup.marker.exists, "the slow benchmark to start")
        time.sleep(SLEEP_S - 0.5)  # past the 3-second lease: only renewals keep the job
        with setup.server.client(other) as http:
            assert http.post("/api/v1/jobs/claim", json={"machine": "box-2"}).json()["job"] is None
        wait_for(lambda: any(j["id"] == job_id for j in setup.jobs("done")), "the job to be done")
    finally:
        assert stop(agent) == 0
    log = setup.agent_log()
    assert "lease is lost" not in log
    assert ": ok in " in log


def test_a_killed_agents_job_finishes_on_another_agent_once(setup: Setup) -> None:
    revision = setup.project.tips[7]
    job_id = setup.enqueue(revision, benchmark="slow")
    first = setup.start_agent("--lease", "3", workdir="first")
    try:
        wait_for(setup.marker.exists, "the slow benchmark to start")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    (running,) = setup.jobs("running")
    assert running["id"] == job_id
    time.sleep(3.5)  # the lease expires; the job goes back to the queue
    second = setup.run_agent("--lease", "3", workdir="second")
    assert second.returncode == 0, second.stderr
    assert f"job {job_id} (routine, attempt 2/3) slow" in second.stderr
    assert ": ok in " in second.stderr
    orphan = int(setup.marker.read_text().split()[0])  # the killed agent's benchmark, in its own group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(orphan, signal.SIGKILL)
    assert [j["id"] for j in setup.jobs("done")] == [job_id]
    assert setup.samples_at(revision, "work") == [SAMPLES_PER_INVOCATION]


def test_an_unreachable_server_gets_the_spooled_result_exactly_once(setup: Setup) -> None:
    revision = setup.project.tips[8]
    job_id = setup.enqueue(revision, benchmark="slow")
    agent = setup.start_agent()
    spool = setup.root / "agent" / "spool"
    try:
        wait_for(setup.marker.exists, "the slow benchmark to start")
        setup.server.kill()
        wait_for(lambda: "result spooled in" in setup.agent_log(), "the result to be spooled")
        assert len(list(spool.glob("*.json"))) == 1
        wait_for(lambda: setup.agent_log().count("server unavailable") >= 2, "the agent to retry")
        setup.server.start()  # same port, same database
        wait_for(lambda: "delivered spooled" in setup.agent_log(), "the spooled result to be delivered")
        assert list(spool.glob("*.json")) == []
    finally:
        assert stop(agent) == 0
    log = setup.agent_log()
    assert "server reachable again" in log
    assert "set aside" not in log
    assert [j["id"] for j in setup.jobs("done")] == [job_id]
    assert setup.samples_at(revision, "work") == [SAMPLES_PER_INVOCATION]


def test_a_result_finished_after_another_agent_took_over_is_dropped(setup: Setup) -> None:
    revision = setup.project.tips[9]
    job_id = setup.enqueue(revision, benchmark="slow")
    frozen = setup.start_agent("--lease", "3", workdir="frozen")
    try:
        wait_for(setup.marker.exists, "the slow benchmark to start")
        frozen.send_signal(signal.SIGSTOP)  # no renewals: the lease runs out while its benchmark goes on
        time.sleep(3.5)
        other = setup.run_agent("--lease", "3", workdir="other")
        assert other.returncode == 0, other.stderr
        assert f"job {job_id} (routine, attempt 2/3) slow" in other.stderr
        assert ": ok in " in other.stderr
        frozen.send_signal(signal.SIGCONT)
        wait_for(lambda: f"job {job_id} " in setup.agent_log("frozen"), "the first agent to finish")
    finally:
        frozen.send_signal(signal.SIGCONT)
        assert stop(frozen) == 0
    log = setup.agent_log("frozen")
    assert "already done by another agent, result dropped" in log
    assert not (setup.root / "frozen" / "spool").exists()
    assert [j["id"] for j in setup.jobs("done")] == [job_id]
    assert setup.samples_at(revision, "work") == [SAMPLES_PER_INVOCATION]


def test_spooled_uploads_are_delivered_oldest_first_and_refused_ones_set_aside(setup: Setup) -> None:
    spool = Spool(setup.root / "agent" / "spool")
    now = datetime.now(UTC)

    def spooled(revision: str, samples: list[float]) -> SpooledUpload:
        result = {"name": "work", "unit": "ms", "samples": samples}
        text = json.dumps({"format": "perfsheriff", "version": 1, "results": [result]})
        upload = RunUpload("bench-project", revision, "box", files=(("result.json", text),), source="spooled")
        return SpooledUpload(f"test-{revision}-{len(samples)}", upload)

    delivered = spool.put(spooled(setup.project.tips[1], [1.0, 2.0]), now)
    unknown = spool.put(spooled("0" * 40, [1.0]), now)
    damaged = spool.put(spooled(setup.project.tips[2], [1.0]), now)
    damaged.write_text('{"version": 1, "idempotency_key": "k", "bo')
    last = spool.put(spooled(setup.project.tips[3], [3.0, 4.0, 5.0]), now)
    job_id = setup.enqueue(setup.project.tips[4])
    done = setup.run_agent()
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()[1:]
    assert lines[0].endswith(f"delivered spooled {delivered.name}: run 1, 1 series, 2 samples")
    assert f"set aside in {spool.rejected / unknown.name}" in lines[1]
    assert "(HTTP 404 not_found)" in lines[1]
    assert f"set aside in {spool.rejected / damaged.name}" in lines[2]
    assert "cannot read the spooled upload" in lines[2]
    assert lines[3].endswith(f"delivered spooled {last.name}: run 2, 1 series, 3 samples")
    assert f"job {job_id} " in lines[4]  # claimed only once the spool was empty
    assert spool.pending() == []
    assert sorted(p.name for p in spool.rejected.iterdir()) == sorted(
        [unknown.name, f"{unknown.name}.reason", damaged.name, f"{damaged.name}.reason"]
    )
    assert "no revision" in (spool.rejected / f"{unknown.name}.reason").read_text()


def test_the_client_speaks_the_contract(setup: Setup) -> None:
    with Client(setup.server.url, setup.agent_token) as client:
        assert client.health().status == "ok"
        assert client.claim("box", 30) is None
        job_id = setup.enqueue(setup.project.tips[1], reason="backfill", repetitions=4)
        job = client.claim("box", 30)
        assert job is not None
        assert (job.id, job.reason, job.attempt, job.repetitions) == (job_id, "backfill", 1, 4)
        assert (job.project, job.branch, job.revision) == ("bench-project", "main", setup.project.tips[1])
        assert job.repository == str(setup.project.repo.path.absolute())
        assert job.benchmark.config_dir == str(setup.project.config.parent)
        assert job.spec().repetitions == 4
        renewed = client.renew(job.id, job.lease, 120)
        assert renewed > job.lease_expires_at
        with pytest.raises(ApiError) as lost:
            client.renew(job.id, "not-the-lease", 30)
        assert (lost.value.status, lost.value.code) == (409, "conflict")
        assert client.release(job.id, job.lease) == "queued"
        again = client.claim("box", 30)
        assert again is not None
        assert client.fail(again.id, again.lease, "disk full") == "queued"
        with pytest.raises(ApiError) as foreign:
            client.claim("elsewhere", 30)
        assert (foreign.value.status, foreign.value.field) == (403, "machine")
    with Client(f"http://127.0.0.1:{free_port()}", None, timeout=2) as nobody, pytest.raises(ServerUnavailable):
        nobody.health()
