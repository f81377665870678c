"""The commented ``perfsheriff.toml`` that ``perfsheriff init`` writes."""

from __future__ import annotations


def example_config() -> str:
    """A commented ``perfsheriff.toml`` for ``perfsheriff init``; a test checks it loads as written."""
    return _EXAMPLE


def example_other_sections() -> str:
    """The example's sections after ``[[benchmarks]]`` (machines, thresholds, budgets, schedule, notify)."""
    return _OTHER_SECTIONS


_BENCHMARKS = """\
# perfsheriff.toml: what perfsheriff measures, where, and how often.
# Every key is described in perfsheriff's docs/configuration.md. Unknown keys are errors.

[project]
name = "my-project"
# The git repository: a path (relative to this file's folder) or a URL to clone.
repository = "."
# The branch whose history is tracked; several: branches = ["main", "release"].
branch = "main"
# Tags whose name this regular expression finds are releases; drift is shown since the newest.
release_tags = '^v[0-9]+\\.[0-9]+'

# One [[benchmarks]] table per command. Commands run with /bin/sh in a clean checkout
# of the revision being measured (a git worktree, also the working directory).
# Placeholders, shell-quoted when substituted:
#   {worktree}    that checkout
#   {config_dir}  the folder of this file
#   {output}      the file to write results to (also in $PERFSHERIFF_OUTPUT);
#                 when the command leaves it empty, its standard output is parsed instead.
[[benchmarks]]
name = "startup"
# Runs once per revision before the repetitions; a failure marks the revision unusable.
setup = "python3 -m pip install --quiet --editable ."
command = "python3 -m pyperf command --quiet --output {output} -- python3 -c pass"
# Result format: asv, bmf, criterion, go, google-benchmark, hyperfine, perfherder,
# perfsheriff, pyperf, pytest-benchmark. Leave it out to detect it from the output.
format = "pyperf"
# The longest the whole run (setup and every repetition) may take: "300s", "5m", "1h30m".
timeout = "10m"
# How many times the command runs; the samples of all repetitions are kept together.
repetitions = 1
# Weight in summaries: real-world benchmarks above micro-benchmarks.
weight = 1.0
tags = ["real-world"]

[benchmarks.env]
PYTHONHASHSEED = "0"

"""
_OTHER_SECTIONS = """\
# Where benchmarks run. Results are compared only within one machine class and config.
[[machines]]
name = "bench-1"
class = "linux-x86_64"
config = { python = "3.12" }

# Detector overrides; leave them out to keep perfsheriff's defaults.
# [thresholds]
# min_relative_change = 0.02
# min_confidence = 0.99
# min_probability = 0.5               # report only changes at least this likely to be real
# learn_from_triage = true             # adjust each series by what sheriffs decide (docs/triage.md)
# [thresholds.benchmarks.startup]      # for one benchmark (or [thresholds.series.SERIES_ID])
# min_relative_change = 0.05

# How much machine time automation may spend.
[budgets]
runs_per_alert = 30
alerts_per_summary = 5
infra_retries = 2

# Which revisions to measure: "push" (each push's tip), "commit" (every commit),
# "every-n-pushes" (with every = n) or "nightly" (the tip, once a day).
[schedule]
mode = "push"

# Tell the author of a culprit, once per summary. Secrets stay in the environment:
# *_env keys name the variables that hold them.
# [notify]
# base_url = "https://perf.example.org"   # graph links in messages point here
# min_confidence = 0.9
# [notify.github]
# owner = "my-org"
# repo = "my-project"
# token_env = "PERFSHERIFF_GITHUB_TOKEN"
"""
_EXAMPLE = _BENCHMARKS + _OTHER_SECTIONS
