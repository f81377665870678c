"""Running a composite GitHub Action's steps locally, as a runner would, from a recorded workflow run's context.

GitHub evaluates ``${{ ... }}`` before a step runs; :func:`evaluate` implements the part of that
expression language the actions here use (context paths, string literals, ``==``/``!=``, ``&&``/``||``
with JavaScript-like truthiness, parentheses, ``format()``), and fails on anything else, so a step never
runs with an expression the test did not understand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||[(),])|(?P<name>[A-Za-z_][\w.-]*))")
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class _Parser:
    def __init__(self, text: str, context: Mapping[str, Any]) -> None:
        self.tokens = self._tokenize(text)
        self.context = context
        self.at = 0

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens, position = [], 0
        while position < len(text.rstrip()):
            match = _TOKEN.match(text, position)
            if match is None:
                raise ValueError(f"cannot read the expression at {text[position:]!r}")
            kind = match.lastgroup
            assert kind is not None
            tokens.append((kind, match.group(kind)))
            position = match.end()
        return tokens

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self) -> Any:
        value = self.either()
        if self.at != len(self.tokens):
            raise ValueError(f"unexpected {self.peek()!r}")
        return value

    def either(self) -> Any:
        value = self.both()
        while self.peek() == "||":
            self.take()
            other = self.both()
            value = value or other
        return value

    def both(self) -> Any:
        value = self.compare()
        while self.peek() == "&&":
            self.take()
            other = self.compare()
            value = value and other
        return value

    def compare(self) -> Any:
        value = self.atom()
        if self.peek() in {"==", "!="}:
            op = self.take()[1]
            other = self.atom()
            return (value == other) if op == "==" else (value != other)
        return value

    def atom(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if text == "(":
            value = self.either()
            self.take()
            return value
        if kind == "name" and self.peek() == "(":
            self.take()
            args = [self.either()]
            while self.peek() == ",":
                self.take()
                args.append(self.either())
            self.take()
            if text != "format":
                raise ValueError(f"unknown function {text}")
            return re.sub(r"\{(\d+)\}", lambda m: str(args[1 + int(m.group(1))]), args[0])
        value: Any = self.context
        for part in text.split("."):
            value = value.get(part, "") if isinstance(value, Mapping) else ""
        return value


def evaluate(template: str, context: Mapping[str, Any]) -> str:
    """``template`` with each ``${{ expression }}`` replaced by its value, as GitHub renders it."""

    def render(match: re.Match[str]) -> str:
        value = _Parser(match.group(1), context).parse()
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return _EXPRESSION.sub(render, template)


def condition(expression: str, context: Mapping[str, Any]) -> bool:
    """A step's ``if:``, which GitHub reads as an expression with or without ``${{ }}``."""
    inner = _EXPRESSION.fullmatch(expression.strip())
    return bool(_Parser(inner.group(1) if inner else expression, context).parse())
