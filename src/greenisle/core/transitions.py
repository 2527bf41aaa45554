"""State machines as data: a table of allowed (from, to, roles, guard) rows.

Every state change in the platform goes through a table like this, so that the set of allowed
changes is readable in one place and tested exhaustively.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Guard = Callable[[Any], str | None]
"""A guard returns None when the change may happen, or the reason it may not."""


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    roles: frozenset[str]
    action: str
    guards: tuple[Guard, ...] = field(default_factory=tuple)


class TransitionRefused(Exception):
    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class TransitionTable:
    def __init__(self, name: str, transitions: Iterable[Transition]) -> None:
        self.name = name
        self._rows: dict[tuple[str, str], Transition] = {}
        for row in transitions:
            key = (row.source, row.target)
            if key in self._rows:
                raise ValueError(f"{name}: duplicate transition {key}")
            self._rows[key] = row

    @property
    def rows(self) -> list[Transition]:
        return list(self._rows.values())

    def states(self) -> set[str]:
        return {s for key in self._rows for s in key}

    def row(self, source: str, target: str) -> Transition | None:
        return self._rows.get((source, target))

    def targets_from(self, source: str) -> set[str]:
        return {t for (s, t) in self._rows if s == source}

    def check(self, *, source: str, target: str, role: str, obj: Any = None) -> Transition:
        """Return the row allowing source → target for role, or raise TransitionRefused."""
        row = self._rows.get((source, target))
        if row is None:
            raise TransitionRefused(
                f"{self.name}: cannot go from {source} to {target}", code="transition_not_allowed"
            )
        if role not in row.roles:
            raise TransitionRefused(
                f"{self.name}: role {role} may not go from {source} to {target}", code="role_not_allowed"
            )
        for guard in row.guards:
            reason = guard(obj)
            if reason:
                raise TransitionRefused(reason, code="guard_failed")
        return row
