"""perfsheriff.toml: the documented examples load, defaults hold, and every mistake is named with its key path."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from perfsheriff import projectfile
from perfsheriff.errors import ConfigError, NotFoundError
from perfsheriff.model import Configuration
from perfsheriff.projectfile import (
    DEFAULT_TIMEOUT_S,
    BenchmarkSpec,
    Budgets,
    ProjectFile,
    ScheduleMode,
    example_config,
    is_url,
    load,
    loads,
    parse_duration,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

MINIMAL = """\
[project]
name = "demo"
repository = "/path/to/checkout"   # or a URL
branch = "main"

[[benchmarks]]
name = "parse"
command = "python3 {config_dir}/bench.py {worktree} > {output}"   # run by the shell
format = "bmf"
timeout = "300s"
"""


def parse(text: str, config_dir: Path = Path("/configs")) -> ProjectFile:
    return loads(text, source="perfsheriff.toml", config_dir=config_dir)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return str(caught.value)


def test_the_minimal_file_works_as_written(tmp_path: Path) -> None:
    path = tmp_path / "perfsheriff.toml"
    path.write_text(MINIMAL)
    config = load(path)
    assert (config.source, config.config_dir) == (str(path), tmp_path)
    assert (config.project.name, config.project.repository, config.project.branches) == (
        "demo",
        "/path/to/checkout",
        ("main",),
    )
    (bench,) = config.benchmarks
    assert bench == BenchmarkSpec(
        name="parse", command="python3 {config_dir}/bench.py {worktree} > {output}", format="bmf", timeout=300.0
    )
    assert config.benchmark("parse") is bench
    assert (config.machines, config.budgets, config.schedule.mode) == ((), Budgets(), ScheduleMode.PUSH)
    assert config.thresholds.min_relative_change is None


def test_defaults_of_a_benchmark() -> None:
    bench = parse(MINIMAL.replace('format = "bmf"\ntimeout = "300s"\n', "")).benchmarks[0]
    assert (bench.format, bench.setup, bench.timeout, bench.repetitions) == (None, None, DEFAULT_TIMEOUT_S, 1)
    assert (bench.env, bench.weight, bench.tags) == ((), 1.0, ())
    assert DEFAULT_TIMEOUT_S == 30 * 60


def test_the_example_for_init_loads_and_uses_every_section(tmp_path: Path) -> None:
    config = parse(example_config(), tmp_path)
    assert config.project.repository == str(tmp_path)
    assert config.benchmarks[0].environment == {"PYTHONHASHSEED": "0"}
    assert config.machines[0].config == Configuration.of({"python": "3.12"})
    assert config.machines[0].machine_class == "linux-x86_64"
    assert config.budgets == Budgets()
    for line in example_config().splitlines():
        assert len(line) <= 100, "the example is read in terminals and editors"


def test_every_field_is_documented() -> None:
    text = DOCS.read_text()
    classes = [
        projectfile.ProjectFile,
        projectfile.Project,
        projectfile.BenchmarkSpec,
        projectfile.MachineSpec,
        projectfile.Thresholds,
        projectfile.Budgets,
        projectfile.Schedule,
    ]
    for cls in classes:
        for field in dataclasses.fields(cls):
            assert f"`{field.name}`" in text, f"{cls.__name__}.{field.name} is missing from docs/configuration.md"
    for mode in ScheduleMode:
        assert f'`"{mode.value}"`' in text
    for key in ("branch", "class", "{worktree}", "{config_dir}", "{output}", "PERFSHERIFF_OUTPUT"):
        assert f"`{key}`" in text


def test_every_example_in_the_docs_loads(tmp_path: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOCS.read_text(), re.DOTALL)
    assert len(blocks) >= 2
    for block in blocks:
        parse(block, tmp_path)


def test_relative_repository_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    config = parse(MINIMAL.replace("/path/to/checkout", "../checkout"), tmp_path / "conf")
    assert config.project.repository == str(tmp_path / "checkout")
    assert not config.project.repository_is_url


@pytest.mark.parametrize(
    "url", ["https://github.com/python/mypy.git", "ssh://git@host/repo", "git@github.com:org/repo.git", "file:///srv/r"]
)
def test_repository_urls_are_kept(url: str) -> None:
    project = parse(MINIMAL.replace("/path/to/checkout", url)).project
    assert project.repository == url
    assert project.repository_is_url
    assert is_url(url)


def test_release_tags_are_a_regular_expression() -> None:
    assert re.search(parse(MINIMAL).project.release_tags, "ghc-9.8.1-release")
    assert not re.search(parse(MINIMAL).project.release_tags, "nightly")
    text = MINIMAL.replace('branch = "main"', 'branch = "main"\nrelease_tags = "^release-"')
    assert parse(text).project.release_tags == "^release-"
    with pytest.raises(ConfigError, match=r"project.release_tags: not a regular expression"):
        parse(MINIMAL.replace('branch = "main"', 'branch = "main"\nrelease_tags = "v[0-9"'))


def test_several_branches() -> None:
    text = MINIMAL.replace('branch = "main"', 'branches = ["main", "ghc-9.8"]')
    assert parse(text).project.branches == ("main", "ghc-9.8")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("300s", 300),
        ("5m", 300),
        ("1h30m", 5400),
        ("1h 30m 5s", 5405),
        ("1.5h", 5400),
        ("2H", 7200),
        (90, 90),
        (0.5, 0.5),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "", "300", "5 minutes", "5m3h", "-5s", True, [1]])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ConfigError, match=r'expected a duration like "300s" or "5m", got'):
        parse_duration(value)


@pytest.mark.parametrize("value", [0, -1, "0s"])
def test_durations_must_be_positive(value: object) -> None:
    with pytest.raises(ConfigError, match="greater than zero"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            MINIMAL.replace('"300s"', '"soon"'),
            'benchmarks[0].timeout: expected a duration like "300s" or "5m", got "soon"',
        ),
        (MINIMAL + "repetitions = 0", "benchmarks[0].repetitions: expected an integer >= 1, got 0"),
        (MINIMAL + 'repetitions = "3"', 'benchmarks[0].repetitions: expected an integer, got "3"'),
        (MINIMAL + "repetitions = true", "benchmarks[0].repetitions: expected an integer, got true"),
        (MINIMAL + "weight = 0", "benchmarks[0].weight: expected a number > 0, got 0"),
        (MINIMAL + 'tags = ["micro", 3]', "benchmarks[0].tags[1]: expected a string, got 3"),
        (MINIMAL + 'tags = ["micro", "real world"]', 'benchmarks[0].tags[1]: a tag is ASCII letters, digits, "-",'),
        (MINIMAL + "env = { A = [1] }", "benchmarks[0].env.A: expected a string, got an array"),
        (MINIMAL + 'setup = "  "', "benchmarks[0].setup: must not be empty (leave it out instead)"),
        (MINIMAL + 'timout = "5m"', "benchmarks[0].timout: unknown key; expected one of name, command, format,"),
        (MINIMAL.replace('"bmf"', '"xml"'), "benchmarks[0].format: expected one of perfsheriff, pyperf,"),
        (MINIMAL.replace('command = "python3', 'cmd = "python3'), "benchmarks[0].cmd: unknown key"),
        (MINIMAL + '[[benchmarks]]\nname = "x"', "benchmarks[1].command: missing; expected a string"),
        (MINIMAL + '[[benchmarks]]\nname = "parse"\ncommand = "x"', 'benchmarks[1].name: "parse" is already used'),
        (MINIMAL.replace('name = "demo"\n', ""), "project.name: missing; expected a string"),
        (MINIMAL.replace('branch = "main"', ""), 'project: set exactly one of branch = "main" or branches'),
        (MINIMAL.replace('branch = "main"', 'branch = "main"\nbranches = ["x"]'), "project: set exactly one of"),
        (MINIMAL.replace('branch = "main"', "branches = []"), "project.branches: must name at least one branch"),
        (MINIMAL.replace('branch = "main"', 'branches = ["a", "a"]'), "project.branches: a branch is listed twice"),
        (MINIMAL.replace("[project]", "[projet]"), "projet: unknown key; expected one of project, benchmarks,"),
        ('[[benchmarks]]\nname = "a"\ncommand = "b"', "perfsheriff.toml, project: missing; expected a [project]"),
        ("project = 3", "perfsheriff.toml, project: expected a [project] table, got 3"),
        (MINIMAL + '[[machines]]\nname = "m"\nconfig = { threads = true }', "machines[0].config.threads: expected a"),
        (MINIMAL + '[[machines]]\nname = "m"\n[[machines]]\nname = "m"', 'machines[1].name: "m" is already used'),
        (MINIMAL + '[[machines]]\nclass = "c"', "machines[0].name: missing"),
        (MINIMAL + "[thresholds]\nmin_confidence = 1.5", "thresholds.min_confidence: expected a number from 0 to 1"),
        (MINIMAL + "[thresholds]\nmin_probability = -0.1", "thresholds.min_probability: expected a number from 0"),
        (MINIMAL + "[thresholds]\nlearn_from_triage = 1", "thresholds.learn_from_triage: expected true or false"),
        (
            MINIMAL + "[thresholds.series.3fa2]\nlearn_from_triage = false",
            "thresholds.series.3fa2.learn_from_triage: unknown key",
        ),
        (MINIMAL + "[budgets]\ninfra_retries = -1", "budgets.infra_retries: expected an integer >= 0"),
        (MINIMAL + "[budgets]\nruns_per_alert = 0", "budgets.runs_per_alert: expected an integer >= 1"),
        (
            MINIMAL + '[schedule]\nmode = "hourly"',
            "schedule.mode: expected one of push, commit, every-n-pushes, nightly",
        ),
        (MINIMAL + '[schedule]\nmode = "every-n-pushes"', 'schedule.every: mode "every-n-pushes" needs every >= 1'),
        (MINIMAL + "[schedule]\nevery = 3", 'schedule.every: only meaningful with mode = "every-n-pushes"'),
    ],
)
def test_mistakes_name_the_file_and_key_path(text: str, message: str) -> None:
    error = error_of(text)
    assert error.startswith("perfsheriff.toml, ")
    assert message in error


def test_learning_from_triage_is_on_unless_switched_off() -> None:
    assert parse(MINIMAL).thresholds.learn_from_triage is True
    assert parse(MINIMAL + "[thresholds]\nlearn_from_triage = false").thresholds.learn_from_triage is False


def test_the_schedule_modes() -> None:
    config = parse(MINIMAL + '[schedule]\nmode = "every-n-pushes"\nevery = 5')
    assert (config.schedule.mode, config.schedule.every) == (ScheduleMode.EVERY_N_PUSHES, 5)
    assert parse(MINIMAL + '[schedule]\nmode = "nightly"').schedule.mode is ScheduleMode.NIGHTLY


def test_numbers_in_env_and_config_tables_are_kept_as_written() -> None:
    text = MINIMAL + "env = { THREADS = 4, SCALE = 1.5 }\n[[machines]]\nname = 'm'\nconfig = { threads = 8 }"
    config = parse(text)
    assert config.benchmarks[0].env == (("SCALE", "1.5"), ("THREADS", "4"))
    assert config.machines[0].config.as_dict() == {"threads": "8"}
    assert config.machines[0].machine_class == "m"


def test_invalid_toml_names_the_line() -> None:
    error = error_of(MINIMAL.replace('branch = "main"', "branch = main"))
    assert error.startswith("perfsheriff.toml, line 4, column 10: invalid TOML: ")
    assert error_of('[project]\nname = "a"\nbranch = = 1\n').startswith(
        "perfsheriff.toml, line 3, column 10: invalid TOML"
    )
    assert error_of('[project]\nname = "demo').startswith("perfsheriff.toml, end of file: invalid TOML: unterminated")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read the file: No such file"):
        load(tmp_path / "missing.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[project]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load(latin)


def test_specs_built_in_code_are_validated_too() -> None:
    with pytest.raises(ConfigError, match="repetitions: expected an integer >= 1"):
        BenchmarkSpec(name="b", command="true", repetitions=0)
    with pytest.raises(ConfigError, match=r"env\.A=B: not a valid variable name"):
        BenchmarkSpec(name="b", command="true", env=(("A=B", "1"),))


def test_an_unknown_benchmark_name_is_not_found() -> None:
    with pytest.raises(NotFoundError, match=r"no benchmark named 'nope' in perfsheriff\.toml"):
        parse(MINIMAL).benchmark("nope")
