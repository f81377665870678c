"""Finding the benchmarks a project already has, for ``perfsheriff init``.

Teams rarely start from nothing: they have an ``asv.conf.json``, tests using
pytest-benchmark's ``benchmark`` fixture, pyperf scripts, ``go test -bench``
functions, Criterion benches declared in ``Cargo.toml``, Google Benchmark
sources or scripts calling hyperfine. :func:`discover` reads the project's files
(no command runs, nothing is imported or built) and proposes one
``[[benchmarks]]`` entry per thing it found, with the command, format and
timeout that tool needs to write what perfsheriff reads. What it cannot decide
from the files alone (where a C++ benchmark binary is built, whether a
hyperfine script can write its JSON to ``$PERFSHERIFF_OUTPUT``) it says, and
proposes the entry commented out for a person to finish.

The scan skips version-control, virtual-environment, build and dependency
folders, reads at most :data:`MAX_FILES` files of at most :data:`MAX_BYTES` each,
and never follows symbolic links, so a large monorepo costs seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

MAX_FILES = 20_000
MAX_BYTES = 1 << 20
SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".venv", "venv", "env", ".tox", ".nox", "node_modules", "target", "build", "dist",
    "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".asv", "vendor", "third_party", ".perfsheriff",
})  # fmt: skip

_PYTEST_BENCHMARK = re.compile(r"^\s*(?:async\s+)?def\s+test\w*\s*\([^)]*\bbenchmark\b", re.MULTILINE)
_PYPERF_RUNNER = re.compile(r"\bpyperf\.Runner\s*\(|^\s*from\s+pyperf\s+import\s+[^\n]*\bRunner\b", re.MULTILINE)
_GO_BENCHMARK = re.compile(r"^func\s+Benchmark\w*\s*\(\s*\w+\s+\*testing\.B\s*\)", re.MULTILINE)
_GOOGLE_BENCHMARK = re.compile(r"#\s*include\s*[<\"]benchmark/benchmark\.h[>\"]")
_HYPERFINE = re.compile(r"^\s*(?:[^#\n]*\s)?hyperfine\s", re.MULTILINE)
# Scripts that write a format perfsheriff reads, recognised by what they print: Bencher Metric Format's measures,
# Perfherder's log marker, perfsheriff's own format name.
_EMITTED = (
    ("bmf", "Bencher Metric Format", re.compile(r"""["'](?:latency|throughput)["']\s*:\s*\{\s*["']value["']""")),
    ("perfherder", "Perfherder data", re.compile(r"PERFHERDER_DATA")),
    ("perfsheriff", "perfsheriff's format", re.compile(r"""["']format["']\s*:\s*["']perfsheriff["']""")),
)
_INTERPRETERS = {".py": "python3", ".sh": "sh", ".bash": "bash", ".js": "node", ".mjs": "node", ".rb": "ruby"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_JSON_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Proposal:
    """One ``[[benchmarks]]`` entry proposed from what was found.

    ``ready`` is False when a person must finish it: it is then written commented out,
    with ``todo`` saying what is missing. ``evidence`` names the files it was found in.
    """

    name: str
    tool: str
    command: str
    format: str
    timeout: str
    evidence: tuple[str, ...]
    setup: str | None = None
    ready: bool = True
    todo: str = ""


@dataclass(frozen=True, slots=True)
class Discovery:
    """What :func:`discover` found in a project, and what it could not decide."""

    root: Path
    proposals: tuple[Proposal, ...]
    notes: tuple[str, ...] = ()
    branch: str | None = None
    scanned: int = 0
    truncated: bool = False

    @property
    def ready(self) -> tuple[Proposal, ...]:
        return tuple(p for p in self.proposals if p.ready)


@dataclass
class _Scan:
    root: Path
    files: list[Path] = field(default_factory=list)
    truncated: bool = False

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def named(self, *suffixes: str) -> Iterator[Path]:
        return (p for p in self.files if p.name.endswith(suffixes))


def discover(root: Path) -> Discovery:
    """Propose ``[[benchmarks]]`` entries for the benchmarks found under ``root`` (a project's checkout)."""
    scan = _Scan(root)
    scan.files, scan.truncated = _walk(root)
    notes: list[str] = []
    proposals = [
        *_asv(scan, notes),
        *_pytest_benchmark(scan),
        *_pyperf(scan),
        *_go(scan),
        *_criterion(scan, notes),
        *_google_benchmark(scan),
        *_hyperfine(scan),
        *_emitting_scripts(scan),
    ]
    if scan.truncated:
        notes.append(f"stopped after {MAX_FILES} files: benchmarks in the rest of the tree were not looked for")
    return Discovery(
        root, tuple(_unique_names(proposals)), tuple(notes), _branch(root), len(scan.files), scan.truncated
    )


def _walk(root: Path) -> tuple[list[Path], bool]:
    found: list[Path] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(names):
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file():
                continue
            if len(found) >= MAX_FILES:
                return found, True
            found.append(path)
    return found, False


def _text(path: Path) -> str:
    """The file's text, or "" when it is too large or not text (such files hold no benchmark we can read)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return ""
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _branch(root: Path) -> str | None:
    """The checked-out branch, read from ``.git/HEAD`` (no git process): ``ref: refs/heads/main``."""
    head = root / ".git" / "HEAD"
    text = _text(head).strip() if head.is_file() else ""
    return text.removeprefix("ref: refs/heads/") if text.startswith("ref: refs/heads/") else None


def _install_step(scan: _Scan) -> str | None:
    """How a Python project is installed into the environment that measures it, if it is one."""
    if (scan.root / "pyproject.toml").is_file() or (scan.root / "setup.py").is_file():
        return "python3 -m pip install --quiet --editable ."
    return None


def _asv(scan: _Scan, notes: list[str]) -> Iterator[Proposal]:
    for conf in scan.named("asv.conf.json"):
        try:
            settings = json.loads(_JSON_COMMENT.sub("", _text(conf)))  # asv allows // comments
        except json.JSONDecodeError as err:
            notes.append(f"{scan.relative(conf)}: not read ({err.msg} at line {err.lineno}); no asv entry proposed")
            continue
        here = conf.parent.relative_to(scan.root).as_posix()
        results = str(settings.get("results_dir", "results")) if isinstance(settings, dict) else "results"
        prefix = "" if here == "." else f"cd {shlex.quote(here)} && "
        # asv names a result file <first 8 characters of the commit>-<environment>.json in a folder per machine.
        command = (
            f'{prefix}asv run --python=same --record-samples --set-commit-hash "$(git rev-parse HEAD)" '
            f'&& cp "$(ls -t {shlex.quote(results)}/*/"$(git rev-parse --short=8 HEAD)"-*.json | head -n 1)" {{output}}'
        )
        yield Proposal(
            name="asv" if here == "." else f"asv-{here}",
            tool="asv",
            command=command,
            format="asv",
            timeout="2h",
            evidence=(scan.relative(conf),),
            setup=f"{prefix}asv machine --yes",
        )


def _pytest_benchmark(scan: _Scan) -> Iterator[Proposal]:
    tests = [p for p in scan.named(".py") if p.name.startswith("test") or p.name.endswith("_test.py")]
    using = [scan.relative(p) for p in tests if _PYTEST_BENCHMARK.search(_text(p))]
    if using:
        yield Proposal(
            name="pytest-benchmark",
            tool="pytest-benchmark",
            command=f"python3 -m pytest {_quoted(using)} --benchmark-only --benchmark-json={{output}} -q",
            format="pytest-benchmark",
            timeout="1h",
            evidence=tuple(using),
            setup=_install_step(scan),
        )


def _pyperf(scan: _Scan) -> Iterator[Proposal]:
    for script in scan.named(".py"):
        if _PYPERF_RUNNER.search(_text(script)):
            relative = scan.relative(script)
            yield Proposal(
                name=_name(script.stem),
                tool="pyperf",
                command=f"python3 {shlex.quote(relative)} --quiet --output {{output}}",
                format="pyperf",
                timeout="30m",
                evidence=(relative,),
                setup=_install_step(scan),
            )


def _go(scan: _Scan) -> Iterator[Proposal]:
    """One entry per Go module (``go test`` runs inside its module), naming the packages that have benchmarks."""
    modules: dict[Path, set[str]] = {}
    for test in scan.named("_test.go"):
        if _GO_BENCHMARK.search(_text(test)):
            module = _module_root(test.parent, scan.root)
            modules.setdefault(module, set()).add(test.parent.relative_to(module).as_posix())
    for module, packages in sorted(modules.items()):
        here = module.relative_to(scan.root).as_posix()
        prefix = "" if here == "." else f"cd {shlex.quote(here)} && "
        targets = _quoted("." if p == "." else f"./{p}" for p in sorted(packages))
        yield Proposal(
            name="go-bench" if here == "." else _name(f"go-bench-{here}"),
            tool="go test -bench",
            command=f"{prefix}go test -run '^$' -bench . -benchmem -count 5 {targets}",
            format="go",
            timeout="1h",
            evidence=tuple(sorted(scan.relative(module / p) if p != "." else here for p in packages)),
        )


def _module_root(folder: Path, root: Path) -> Path:
    """The nearest folder at or above ``folder`` (within ``root``) holding a ``go.mod``; ``root`` if none does."""
    for candidate in (folder, *folder.parents):
        if (candidate / "go.mod").is_file():
            return candidate
        if candidate == root:
            break
    return root


def _criterion(scan: _Scan, notes: list[str]) -> Iterator[Proposal]:
    for manifest in scan.named("Cargo.toml"):
        try:
            cargo = tomllib.loads(_text(manifest))
        except tomllib.TOMLDecodeError as err:
            notes.append(f"{scan.relative(manifest)}: not read ({err}); no Criterion entry proposed")
            continue
        dev = cargo.get("dev-dependencies", {})
        if not (isinstance(dev, dict) and "criterion" in dev):
            continue
        here = manifest.parent.relative_to(scan.root).as_posix()
        prefix = "" if here == "." else f"cd {shlex.quote(here)} && "
        for bench in cargo.get("bench", []):
            if not isinstance(bench, dict) or not isinstance(bench.get("name"), str):
                continue
            # Criterion writes a folder of results (target/criterion); perfsheriff reads a folder at {output}.
            yield Proposal(
                name=_name(bench["name"]),
                tool="criterion",
                command=(
                    f"{prefix}cargo bench --bench {shlex.quote(bench['name'])} -- --noplot "
                    f'&& cp -R "${{CARGO_TARGET_DIR:-target}}/criterion" {{output}}'
                ),
                format="criterion",
                timeout="1h",
                evidence=(scan.relative(manifest),),
            )


def _google_benchmark(scan: _Scan) -> Iterator[Proposal]:
    sources = [scan.relative(p) for p in scan.named(".cc", ".cpp", ".cxx") if _GOOGLE_BENCHMARK.search(_text(p))]
    if sources:
        yield Proposal(
            name="google-benchmark",
            tool="Google Benchmark",
            command="build/BINARY --benchmark_format=json --benchmark_out={output} --benchmark_repetitions=5",
            format="google-benchmark",
            timeout="1h",
            evidence=tuple(sources),
            ready=False,
            todo="which binary these sources build and how: put the build in setup and the binary's path in command",
        )


def _hyperfine(scan: _Scan) -> Iterator[Proposal]:
    for script in scan.named(".sh", ".bash", "Makefile", "justfile"):
        text = _text(script)
        if not _HYPERFINE.search(text):
            continue
        relative = scan.relative(script)
        writes_output = "PERFSHERIFF_OUTPUT" in text
        runner = {"Makefile": "make -f", "justfile": "just --justfile"}.get(script.name, "sh")
        run = f"{runner} {shlex.quote(relative)}"
        yield Proposal(
            name=_name(f"hyperfine-{script.stem}") if script.suffix else _name(f"hyperfine-{script.name}"),
            tool="hyperfine",
            command=run,
            format="hyperfine",
            timeout="1h",
            evidence=(relative,),
            ready=writes_output,
            todo="" if writes_output else 'make hyperfine write its results with --export-json "$PERFSHERIFF_OUTPUT"',
        )


def _emitting_scripts(scan: _Scan) -> Iterator[Proposal]:
    """Scripts that print results in Bencher's, Perfherder's or perfsheriff's format (standard output is read)."""
    for script in scan.named(*_INTERPRETERS):
        if script.name.startswith("test") or script.name.endswith("_test.py"):
            continue  # test suites are pytest-benchmark's, not scripts to run
        text = _text(script)
        for fmt, what, pattern in _EMITTED:
            if pattern.search(text):
                relative = scan.relative(script)
                yield Proposal(
                    name=_name(script.stem),
                    tool=f"a script printing {what}",
                    command=f"{_INTERPRETERS[script.suffix]} {shlex.quote(relative)}",
                    format=fmt,
                    timeout="30m",
                    evidence=(relative,),
                )
                break


def _quoted(words: Iterable[str]) -> str:
    return " ".join(shlex.quote(word) for word in words)


def _name(text: str) -> str:
    return _SAFE_NAME.sub("-", text).strip("-") or "benchmark"


def _unique_names(proposals: list[Proposal]) -> Iterator[Proposal]:
    """Benchmark names must be unique in a file: a second ``bench`` becomes ``bench-2``."""
    seen: dict[str, int] = {}
    for proposal in proposals:
        count = seen.get(proposal.name, 0) + 1
        seen[proposal.name] = count
        if count == 1:
            yield proposal
        else:
            yield replace(proposal, name=f"{proposal.name}-{count}")


def as_config(discovery: Discovery, *, rest: str) -> str:
    """A ``perfsheriff.toml`` with one ``[[benchmarks]]`` entry per proposal, unfinished ones commented out.

    ``rest`` is the commented text of the other sections (machines, budgets, schedule, notify).
    """
    name = _name(discovery.root.name) if discovery.root.name else "my-project"
    lines = [
        "# perfsheriff.toml, written by `perfsheriff init` from the benchmarks it found in this repository.",
        "# Every key is described in perfsheriff's docs/configuration.md. Unknown keys are errors.",
        "",
        "[project]",
        f"name = {_toml(name)}",
        "# The git repository: a path (relative to this file's folder) or a URL to clone.",
        'repository = "."',
        "# The branch whose history is tracked.",
        f"branch = {_toml(discovery.branch or 'main')}",
        "",
        "# Commands run with /bin/sh in a clean checkout of the revision being measured, which is also",
        "# the working directory; {output} is where the results go (see docs/configuration.md).",
    ]
    for proposal in discovery.proposals:
        lines += ["", *_entry(proposal)]
    return "\n".join(lines) + "\n\n" + rest


def _entry(proposal: Proposal) -> list[str]:
    found = f"# {proposal.tool}, found in {', '.join(proposal.evidence[:5])}"
    if len(proposal.evidence) > 5:
        found += f" and {len(proposal.evidence) - 5} more"
    body = ["[[benchmarks]]", f"name = {_toml(proposal.name)}"]
    if proposal.setup:
        body.append(f"setup = {_toml(proposal.setup)}")
    body += [f"command = {_toml(proposal.command)}", f"format = {_toml(proposal.format)}"]
    body.append(f"timeout = {_toml(proposal.timeout)}")
    if proposal.ready:
        return [found, *body]
    return [found, f"# To finish before it can run: {proposal.todo}.", *(f"# {line}" for line in body)]


def _toml(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's (``ensure_ascii`` keeps control characters escaped)."""
    return json.dumps(text)
