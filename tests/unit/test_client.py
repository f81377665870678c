"""The client's values: upload bodies, the upload idempotency key, reading result files (no server needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perfsheriff.client import Client, JobRef, RunUpload, benchmark_spec
from perfsheriff.errors import ConfigError, InputError
from perfsheriff.model import Configuration, RunStatus
from perfsheriff.upload_files import read_result_path, upload_key
from perfsheriff.wire import JobBenchmark

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
SHA = "0123456789abcdef0123456789abcdef01234567"


def key(**changes: object) -> str:
    fields: dict[str, object] = {
        "project": "demo",
        "branch": None,
        "revision": SHA,
        "machine": "ci-1",
        "configuration": Configuration.of({"python": "3.12", "backend": "llvm"}),
        "files": (("a.json", "{}"), ("b.json", "[]")),
    }
    return upload_key(**{**fields, **changes})  # type: ignore[arg-type]


def test_the_same_upload_has_the_same_key_whatever_the_order() -> None:
    reordered = {
        "configuration": Configuration.of({"backend": "llvm", "python": "3.12"}),
        "files": (("b.json", "[]"), ("a.json", "{}")),
    }
    assert key() == key(**reordered)
    assert key().startswith("upload-")
    assert len(key()) <= 200
    assert key().isprintable()


@pytest.mark.parametrize(
    "change",
    [
        {"project": "other"},
        {"branch": "main"},
        {"revision": SHA[::-1]},
        {"machine": "ci-2"},
        {"configuration": Configuration.of({"python": "3.13", "backend": "llvm"})},
        {"configuration": Configuration()},
        {"files": (("a.json", "{} "), ("b.json", "[]"))},
        {"files": (("c.json", "{}"), ("b.json", "[]"))},
        {"files": (("a.json", "{}"),)},
    ],
)
def test_any_change_of_target_or_content_is_another_key(change: dict[str, object]) -> None:
    assert key(**change) != key()


def test_fields_cannot_bleed_into_each_other() -> None:
    assert key(project="ab", branch="c") != key(project="a", branch="bc")
    assert key(files=(("a", "b\0c"),)) != key(files=(("a\0b", "c"),))


def upload(**changes: object) -> RunUpload:
    fields: dict[str, object] = {
        "project": "demo",
        "revision": SHA,
        "machine": "bench-1",
        "branch": "main",
        "configuration": Configuration.of({"threads": "4"}),
        "format": "bmf",
        "files": (("result.json", '{"parse": {}}'),),
        "source": "result.json",
        "environment": (("cpu_model", "Test"), ("python", "3.12.1")),
    }
    return RunUpload(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"tree": True, "files": (("x/new/sample.json", "{}"), ("y/new/sample.json", "{}")), "format": None},
        {"status": RunStatus.FAILED, "files": (), "error": "exit status 1", "log_tail": "boom", "job": JobRef(3, "L")},
        {"status": RunStatus.TIMEOUT, "files": (), "error": "timed out", "branch": None},
    ],
)
def test_a_body_rebuilds_the_same_upload(changes: dict[str, object]) -> None:
    original = upload(**changes)
    assert RunUpload.from_payload(original.payload()) == original


def test_the_body_uses_the_contracts_names() -> None:
    body = upload(job=JobRef(12, "lease-x")).payload()
    assert set(body) == {
        "project",
        "branch",
        "revision",
        "machine",
        "configuration",
        "format",
        "files",
        "tree",
        "source",
        "environment",
        "status",
        "error",
        "log_tail",
        "job",
    }
    assert body["configuration"] == {"threads": "4"}
    assert body["files"] == {"result.json": '{"parse": {}}'}
    assert body["status"] == "ok"
    assert body["job"] == {"id": 12, "lease": "lease-x"}
    assert JobRef(12, "lease-x").idempotency_key == "job-12-lease-x"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": RunStatus.INFRA, "files": ()}, "is not uploaded"),
        ({"files": ()}, "needs at least one result file"),
        ({"revision": " "}, "revision must not be empty"),
        ({"project": ""}, "project must not be empty"),
        ({"machine": ""}, "machine must not be empty"),
    ],
)
def test_an_impossible_upload_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        upload(**changes)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "is not a JSON object"),
        (
            {"status": "infra", "project": "p", "revision": "x", "machine": "m"},
            "'status': Input should be 'ok', 'failed' or 'timeout'",
        ),
        ({"status": "ok", "project": "p", "revision": 5}, "'revision': Input should be a valid string"),
        (
            {"status": "ok", "project": "p", "revision": "x", "machine": "m", "configuration": {"a": 1}},
            "'configuration.a': Input should be a valid string",
        ),
        (
            {"status": "ok", "project": "p", "revision": "x", "machine": "m", "tree": "maybe"},
            "'tree': Input should be a valid boolean",
        ),
        ({"status": "ok", "project": "p", "revision": "x", "machine": "m", "extra": 1}, "'extra': Extra inputs"),
    ],
)
def test_a_damaged_body_is_an_input_error(body: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        RunUpload.from_payload(body)


def test_a_jobs_benchmark_becomes_the_runners_spec_with_the_jobs_repetitions() -> None:
    bench = JobBenchmark(
        name="parse",
        command="python3 bench.py > {output}",
        format="bmf",
        setup=None,
        timeout=300.0,
        repetitions=1,
        env={"A": "1"},
        config_dir="/cfg",
    )
    spec = benchmark_spec(bench, 5)
    assert (spec.name, spec.format, spec.timeout, spec.repetitions, spec.env) == (
        "parse",
        "bmf",
        300.0,
        5,
        (("A", "1"),),
    )
    assert benchmark_spec(bench).repetitions == 1
    with pytest.raises(ConfigError, match="format"):
        benchmark_spec(bench.model_copy(update={"format": "no-such-format"}))


def test_a_file_is_read_as_text_under_its_name() -> None:
    read = read_result_path(FIXTURES / "bmf.json")
    assert read.source == str(FIXTURES / "bmf.json")
    assert not read.tree
    assert read.files == (("bmf.json", (FIXTURES / "bmf.json").read_text()),)


def test_a_directory_is_every_json_file_below_it_with_relative_names() -> None:
    root = FIXTURES / "criterion" / "target" / "criterion"
    read = read_result_path(root)
    names = [name for name, _ in read.files]
    assert read.tree
    assert names == sorted(names)
    assert names == sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json"))
    assert all("/" in name and not name.startswith("/") for name in names)


def test_missing_empty_and_binary_inputs_are_named_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file") as missing:
        read_result_path(tmp_path / "nope.json")
    assert missing.value.source == str(tmp_path / "nope.json")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a result")
    with pytest.raises(InputError, match=r"no \*\.json result files"):
        read_result_path(tmp_path / "empty")
    (tmp_path / "binary.json").write_bytes(b'{"a": "\xff"}')
    with pytest.raises(InputError, match="not UTF-8 text"):
        read_result_path(tmp_path / "binary.json")


def test_a_server_must_be_an_http_url() -> None:
    with pytest.raises(InputError, match="--server: expected an http:// or https:// URL"):
        Client("perf.example.org:8321", "token")
    with Client("http://127.0.0.1:9/prefix/", None) as client:  # constructing connects to nothing
        assert client.server == "http://127.0.0.1:9/prefix"


def test_the_agent_side_loads_no_server_module() -> None:
    """What import-linter cannot see (imports of imports): an agent machine needs no database driver."""
    probe = (
        "import sys, perfsheriff.agent, perfsheriff.client; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'alembic', 'psycopg', 'fastapi', 'uvicorn') or "
        "m.startswith(('perfsheriff.store', 'perfsheriff.service', 'perfsheriff.api', 'perfsheriff.web', "
        "'perfsheriff.server', 'perfsheriff.cli.')))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.split() == []
