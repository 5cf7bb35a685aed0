"""Clients created once per process, lazily: after a fork the child makes its
own (pymongo and connection pools are not fork-safe)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        pid = os.getpid()
        if self._pid != pid or self._value is None:
            with self._lock:
                if self._pid != pid or self._value is None:
                    self._value = self._factory()
                    self._pid = pid
        return self._value

    def reset(self) -> None:
        with self._lock:
            self._value = None
            self._pid = None
