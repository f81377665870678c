"""What ``perfsheriff init`` finds in a project's files (perfsheriff.discovery), and that what it writes loads."""

from __future__ import annotations

import shlex
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfsheriff import discovery, projectfile
from perfsheriff.formats import FORMAT_NAMES
from perfsheriff.projectfile.example import example_other_sections

PYTEST_BENCHMARK_TEST = "def test_sort(benchmark):\n    benchmark(sorted, [3, 2, 1])\n"
PLAIN_TEST = "def test_sort():\n    assert sorted([2, 1]) == [1, 2]\n"
PYPERF_SCRIPT = 'import pyperf\nrunner = pyperf.Runner()\nrunner.timeit("sort", "sorted([3, 2, 1])")\n'
GO_BENCH = 'package codec\n\nimport "testing"\n\nfunc BenchmarkEncode(b *testing.B) {\n}\n'
CARGO = """\
[package]
name = "fastparse"
version = "0.1.0"

[dev-dependencies]
criterion = "0.5"

[[bench]]
name = "parse"
harness = false

[[bench]]
name = "render"
harness = false
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def loaded(found: discovery.Discovery, root: Path) -> projectfile.ProjectFile:
    text = discovery.as_config(found, rest=example_other_sections())
    return projectfile.loads(text, source="perfsheriff.toml", config_dir=root)


def by_tool(found: discovery.Discovery) -> dict[str, list[discovery.Proposal]]:
    tools: dict[str, list[discovery.Proposal]] = {}
    for proposal in found.proposals:
        tools.setdefault(proposal.tool, []).append(proposal)
    return tools


def test_each_tool_is_found_with_the_command_and_format_that_give_perfsheriff_its_results(tmp_path: Path) -> None:
    root = write(
        tmp_path / "proj",
        {
            "pyproject.toml": '[project]\nname = "proj"\n',
            "asv.conf.json": '{\n  // asv allows comments\n  "version": 1,\n  "results_dir": ".asv/results"\n}\n',
            "tests/test_speed.py": PYTEST_BENCHMARK_TEST,
            "tests/test_plain.py": PLAIN_TEST,
            "bench/bench_sort.py": PYPERF_SCRIPT,
            "go/go.mod": "module example.com/codec\n",
            "go/codec/codec_test.go": GO_BENCH,
            "rust/Cargo.toml": CARGO,
            "cpp/bench.cc": "#include <benchmark/benchmark.h>\nstatic void BM_x(benchmark::State& s) {}\n",
            "scripts/compare.sh": "#!/bin/sh\nhyperfine --export-json \"$PERFSHERIFF_OUTPUT\" 'sleep 0.1'\n",
        },
    )
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/trunk\n")
    found = discovery.discover(root)
    tools = by_tool(found)

    (asv,) = tools["asv"]
    assert (asv.format, asv.setup) == ("asv", "asv machine --yes")
    assert "--record-samples" in asv.command
    assert ".asv/results/*/" in asv.command

    (pytest_benchmark,) = tools["pytest-benchmark"]
    assert pytest_benchmark.evidence == ("tests/test_speed.py",)  # the plain test is not a benchmark
    assert "--benchmark-json={output}" in pytest_benchmark.command
    assert pytest_benchmark.setup == "python3 -m pip install --quiet --editable ."

    (pyperf,) = tools["pyperf"]
    assert (pyperf.name, pyperf.command) == ("bench_sort", "python3 bench/bench_sort.py --quiet --output {output}")

    (go,) = tools["go test -bench"]
    assert go.command == "cd go && go test -run '^$' -bench . -benchmem -count 5 ./codec"  # inside its module

    criterion = tools["criterion"]
    assert [c.name for c in criterion] == ["parse", "render"]
    assert criterion[0].command.startswith("cd rust && cargo bench --bench parse -- --noplot && cp -R ")

    (google,) = tools["Google Benchmark"]
    (hyperfine,) = tools["hyperfine"]
    assert not google.ready
    assert "which binary" in google.todo
    assert hyperfine.ready  # the script already writes to $PERFSHERIFF_OUTPUT

    config = loaded(found, root)
    assert config.project.branches == ("trunk",)
    assert config.project.name == "proj"
    names = [b.name for b in config.benchmarks]
    assert names == [p.name for p in found.proposals if p.ready]
    assert "google-benchmark" not in names  # written commented out, for a person to finish
    assert {b.name: b.format for b in config.benchmarks}["pytest-benchmark"] == "pytest-benchmark"


def test_a_hyperfine_script_that_cannot_write_the_output_is_proposed_commented_out(tmp_path: Path) -> None:
    root = write(tmp_path, {"bench.sh": "hyperfine --export-json out.json 'sleep 0.1'\n"})
    (proposal,) = discovery.discover(root).proposals
    assert not proposal.ready
    assert "PERFSHERIFF_OUTPUT" in proposal.todo
    text = discovery.as_config(discovery.discover(root), rest="")
    assert '# command = "sh bench.sh"' in text


def test_dependency_build_and_vcs_folders_are_not_searched_and_links_not_followed(tmp_path: Path) -> None:
    root = write(
        tmp_path / "proj",
        {
            ".venv/lib/site-packages/pkg/test_vendored.py": PYTEST_BENCHMARK_TEST,
            "node_modules/x/test_x.py": PYTEST_BENCHMARK_TEST,
            "build/lib/test_built.py": PYTEST_BENCHMARK_TEST,
            "src/lib.py": "x = 1\n",
        },
    )
    outside = write(tmp_path / "outside", {"test_elsewhere.py": PYTEST_BENCHMARK_TEST})
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / "test_link.py").symlink_to(outside / "test_elsewhere.py")
    found = discovery.discover(root)
    assert found.proposals == ()
    assert found.scanned == 1


def test_unreadable_configuration_files_become_notes_not_errors(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {"asv.conf.json": '{"version": 1,', "Cargo.toml": "[[bench]\n", "tests/test_speed.py": PYTEST_BENCHMARK_TEST},
    )
    found = discovery.discover(root)
    assert [p.tool for p in found.proposals] == ["pytest-benchmark"]
    assert len(found.notes) == 2
    assert found.notes[0].startswith("asv.conf.json: not read")
    assert found.notes[1].startswith("Cargo.toml: not read")


def test_two_benchmarks_of_one_name_are_told_apart(tmp_path: Path) -> None:
    root = write(tmp_path, {"a/bench.py": PYPERF_SCRIPT, "b/bench.py": PYPERF_SCRIPT})
    found = discovery.discover(root)
    assert [p.name for p in found.proposals] == ["bench", "bench-2"]
    assert [b.name for b in loaded(found, root).benchmarks] == ["bench", "bench-2"]


def test_a_project_without_benchmarks_proposes_nothing(tmp_path: Path) -> None:
    found = discovery.discover(write(tmp_path, {"README.md": "hello\n", "tests/test_x.py": PLAIN_TEST}))
    assert (found.proposals, found.notes, found.branch) == ((), (), None)


# Names people give folders, branches and files: spaces, quotes, shell metacharacters, non-ASCII.
awkward = st.text(
    alphabet=st.sampled_from([*string.ascii_letters, *string.digits, " ", "'", '"', "$", "`", ";", "é", "-", "_"]),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() not in {"", ".", ".."} and not s.startswith((".", "-")))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(folder=awkward, script=awkward, branch=awkward)
def test_whatever_the_names_the_file_loads_and_the_commands_quote_them(
    tmp_path_factory: object, folder: str, script: str, branch: str
) -> None:
    root = Path(tmp_path_factory.mktemp("p")) / folder  # type: ignore[attr-defined]
    write(root, {f"{script}/bench_{script}.py": PYPERF_SCRIPT, f"tests/test_{script}.py": PYTEST_BENCHMARK_TEST})
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text(f"ref: refs/heads/{branch}\n")
    found = discovery.discover(root)
    config = loaded(found, root)
    assert config.project.branches == (branch.rstrip(),)  # .git/HEAD is one line: its end is whitespace
    commands = {b.name: b.command for b in config.benchmarks}
    pyperf = next(p for p in found.proposals if p.tool == "pyperf")
    assert shlex.split(commands[pyperf.name])[1] == f"{script}/bench_{script}.py"  # one word, as written
    assert shlex.split(commands["pytest-benchmark"])[3] == f"tests/test_{script}.py"


# One usual project layout per format perfsheriff reads: (files, the proposal's format, whether it is ready to run).
LAYOUTS = {
    "pyperf": ({"benchmarks/bm_parse.py": PYPERF_SCRIPT}, True),
    "pytest-benchmark": ({"tests/benchmarks/test_parse.py": PYTEST_BENCHMARK_TEST}, True),
    "asv": ({"asv.conf.json": '{"version": 1, "benchmark_dir": "benchmarks"}', "benchmarks/bench.py": "x = 1\n"}, True),
    "google-benchmark": ({"bench/parse_bench.cpp": '#include "benchmark/benchmark.h"\n'}, False),
    "hyperfine": ({"scripts/bench.sh": 'hyperfine --export-json "$PERFSHERIFF_OUTPUT" ./app\n'}, True),
    "criterion": ({"Cargo.toml": CARGO}, True),
    "go": ({"go.mod": "module example.com/codec\n", "codec/codec_test.go": GO_BENCH}, True),
    "bmf": ({"bench/run.py": 'import json\nprint(json.dumps({"parse": {"latency": {"value": 1.0}}}))\n'}, True),
    "perfherder": ({"tools/perf.js": 'console.log("PERFHERDER_DATA: " + JSON.stringify(data))\n'}, True),
    "perfsheriff": ({"bench.sh": 'echo \'{"format": "perfsheriff", "version": 1, "results": []}\'\n'}, True),
}


@pytest.mark.parametrize("fmt", sorted(LAYOUTS))
def test_each_formats_usual_layout_is_recognised(tmp_path: Path, fmt: str) -> None:
    files, ready = LAYOUTS[fmt]
    found = discovery.discover(write(tmp_path / "project", files))
    assert [(p.format, p.ready) for p in found.proposals][:1] == [(fmt, ready)]
    config = loaded(found, tmp_path / "project")
    assert [b.format for b in config.benchmarks] == [p.format for p in found.proposals if p.ready]


def test_the_layouts_cover_every_format_perfsheriff_reads() -> None:
    assert set(LAYOUTS) == set(FORMAT_NAMES)
