"""The message a culprit's author receives, built from the evidence (pure: no I/O).

GHC's developers asked to be pinged "with nice graphs" so that the expert is not
the bottleneck: the message names the commit, lists every benchmark it moved
(magnitude and confidence, worst first), links to the graphs, and gives the
commands that reproduce the finding on the author's own machine. The same
content comes as Markdown (GitHub and GitLab comments), as plain text (e-mail
and chat hooks) and as structured fields (webhooks that want to render it themselves).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from perfsheriff.alerts import AlertKind
from perfsheriff.errors import InputError
from perfsheriff.model import SHA_HEX

#: Benchmarks listed in full; the rest are counted ("... and 12 more").
MAX_ROWS = 20
#: Benchmarks that get their own ``perfsheriff bisect`` command.
MAX_BISECT_COMMANDS = 3
# Mail to these reaches nobody: GitHub's no-reply addresses stand in for a hidden one.
_NO_REPLY_DOMAINS = ("noreply.github.com", "users.noreply.github.com")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~@])")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InputError(message)


def _is_sha(text: str) -> bool:
    return len(text) == 40 and set(text) <= SHA_HEX


@dataclass(frozen=True, slots=True)
class Change:
    """One alert of the summary: a benchmark's series that moved, and how sure detection is.

    ``benchmark`` is the result's name; ``configured_as`` the ``[[benchmarks]]``
    entry whose command produces it, when that has another name.
    """

    benchmark: str
    machine_class: str
    configuration: str
    kind: AlertKind
    relative_change: float
    confidence: float
    metric: str = "time"
    series_id: str | None = None
    configured_as: str | None = None

    def __post_init__(self) -> None:
        _require(bool(self.benchmark), "a change needs a benchmark name")
        kinds = ", ".join(AlertKind)
        _require(self.kind in set(AlertKind), f"a change's kind is one of {kinds}, got {self.kind!r}")
        object.__setattr__(self, "kind", AlertKind(self.kind))
        _require(math.isfinite(self.relative_change), "a change's relative change must be finite")
        _require(0.0 <= self.confidence <= 1.0, "a change's confidence must lie in [0, 1]")


@dataclass(frozen=True, slots=True)
class CulpritCommit:
    """The commit bisection named, with its author; ``parent`` is its first parent (``None`` for a root)."""

    sha: str
    author: str
    email: str
    subject: str
    confidence: float
    parent: str | None = None

    def __post_init__(self) -> None:
        _require(_is_sha(self.sha), f"the culprit must be a full sha, got {self.sha!r}")
        _require(self.parent is None or _is_sha(self.parent), f"the parent must be a full sha, got {self.parent!r}")
        _require(0.0 <= self.confidence <= 1.0, "the culprit's confidence must lie in [0, 1]")


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything a message says about one summary. ``last_good``/``first_bad`` bound the original suspect range."""

    summary_id: int
    project: str
    branch: str
    culprit: CulpritCommit
    last_good: str
    first_bad: str
    changes: tuple[Change, ...]

    def __post_init__(self) -> None:
        _require(bool(self.changes), "a message needs at least one changed benchmark")
        _require(_is_sha(self.last_good) and _is_sha(self.first_bad), "the suspect range needs full shas")


@dataclass(frozen=True, slots=True)
class Message:
    """One notification, in every form a channel may want.

    ``recipient`` is the culprit author's address, ``None`` when it has none a
    mail could reach. ``fields`` is JSON-ready structured data for webhooks.
    """

    summary_id: int
    culprit_sha: str
    recipient: str | None
    subject: str
    markdown: str
    text: str
    fields: Mapping[str, Any] = field(default_factory=dict)


def compose(evidence: Evidence, *, base_url: str | None, max_rows: int = MAX_ROWS) -> Message:
    """Build the message for ``evidence``; ``base_url`` is where perfsheriff's web pages are served.

    Without a ``base_url`` (none configured) the message carries no links and
    names the summary instead. Changes are listed regressions first, then by
    size (worst first), then by name.
    """
    ok = base_url is None or base_url.startswith(("http://", "https://"))
    _require(ok, f"base_url must be an http(s) URL, got {base_url!r}")
    _require(max_rows >= 1, "max_rows must be >= 1")
    base = base_url.rstrip("/") if base_url is not None else None
    changes = sorted(evidence.changes, key=_order)
    culprit = evidence.culprit
    graph = f"{base}/summaries/{evidence.summary_id}" if base is not None else None
    commands = reproduce_commands(evidence)
    worst = changes[0]
    subject = _one_line(
        f"[perfsheriff] {evidence.project} {evidence.branch}: {culprit.sha[:12]} {_verb(worst)} "
        f"{worst.benchmark} by {_percent(worst.relative_change)}"
    )
    return Message(
        summary_id=evidence.summary_id,
        culprit_sha=culprit.sha,
        recipient=mail_address(culprit.email),
        subject=subject,
        markdown=_markdown(evidence, changes, graph=graph, base=base, commands=commands, max_rows=max_rows),
        text=_text(evidence, changes, graph, commands, max_rows),
        fields=_fields(evidence, changes, graph, base, commands),
    )


def mail_address(email: str) -> str | None:
    """The author's address if mail to it can reach someone: not empty, not a no-reply stand-in."""
    address = email.strip()
    local, at, domain = address.rpartition("@")
    if not (at and local) or domain.lower() in _NO_REPLY_DOMAINS or _CONTROL.search(address):
        return None
    return address


def reproduce_commands(evidence: Evidence) -> tuple[str, ...]:
    """Commands that show the change again: compare the culprit with its parent, bisect the range by hand."""
    culprit = evidence.culprit
    base = culprit.parent or evidence.last_good
    commands = [f"perfsheriff compare --base {base} --head {culprit.sha}"]
    for change in _distinct_series(evidence.changes)[:MAX_BISECT_COMMANDS]:
        words = ["perfsheriff", "bisect", "--good", evidence.last_good, "--bad", evidence.first_bad]
        words += ["--benchmark", change.configured_as or change.benchmark]
        if change.configured_as and change.configured_as != change.benchmark:
            words += ["--result", change.benchmark]
        if change.metric != "time":
            words += ["--metric", change.metric]
        if change.kind is not AlertKind.DRIFT and (change.kind is AlertKind.REGRESSION) == (change.relative_change < 0):
            words.append("--higher-is-better")  # a fall that is a regression, or a rise that is an improvement
        commands.append(" ".join(_shell_word(word) for word in words))
    return tuple(commands)


def _shell_word(word: str) -> str:
    """``word`` quoted for a POSIX shell, on one line: control characters (a newline in a benchmark's name)
    are written as bash's ``$'\\n'`` escapes, so that a command never spans lines of a message."""
    if not _CONTROL.search(word):
        return shlex.quote(word)
    escaped = word.encode("unicode_escape").decode("ascii").replace("'", "\\'")
    return f"$'{escaped}'"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _code(text: str) -> str:
    """An inline code span holding ``text`` as it is: delimited by more backticks than it contains."""
    text = _one_line(text)
    fence = "`" * (_longest_backtick_run(text) + 1)
    return f"{fence} {text} {fence}" if text.startswith("`") or text.endswith("`") else f"{fence}{text}{fence}"


def _distinct_series(changes: tuple[Change, ...]) -> list[Change]:
    """One change per benchmark and metric (machines and configurations aside), worst first."""
    seen: dict[tuple[str | None, str, str], Change] = {}
    for change in sorted(changes, key=_order):
        seen.setdefault((change.configured_as, change.benchmark, change.metric), change)
    return list(seen.values())


def _order(change: Change) -> tuple[bool, float, str, str, str]:
    return (
        change.kind is not AlertKind.REGRESSION,
        -abs(change.relative_change),
        change.benchmark,
        change.machine_class,
        change.configuration,
    )


def _verb(change: Change) -> str:
    return {AlertKind.REGRESSION: "regressed", AlertKind.IMPROVEMENT: "improved"}.get(change.kind, "drifted")


def _percent(relative_change: float) -> str:
    return f"{relative_change * 100:+.1f}%"


def _one_line(text: str) -> str:
    """Headers and table cells must not break: control characters (newlines included) become spaces."""
    return _CONTROL.sub(" ", text).strip()


