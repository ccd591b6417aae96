"""Write and read .reel recordings.

>>> import reel
>>> with reel.Recording("out.reel") as rec:
...     rec.log_scalar("sensor/temp", 21.5)
>>> reel.read("out.reel")[0].value
21.5
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

from reel._native import ReelError, __version__
from reel._native import Writer as _Writer
from reel._native import read as _read

__all__ = ["Record", "Recording", "ReelError", "__version__", "read", "verify"]


class Record(NamedTuple):
    """One record: when, which entity, and a float or a string."""

    timestamp_ns: int
    entity: str
    value: float | str


class Recording:
    """A recording being written. Use it as a context manager so the file is always closed.

    Timestamps default to the current time (``time.time_ns()``).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self._writer = _Writer(os.fspath(path))

    def log_scalar(self, entity: str, value: float, *, timestamp_ns: int | None = None) -> None:
        """Append a scalar value for ``entity`` (a path such as ``"sensor/temp"``)."""
        self._writer.log_scalar(_now(timestamp_ns), entity, float(value))

    def log_text(self, entity: str, text: str, *, timestamp_ns: int | None = None) -> None:
        """Append a text value for ``entity``."""
        self._writer.log_text(_now(timestamp_ns), entity, text)

    @property
    def records(self) -> int:
        """How many records were written so far."""
        return self._writer.records

    @property
    def closed(self) -> bool:
        return self._writer.closed

    @property
    def path(self) -> str:
        return self._writer.path

    def close(self) -> None:
        """Flush and close the file; closing twice is allowed."""
        self._writer.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<reel.Recording {self.path!r} {state}, {self.records} records>"


def read(path: str | os.PathLike) -> list[Record]:
    """Read every record; raises ReelError naming the byte offset if the file is truncated or corrupted."""
    return [Record(*r) for r in _read(os.fspath(path))]


def verify(path: str | os.PathLike) -> int:
    """Check every record of a recording and return how many there are; raises ReelError if it is invalid."""
    return len(_read(os.fspath(path)))


def _now(timestamp_ns: int | None) -> int:
    return time.time_ns() if timestamp_ns is None else int(timestamp_ns)
