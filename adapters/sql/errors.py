"""Translate driver failures into domain errors at the adapter boundary."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import exc as sa_exc

from domain.errors import Unavailable

P = ParamSpec("P")
R = TypeVar("R")

UNAVAILABLE_MESSAGE = "database unavailable"


def is_unavailable(error: BaseException) -> bool:
    """True for failures that mean "the database cannot be reached or is too busy"."""
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    # asyncpg raises plain OSError/TimeoutError while connecting, unwrapped by SQLAlchemy.
    return isinstance(error, OSError | TimeoutError)


def translate_unavailable(
    func: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Re-raise connection-level failures of `func` as `Unavailable`."""

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await func(*args, **kwargs)
        except Exception as error:
            if is_unavailable(error):
                raise Unavailable(UNAVAILABLE_MESSAGE) from error
            raise

    return wrapper
