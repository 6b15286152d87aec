"""Translate driver failures into domain errors at the adapter boundary."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from adapters.outages import is_dependency_outage
from domain.errors import AstraError, Unavailable

P = ParamSpec("P")
R = TypeVar("R")

UNAVAILABLE_MESSAGE = "database unavailable"


def translate_unavailable(
    func: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Re-raise connection-level failures of `func` as `Unavailable` (`is_dependency_outage`)."""

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await func(*args, **kwargs)
        except AstraError:
            # Already a domain answer (e.g. `AlreadyExists` raised from an IntegrityError).
            raise
        except Exception as error:
            if is_dependency_outage(error):
                raise Unavailable(UNAVAILABLE_MESSAGE, retry_after=1) from error
            raise

    return wrapper
