"""``perfsheriff upload`` end to end: a real CLI process against a real server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from support.benchrepo import BenchProject
from support.liveserver import LiveServer, free_port

CLI = "from perfsheriff.cli.main import main; main()"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"


def upload(
    *args: str, server: str, token: str, cwd: Path, project: str | None = "bench-project"
) -> subprocess.CompletedProcess[str]:
    """Run the real command; server and token come from the environment, as in a CI job."""
    env = {**os.environ, "PERFSHERIFF_SERVER": server, "PERFSHERIFF_TOKEN": token}
    command = [sys.executable, "-c", CLI, "upload", *args, "--machine", "box"]
    command += ["--project", project] if project else []
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def results_file(path: Path, samples: list[float]) -> Path:
    result = {"name": "work", "unit": "ms", "samples": samples}
    path.write_text(json.dumps({"format": "perfsheriff", "version": 1, "results": [result]}))
    return path


def stored_samples(server: LiveServer) -> dict[str, list[int]]:
    """Per benchmark, the sample count of every stored point."""
    with server.client() as http:
        found = {}
        for row in http.get("/api/v1/series", params={"project": "bench-project"}).json()["series"]:
            found[row["benchmark"]] = http.get(f"/api/v1/series/{row['id']}").json()["points"]["n"]
    return found


def test_files_are_uploaded_once_however_often_the_step_runs(
    server: LiveServer, project: BenchProject, tmp_path: Path
) -> None:
    token = server.token("agent", machine="box", machine_class="test-class")
    own = results_file(tmp_path / "own.json", [10.0, 11.0, 12.0])
    criterion = FIXTURES / "criterion" / "target" / "criterion"
    args = (str(own), str(criterion), "--revision", project.tips[2], "--config", "python=3.12")
    first = upload(*args, server=server.url, token=token, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{own}: run ")
    assert lines[0].endswith("(perfsheriff): 1 series, 3 samples")
    assert lines[1].startswith(f"{criterion}: run ")
    assert "(criterion)" in lines[1]
    stored = stored_samples(server)
    again = upload(*args, server=server.url, token=token, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    run_ids = [line.split(": run ")[1].split(" ")[0] for line in lines]
    assert again.stdout.splitlines() == [
        f"{own}: already uploaded (run {run_ids[0]})",
        f"{criterion}: already uploaded (run {run_ids[1]})",
    ]
    assert stored_samples(server) == stored
    assert stored["work"] == [3]
    changed = upload(*args[:-2], "--config", "python=3.13", server=server.url, token=token, cwd=tmp_path)
    assert changed.returncode == 0, changed.stderr
    assert "already uploaded" not in changed.stdout  # another configuration is another run


def test_each_bad_file_gets_one_clear_line_and_the_others_still_go(
    server: LiveServer, project: BenchProject, tmp_path: Path
) -> None:
    token = server.token("agent", machine="box", machine_class="test-class")
    good = results_file(tmp_path / "good.json", [1.0, 2.0])
    (tmp_path / "bad.json").write_text('{"format": "perfsheriff", "version": 1, "results": [{"name": "x"}]}')
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
    files = ["bad.json", "missing.json", "binary.json", str(good)]
    done = upload(*files, "--revision", project.tips[1], server=server.url, token=token, cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = done.stderr.splitlines()
    assert len(errors) == 3
    assert errors[0].startswith("error: bad.json, results[0]: expected a key 'samples'")
    assert "(HTTP 422 invalid)" in errors[0]
    assert errors[1] == "error: missing.json: no such file"
    assert errors[2].startswith("error: binary.json: not UTF-8 text")
    assert done.stdout.startswith(f"{good}: run ")
    assert stored_samples(server) == {"work": [2]}


def test_a_revision_the_server_does_not_know_is_an_error(server: LiveServer, tmp_path: Path) -> None:
    token = server.token("agent", machine="box", machine_class="test-class")
    good = results_file(tmp_path / "good.json", [1.0])
    done = upload(str(good), "--revision", "0" * 40, server=server.url, token=token, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {good}: ")
    assert "(HTTP 404 not_found)" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_refused_token_stops_at_the_first_file(server: LiveServer, project: BenchProject, tmp_path: Path) -> None:
    good = results_file(tmp_path / "good.json", [1.0])
    done = upload(str(good), str(good), "--revision", project.tips[0], server=server.url, token="psf_x", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("error:") == 1
    assert "(HTTP 401 unauthorized)" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_server_is_retried_then_reported(tmp_path: Path) -> None:
    good = results_file(tmp_path / "good.json", [1.0])
    nobody = f"http://127.0.0.1:{free_port()}"
    done = upload(str(good), "--revision", "a" * 40, "--retries", "2", server=nobody, token="t", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("trying again in") == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot reach {nobody}")
    assert last.endswith(f"1 file(s) not uploaded, from {good} on")
    assert "Traceback" not in done.stderr


def test_the_project_defaults_to_the_servers_only_one(
    server: LiveServer, project: BenchProject, tmp_path: Path
) -> None:
    token = server.token("agent", machine="box", machine_class="test-class")
    good = results_file(tmp_path / "good.json", [1.0, 2.0])
    done = upload(str(good), "--revision", project.tips[0], server=server.url, token=token, cwd=tmp_path, project=None)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{good}: run ")
    named = upload(str(good), "--revision", project.tips[0], server=server.url, token=token, cwd=tmp_path)
    assert named.stdout.startswith(f"{good}: already uploaded")  # the same key, whether named or found
    unknown = upload(
        str(good), "--revision", project.tips[0], server=server.url, token=token, cwd=tmp_path, project="other"
    )
    assert unknown.returncode == 1
    assert "(HTTP 404 not_found)" in unknown.stderr


def test_the_token_can_come_from_a_file_only_its_owner_reads(
    server: LiveServer, project: BenchProject, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(server.token("agent", machine="box", machine_class="test-class") + "\n")
    token_file.chmod(0o600)
    own = results_file(tmp_path / "own.json", [1.0, 2.0])
    env = {key: value for key, value in os.environ.items() if key != "PERFSHERIFF_TOKEN"}
    command = [sys.executable, "-c", CLI, "upload", str(own), "--server", server.url, "--token-file", str(token_file)]
    command += ["--revision", project.tips[1], "--machine", "box", "--project", "bench-project"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("(perfsheriff): 1 series, 2 samples\n")
    token_file.chmod(0o640)
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"error: {token_file}: other users may read this token file (mode 640): chmod 600 it"
    )


def test_an_oversized_or_unsafe_result_is_refused_before_it_is_read(
    server: LiveServer, project: BenchProject, tmp_path: Path
) -> None:
    """A 1 GiB file (sparse: it takes no disk), a folder linking to /proc/self/pagemap, a FIFO: one line each."""
    token = server.token("agent", machine="box", machine_class="test-class")
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.truncate(1 << 30)
    linked = tmp_path / "criterion"
    shutil.copytree(FIXTURES / "criterion" / "target" / "criterion", linked)
    (linked / "pagemap.json").symlink_to("/proc/self/pagemap")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    good = results_file(tmp_path / "good.json", [1.0, 2.0])
    files = [str(huge), str(linked), str(fifo), str(good)]
    done = upload(*files, "--revision", project.tips[1], server=server.url, token=token, cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    too_big, link, special = done.stderr.splitlines()
    assert too_big == (
        f"error: {huge}: 1,073,741,824 bytes is more than the limit of 67,108,864 bytes for a result file (--max-bytes)"
    )
    assert link.startswith(f"error: {linked / 'pagemap.json'}: a symbolic link out of the folder (to /proc/")
    assert link.endswith("/pagemap) is not read")
    assert special == f"error: {fifo}: not a regular file (a FIFO, a device or a socket is not read)"
    assert done.stdout.startswith(f"{good}: run ")
    smaller = upload(
        str(good), "--max-bytes", "10", "--revision", project.tips[2], server=server.url, token=token, cwd=tmp_path
    )
    assert smaller.returncode == 1
    assert "more than the limit of 10 bytes for a result file (--max-bytes)" in smaller.stderr
