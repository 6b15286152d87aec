"""Predictable ids and secrets, so tests can name what the code under test generated."""

from __future__ import annotations

import itertools

from application.common.ports import IdGenerator, SecretGenerator


class SequentialIds(IdGenerator):
    def __init__(self, prefix: str = "id") -> None:
        self._prefix = prefix
        self._counter = itertools.count(1)

    def new_id(self) -> str:
        return f"{self._prefix}-{next(self._counter)}"


class PredictableSecrets(SecretGenerator):
    """Tokens `token-1`, `token-2`…; codes `100001`, `100002`… Both remembered in order."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self.tokens: list[str] = []
        self.codes: list[str] = []

    def token(self) -> str:
        token = f"token-{next(self._counter)}"
        self.tokens.append(token)
        return token

    def numeric_code(self, digits: int) -> str:
        code = str(10 ** (digits - 1) + next(self._counter)).zfill(digits)[-digits:]
        self.codes.append(code)
        return code

    @property
    def last_code(self) -> str:
        return self.codes[-1]