def _md(text: str) -> str:
    """Escape Markdown in names and subjects, so a commit subject cannot inject links, tables or @-mentions."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _one_line(text))


def _markdown(
    evidence: Evidence,
    changes: list[Change],
    *,
    graph: str | None,
    base: str | None,
    commands: tuple[str, ...],
    max_rows: int,
) -> str:
    culprit = evidence.culprit
    lines = [
        f"### perfsheriff: this commit changed the performance of {_md(evidence.project)}",
        "",
        f"Commit `{culprit.sha[:12]}` ({_md(culprit.subject)}) by {_md(culprit.author)} is the likely cause "
        f"(confidence {culprit.confidence:.0%}) of these changes on {_code(evidence.branch)}:",
        "",
        "| benchmark | machine | configuration | change | confidence |",
        "|---|---|---|---:|---:|",
    ]
    for c in changes[:max_rows]:
        name = _md(c.benchmark) if c.metric == "time" else f"{_md(c.benchmark)} ({_md(c.metric)})"
        if c.series_id and base is not None:
            name = f"[{name}]({base}/series/{c.series_id})"
        cells = (name, _md(c.machine_class), _md(c.configuration) or "-", f"{_percent(c.relative_change)} {c.kind}")
        lines.append(f"| {' | '.join(cells)} | {c.confidence:.0%} |")
    if len(changes) > max_rows:
        lines.append(f"\n… and {len(changes) - max_rows} more.")
    where = f"[Graphs and the full summary #{evidence.summary_id}]({graph})" if graph else _no_link(evidence)
    lines += ["", where, "", "Reproduce locally:", ""]
    # The fence is longer than any run of backticks in the commands: nothing in them can close it early.
    fence = "`" * max(3, _longest_backtick_run("\n".join(commands)) + 1)
    lines += [f"{fence}console", *commands, fence, ""]
    return "\n".join(lines)


def _no_link(evidence: Evidence) -> str:
    return f"The full summary is #{evidence.summary_id} in perfsheriff."


def _text(
    evidence: Evidence, changes: list[Change], graph: str | None, commands: tuple[str, ...], max_rows: int
) -> str:
    culprit = evidence.culprit
    lines = [
        f"Commit {culprit.sha[:12]} ({_one_line(culprit.subject)}) by {_one_line(culprit.author)} is the likely cause "
        f"(confidence {culprit.confidence:.0%}) of these changes in {evidence.project} on {evidence.branch}:",
        "",
    ]
    for c in changes[:max_rows]:
        where = f"{c.machine_class}, {c.configuration}" if c.configuration else c.machine_class
        metric = "" if c.metric == "time" else f" ({c.metric})"
        lines.append(
            f"  {_one_line(c.benchmark)}{metric} on {_one_line(where)}: {_percent(c.relative_change)} {c.kind}, "
            f"confidence {c.confidence:.0%}"
        )
    if len(changes) > max_rows:
        lines.append(f"  ... and {len(changes) - max_rows} more.")
    where = f"Graphs and the full summary #{evidence.summary_id}: {graph}" if graph else _no_link(evidence)
    lines += ["", where, "", "Reproduce locally:", ""]
    lines += [f"  {command}" for command in commands]
    return "\n".join(lines) + "\n"


def _fields(
    evidence: Evidence, changes: list[Change], graph: str | None, base: str | None, commands: tuple[str, ...]
) -> dict[str, Any]:
    culprit = evidence.culprit
    return {
        "summary_id": evidence.summary_id,
        "project": evidence.project,
        "branch": evidence.branch,
        "culprit": {
            "sha": culprit.sha,
            "author": culprit.author,
            "subject": culprit.subject,
            "confidence": culprit.confidence,
        },
        "range": {"last_good": evidence.last_good, "first_bad": evidence.first_bad},
        "changes": [
            {
                "benchmark": c.benchmark,
                "metric": c.metric,
                "machine_class": c.machine_class,
                "configuration": c.configuration,
                "kind": c.kind,
                "relative_change": c.relative_change,
                "confidence": c.confidence,
                "graph_url": f"{base}/series/{c.series_id}" if c.series_id and base is not None else graph,
            }
            for c in changes
        ],
        "graph_url": graph,
        "reproduce": list(commands),
    }
