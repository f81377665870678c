"""The ``perfsheriff`` command line: thin commands that call the service layer.

Commands load lazily: ``perfsheriff --help`` (and a mistyped command, or TAB on a command name) imports
none of the modules that implement them, so it does not pay for SQLAlchemy, scipy or the services;
``perfsheriff series`` loads only what ``series`` needs (and, for its text options and flags, not
pydantic: see :class:`AsGiven`). Shell completion is Typer's (``--install-completion``,
``--show-completion``; docs/cli.md): it costs ``--help`` a few milliseconds. :data:`COMMANDS` names each
command's module and its one-line help, which ``tests/unit/test_cli_lazy.py`` checks against the command itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
from typer import _click as click  # the click Typer bundles, whose types its groups use
from typer._click.shell_completion import CompletionItem
from typer._coercion import RuntimeParam, build_runtime_param
from typer.core import TyperCommand, TyperGroup, _TyperParameter

#: command -> (the module whose ``register`` adds it, its one-line help as ``--help`` lists it)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("perfsheriff.cli.demo", "Track a small project with roll-ups: measure every push, detect and confirm "
             "changes, bisect to the culprits."),
    "detect": ("perfsheriff.cli.analysis", "Find regressions, improvements and drift; store new alerts (a second run "
               "adds nothing)."),
    "alerts": ("perfsheriff.cli.analysis", "List stored alerts, or (--queue) the alert summaries a sheriff should look "
               "at."),
    "compare": ("perfsheriff.cli.analysis", "Compare two revisions on every series measured at both: ratio, interval, "
                "verdict, weighted suite summary (overall and per benchmark tag)."),
    "ingest": ("perfsheriff.cli.data", "Store the results of one revision on one machine: one run per file."),
    "series": ("perfsheriff.cli.data", "List the stored series."),
    "show": ("perfsheriff.cli.data", "Show one series along its branch: per revision, samples, median and spread."),
    "init": ("perfsheriff.cli.tracking", "Write a perfsheriff.toml with the benchmarks found in the project, or a "
             "commented example to start from."),
    "track": ("perfsheriff.cli.tracking", "Measure new commits of the tracked branches, detect changes, confirm them "
              "by measuring again, and bisect."),
    "bisect": ("perfsheriff.cli.tracking", "Find the commit that changed a benchmark: a stored ALERT, or "
               "--good/--bad/--benchmark by hand."),
    "agent": ("perfsheriff.cli.remote", "Run the server's benchmark jobs for this machine: claim, run, upload; until "
              "SIGTERM."),
    "upload": ("perfsheriff.cli.remote", "Send result files to a server: one run per file, and a file sent again is "
               "not stored twice."),
    "serve": ("perfsheriff.cli.server", "Serve the HTTP API (JSON under /api/v1, OpenAPI at /openapi.json, /health, "
              "/metrics) and the dashboard."),
    "triage": ("perfsheriff.cli.triage", "Show an alert summary (alerts, culprit, journal) and change its state, "
               "owner or bug link."),
    "stats": ("perfsheriff.cli.stats", "How well the sheriffing works: alerts, triage outcomes, precision, delays, "
              "runs and notifications."),
    "status": ("perfsheriff.cli.status", "The machine-time budget per machine class: runs automation took today, "
               "what is queued, what waits and why."),
    "report": ("perfsheriff.cli.report", "Write a static report: the alert list, summaries, and a graph (SVG) and "
               "table row per series."),
    "comment": ("perfsheriff.cli.review", "Post Markdown on a pull request (--github-pr) or merge request "
                "(--gitlab-mr) as one comment, edited in place."),
    "db": ("perfsheriff.cli.db", "Database schema: create and migrate."),
    "token": ("perfsheriff.cli.server", "API tokens: create, list, revoke."),
    "alert": ("perfsheriff.cli.triage", "Alerts made by hand: a change the detector did not report."),
    "machine": ("perfsheriff.cli.machines", "Machine classes across upgrades: record a new generation, its baseline "
                "runs, and each series' factor."),
}  # fmt: skip


def load_command(name: str) -> click.Command:
    """The real command ``name``: its module imported and registered on a Typer of its own."""
    module = importlib.import_module(COMMANDS[name][0])
    holder = typer.Typer(pretty_exceptions_enable=False)
    module.register(holder)
    group = typer.main.get_group(holder)
    command = group.commands.get(name)
    if command is None:
        raise LookupError(f"{COMMANDS[name][0]} does not register {name!r}")
    return command


@dataclass(frozen=True)
class AsGiven(RuntimeParam):
    """Typer's coercion of a plain ``str`` or ``bool`` parameter, without pydantic: a string (from the command
    line or the environment) or a bool (a flag) is its own value.

    Typer builds a pydantic ``TypeAdapter`` for each parameter it coerces, ``--help`` and ``--db`` included:
    importing pydantic and building the adapters took ``perfsheriff series`` about a fifth of its time, to
    return the value it was given (Typer's adapters for ``str`` and ``bool`` return a ``str`` or ``bool``
    unchanged). Any other value goes to Typer's own adapter. ``RuntimeParam`` and a parameter's
    ``_runtime_param`` are Typer's internals: ``tests/unit/test_cli_lazy.py`` checks that the commands still
    get this coercion and that it answers as Typer's adapters do.
    """

    @staticmethod
    def spare_pydantic(params: Iterable[click.Parameter]) -> None:
        """Give each plain ``str`` or ``bool`` parameter among ``params`` this coercion, if Typer has none yet."""
        for param in params:
            if isinstance(param, _TyperParameter) and AsGiven.fits(param):
                param._runtime_param = AsGiven(param.type_descriptor.parameter_info, param.type_descriptor.annotation)

    @staticmethod
    def fits(param: _TyperParameter) -> bool:
        """Whether ``param`` is a ``str`` or ``bool`` with no parser, choices, path or file checks of its own."""
        descriptor = param.type_descriptor
        return (
            descriptor.annotation in (str, bool)
            and descriptor.parameter_info.parser is None
            and not (descriptor.is_choice or descriptor.is_path or descriptor.is_file)
            and param._runtime_param is None
        )

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: click.Context) -> Any:
        if type(value) is self.annotation:
            return value
        return build_runtime_param(param.type_descriptor)._coerce_value(value, param, ctx)


class LazyCommands(TyperGroup):
    """A group whose commands are imported when one of them runs (or a tool walks them), not to list them."""

    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        if self._listing:  # the help's list of commands needs names and one line each, nothing more
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name][1], short_help=COMMANDS[cmd_name][1])
        if cmd_name not in self.commands:
            command = load_command(cmd_name)
            AsGiven.spare_pydantic(command.get_params(ctx))  # get_params makes (and keeps) its --help too
            self.commands[cmd_name] = command
        return self.commands[cmd_name]

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        AsGiven.spare_pydantic(params)
        return params

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with self._stubs():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """Command names for the shell's TAB: from the table, so ``perfsheriff se<TAB>`` imports no command."""
        with self._stubs():
            return super().shell_complete(ctx, incomplete)

    @contextmanager
    def _stubs(self) -> Iterator[None]:
        self._listing = True
        try:
            yield
        finally:
            self._listing = False


app = typer.Typer(
    name="perfsheriff",
    cls=LazyCommands,
    help="Keeps watch over a software project's performance: collects benchmark results, "
    "detects regressions and drift, bisects culprits.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    pass  # a group of commands (they load lazily), not a single command


def main() -> Any:
    return app()
