"""The demo: a throwaway project history with roll-ups, results per push, stored and listed.

It builds a real git repository (a small text-processing library with a
benchmark script, ~40 commits landed as roll-ups and direct pushes), writes
one result file per push tip as CI would (perfsheriff JSON with five
repetitions per benchmark), and ingests them all. One commit inside a roll-up
makes ``parse`` about 20% slower; another makes ``render`` about 30% faster.
The results are generated from a seeded noise model, not measured: running
real benchmarks belongs to the runner.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine

from perfsheriff.gitrepo import GitRepo
from perfsheriff.model import Configuration, Machine
from perfsheriff.service import ingest
from perfsheriff.service.detection import DetectionPolicy, detect_stored

START = 1_735_725_600  # 2025-01-01 10:00 UTC: fixed, so every demo has the same shas
AUTHORS = (
    ("Ada Lovelace", "ada@example.org"),
    ("Grace Hopper", "grace@example.org"),
    ("Edsger Dijkstra", "edsger@example.org"),
    ("Barbara Liskov", "barbara@example.org"),
)
BENCHMARKS = {"parse": 12.0, "render": 8.0, "tokenize": 3.0}  # ms
CULPRIT = "Use a regular expression per token in the parser"
IMPROVEMENT = "Cache compiled templates in render"


@dataclass
class _Stream:
    """Writes a ``git fast-import`` stream; marks name commits, ``effects`` follow ancestry."""

    lines: list[bytes] = field(default_factory=list)
    mark: int = 0
    clock: int = START
    effects: dict[int, dict[str, float]] = field(default_factory=dict)
    marks_by_time: dict[int, int] = field(default_factory=dict)  # every commit gets its own minute

    def commit(self, ref: str, message: str, author: int, parents: list[int], files: dict[str, str]) -> int:
        self.mark += 1
        self.clock += 600
        self.marks_by_time[self.clock] = self.mark
        name, email = AUTHORS[author % len(AUTHORS)]
        body = message.encode()
        self.lines += [
            f"commit {ref}".encode(),
            f"mark :{self.mark}".encode(),
            f"author {name} <{email}> {self.clock} +0000".encode(),
            f"committer Merge Bot <bot@example.org> {self.clock} +0000".encode(),
            f"data {len(body)}".encode(),
            body,
        ]
        if parents:
            self.lines.append(f"from :{parents[0]}".encode())
        self.lines += [f"merge :{p}".encode() for p in parents[1:]]
        for path, content in files.items():
            data = content.encode()
            self.lines += [f"M 100644 inline {path}".encode(), f"data {len(data)}".encode(), data]
        self.lines.append(b"")
        inherited: dict[str, float] = {}
        for parent in parents:
            for bench, factor in self.effects[parent].items():
                inherited[bench] = factor  # merges inherit every ancestor's effect (no conflicts here)
        self.effects[self.mark] = inherited
        return self.mark

    def bytes(self) -> bytes:
        return b"\n".join([*self.lines, b"done", b""])


BENCH_SCRIPT = '''"""Benchmarks of textkit: prints perfsheriff JSON with five repetitions each."""
import json, sys, time
sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else ".")
import textkit

def measure(fn, repeat=5):
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out

text = "the quick brown fox " * 5000
results = [
    {"name": "parse", "unit": "ms", "samples": measure(lambda: textkit.parse(text))},
    {"name": "render", "unit": "ms", "samples": measure(lambda: textkit.render(["a", "b"] * 20000))},
    {"name": "tokenize", "unit": "ms", "samples": measure(lambda: textkit.tokenize(text))},
]
print(json.dumps({"format": "perfsheriff", "version": 1, "results": results}))
'''

LIBRARY = '''"""textkit: a small text-processing library (revision {n})."""

def tokenize(text):
    return text.split()

def parse(text):
    return {{word: len(word) for word in tokenize(text)}}

def render(words):
    return " ".join(words)
'''


def build_history(effects: dict[str, dict[str, float]] | None = None) -> _Stream:
    """About 40 commits: direct pushes and roll-ups of 3 to 7 commits merged with ``--no-ff``."""
    effects = effects or {CULPRIT: {"parse": 1.2}, IMPROVEMENT: {"render": 0.7}}
    stream = _Stream()
    counter = 0

    def files() -> dict[str, str]:
        return {"textkit.py": LIBRARY.format(n=counter), "bench.py": BENCH_SCRIPT}

    def change(ref: str, message: str, parents: list[int]) -> int:
        nonlocal counter
        counter += 1
        mark = stream.commit(ref, message, counter, parents, files())
        for bench, factor in effects.get(message, {}).items():
            stream.effects[mark][bench] = stream.effects[mark].get(bench, 1.0) * factor
        return mark

    tip = change("refs/heads/main", "Start textkit", [])
    plan: list[str | list[str]] = [
        "Add README",
        "Add a word counter",
        "Document tokenize",
        "Fix a typo in the docs",
        ["Add a line splitter", "Handle tabs in tokenize", "Add type hints"],
        "Test render with empty input",
        ["Refactor the render loop", IMPROVEMENT, "Add render examples"],
        "Bump version to 0.2",
        "Clean up imports",
        ["Add render options", "Document render options", "Support unicode words"],
        "Add a changelog",
        "Fix flaky test",
        ["Speed up tests", "Rename internal helpers", CULPRIT, "Add a changelog entry"],
        "Release 0.2",
        ["Add a CLI", "Test the CLI", "Document the CLI", "Fix CLI exit codes"],
        "Polish help text",
        "Add --version",
        ["Profile parse", "Add benchmarks to CI", "Update the README"],
        "Release 0.3",
        "Tidy the docs",
    ]
    for number, step in enumerate(plan, start=1):
        if isinstance(step, str):
            tip = change("refs/heads/main", step, [tip])
            continue
        ref = f"refs/heads/rollup-{number}"
        side = tip
        for message in step:
            side = change(ref, message, [side])
        tip = change("refs/heads/main", f"Merge roll-up #{number} ({len(step)} changes)", [tip, side])
    return stream


def result_file(levels: dict[str, float], rng: np.random.Generator) -> str:
    results = [
        {"name": name, "unit": "ms", "samples": [round(level * float(rng.lognormal(0, 0.02)), 4) for _ in range(5)]}
        for name, level in levels.items()
    ]
    return json.dumps({"format": "perfsheriff", "version": 1, "results": results}, indent=1)


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    repository: Path
    database_url: str
    commits: int
    pushes: int
    files: int
    samples: int
    alert_ids: list[int]


def run_demo(
    workdir: Path, engine_for: Callable[[str], Engine], *, seed: int = 20250101, now: datetime | None = None
) -> DemoOutcome:
    """Build the repository under ``workdir``, write one result file per push tip, ingest them all."""
    if workdir.exists():
        shutil.rmtree(workdir)
    stream = build_history()
    repo = GitRepo.create(workdir / "textkit", stream.bytes())
    history = repo.history("main")
    marks = {r.sha: stream.marks_by_time[int(r.time.timestamp())] for r in history.revisions}
    rng = np.random.default_rng(seed)
    results_dir = workdir / "results"
    results_dir.mkdir()
    url = f"sqlite:///{(workdir / 'perfsheriff.db').resolve()}"
    engine = engine_for(url)
    samples = 0
    for push in history.pushes:
        factors = stream.effects[marks[push.tip]]
        levels = {name: base * factors.get(name, 1.0) for name, base in BENCHMARKS.items()}
        path = results_dir / f"{push.tip[:12]}.json"
        path.write_text(result_file(levels, rng))
        target = ingest.prepare_target(
            engine,
            repo,
            revision=push.tip,
            machine=Machine("demo-linux"),
            configuration=Configuration.of({"python": "3.11"}),
        )
        outcome = ingest.ingest_files(engine, target, [path], fmt=None, limit=1 << 20, now=now or datetime.now(UTC))
        samples += sum(item.samples for item in outcome.ingested)
    report = detect_stored(engine, DetectionPolicy(), now=now or datetime.now(UTC))
    engine.dispose()
    return DemoOutcome(
        repo.path, url, len(history.revisions), len(history.pushes), len(history.pushes), samples, report.new_alert_ids
    )
