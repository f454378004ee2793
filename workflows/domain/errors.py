"""Domain errors: a refused command says which rule refused it."""

from __future__ import annotations


class DomainError(Exception):
    """A command that the case's rules forbid. Nothing changes when it is raised.

    Attributes:
        rule: a stable dotted code, e.g. ``jurisdiction.not_assigned``.
        message: a sentence for people, naming what was asked and why it is refused.
    """

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"[{rule}] {message}")
        self.rule = rule
        self.message = message
