"""The benchmark agent: claims jobs from a perfsheriff server, runs them here, uploads the results.

Agent-side code, like :mod:`perfsheriff.runner` and :mod:`perfsheriff.client`:
it never imports the store, services or API, so a benchmark machine needs no
database driver. ``loop`` holds the order of work and stopping, ``job`` one
job's execution, ``spool`` the results waiting for an unreachable server,
``backoff`` how long to wait for it.
"""

from perfsheriff.agent.backoff import Backoff, backoff_delay
from perfsheriff.agent.loop import Agent, AgentOptions
from perfsheriff.agent.spool import Spool, SpooledUpload

__all__ = ["Agent", "AgentOptions", "Backoff", "Spool", "SpooledUpload", "backoff_delay"]
