"""Runs one benchmark at one revision on this machine (worktree, setup, command, timeout, parse).

Agent-side code: it imports the model, the formats, ``gitrepo`` and
``projectfile`` only, never the store, services or API, so an agent machine
needs no database driver.
"""

from perfsheriff.runner.environment import describe_environment
from perfsheriff.runner.process import reap_groups
from perfsheriff.runner.runner import OUTPUT_VARIABLE, Runner, RunOutcome, expand_placeholders

__all__ = ["OUTPUT_VARIABLE", "RunOutcome", "Runner", "describe_environment", "expand_placeholders", "reap_groups"]
