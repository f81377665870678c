"""The building blocks of the wire's models: strict request bodies, lenient answers, times, names.

Request bodies are strict: unknown fields are refused, so that a typo in a CI
script is a 422 that names the field rather than data silently missing. No text
may hold a NUL character, which PostgreSQL cannot store: a 422 that names the
field, rather than an error of the database. Answers ignore fields they do not
know, so that a client keeps working against a newer server that added some.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, WithJsonSchema, field_validator

from perfsheriff.model import MAX_ID

#: A time as the API writes it: ISO 8601 with its offset, as ``datetime.isoformat`` gives it.
Timestamp = Annotated[
    datetime,
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Sha = Annotated[str, StringConstraints(min_length=4, max_length=40, pattern="^[0-9a-fA-F]+$", strip_whitespace=True)]
RevisionName = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Lease = Annotated[str, StringConstraints(min_length=1, max_length=64)]
LeaseSeconds = Annotated[float, Field(ge=1, le=3600)]
ErrorText = Annotated[str, StringConstraints(max_length=10_000)]
Configuration = dict[Name, Annotated[str, StringConstraints(max_length=200)]]


def has_nul(value: object) -> bool:
    """Whether ``value`` (text, or a dict or list holding text) contains a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False  # numbers, booleans, None; a nested model checked its own fields


class Strict(BaseModel):
    """A request body: unknown fields and NUL characters are refused."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


class Answer(BaseModel):
    """A response body: fields this version does not know are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, serialize_by_alias=True)
