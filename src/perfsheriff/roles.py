"""What a token may do: four roles, each allowed what the ones below it are.

``read`` sees everything a dashboard shows; ``agent`` also claims jobs and uploads runs; ``sheriff``
also triages and queues runs; ``admin`` also manages tokens and projects.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    READ = "read"
    AGENT = "agent"
    SHERIFF = "sheriff"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank
