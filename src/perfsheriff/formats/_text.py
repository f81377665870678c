"""Turning the raw bytes of a result file into text, or a located error.

Every format reads text (JSON or log lines), and every one must refuse binary
input with a :class:`FormatError` rather than a ``UnicodeDecodeError`` escaping.
"""

from __future__ import annotations

from perfsheriff.errors import FormatError


def decode_text(data: bytes, origin: str = "") -> str:
    """Decode UTF-8 (a leading byte-order mark is allowed); refuse NUL bytes and bad UTF-8.

    NUL bytes are refused even though they are valid UTF-8: no text result
    format contains them, and they are the surest sign of a binary file.
    """
    nul = data.find(b"\x00")
    if nul >= 0:
        raise FormatError("expected a text file, found binary content (a NUL byte)", where=_at(origin, f"byte {nul}"))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FormatError(
            "expected UTF-8 text, found an invalid byte sequence", where=_at(origin, f"byte {err.start}")
        ) from None


def _at(origin: str, place: str) -> str:
    return f"{origin}: {place}" if origin else place
