"""One transaction's writes over a committed dict of rows, with unique keys checked."""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from domain.errors import AlreadyExists


class Row(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...


R = TypeVar("R", bound=Row)
UniqueKeys = Callable[[R], list[Hashable]]


class PendingRows(Generic[R]):
    """One transaction's writes over a committed dict; `None` marks a deletion.

    `unique_keys` gives a row's unique-index values: a clash raises `AlreadyExists` when it is
    written and again at commit (another transaction may have committed the same key since).
    """

    def __init__(self, committed: dict[str, R], unique_keys: UniqueKeys[R], clash: str) -> None:
        self.committed = committed
        self.pending: dict[str, R | None] = {}
        self._unique_keys = unique_keys
        self._clash = clash

    def get(self, tenant_id: str, row_id: str) -> R | None:
        found = self.pending[row_id] if row_id in self.pending else self.committed.get(row_id)
        if found is None or found.tenant_id != tenant_id:
            return None
        return copy.deepcopy(found)

    def where(self, predicate: Callable[[R], bool]) -> list[R]:
        return [copy.deepcopy(row) for row in self._visible().values() if predicate(row)]

    def put(self, row: R) -> None:
        self._refuse_clash(self._visible(), row)
        self.pending[row.id] = copy.deepcopy(row)

    def remove(self, row_id: str) -> None:
        self.pending[row_id] = None

    def check(self) -> None:
        visible = self._visible()
        for row in self.pending.values():
            if row is not None:
                self._refuse_clash(visible, row)

    def apply(self) -> None:
        for row_id, row in self.pending.items():
            if row is None:
                self.committed.pop(row_id, None)
            else:
                self.committed[row_id] = row
        self.pending.clear()

    def _visible(self) -> dict[str, R]:
        merged: dict[str, R | None] = {**self.committed, **self.pending}
        return {row_id: row for row_id, row in merged.items() if row is not None}

    def _refuse_clash(self, visible: dict[str, R], row: R) -> None:
        keys = set(self._unique_keys(row))
        if not keys:
            return
        for other in visible.values():
            if other.id != row.id and keys & set(self._unique_keys(other)):
                raise AlreadyExists(self._clash)
