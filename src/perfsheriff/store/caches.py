"""Caches of what the database holds, kept apart per engine.

Two databases open in one process (a test beside another, a server and a migration) must never see each
other's ids or pages, so every cache here is reached through the engine it describes and forgotten with
it. Each holds only what stays true for the engine's life (ids of rows never renamed or deleted) or carries
the version it was read at, so that a reader can tell when to read again.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Engine

K = TypeVar("K")
V = TypeVar("V")


class PerEngine(Generic[V]):
    """One value per engine, made by ``factory`` on first use and dropped when the engine is collected."""

    def __init__(self, factory: Callable[[], V]) -> None:
        self._factory = factory
        self._values: weakref.WeakKeyDictionary[Engine, V] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, engine: Engine) -> V:
        with self._lock:
            found = self._values.get(engine)
            if found is None:
                found = self._values[engine] = self._factory()
            return found


class Recent(Generic[K, V]):
    """A small thread-safe map that keeps the ``size`` entries used last."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class Versioned(Generic[K, V]):
    """Per engine, the last ``size`` values read, each with the version of the data it was read from: a value is
    read again when its data's version changed (see ``seriesinfo.series_version``)."""

    def __init__(self, size: int) -> None:
        self._recent: PerEngine[Recent[K, tuple[object, V]]] = PerEngine(lambda: Recent(size))

    def get(self, engine: Engine, key: K, version: object, read: Callable[[], V]) -> V:
        recent = self._recent(engine)
        found = recent.get(key)
        if found is not None and found[0] == version:
            return found[1]
        value = read()
        recent.put(key, (version, value))
        return value


#: The dashboard's graphs: the last few series read whole (zooming and panning asks for the same series again
#: and again), and the last few comparisons of two revisions (sorted and reloaded while thousands of series are
#: compared). Their values are the service's views, hence ``Any``.
series_reads: Versioned[str, Any] = Versioned(8)
comparisons: Versioned[tuple[int, int], Any] = Versioned(16)
