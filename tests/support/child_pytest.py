"""Running a small test file in a pytest process of its own, with this suite's plugins.

For tests of what happens when a run fails, times out or is killed: that cannot be done to the
run itself. The child loads `tests.conftest` as a plugin (orphan guard, timeouts, fixtures)
and pyproject.toml's settings, and is itself a peer of the parent run (`spawn`), so a failing
parent test stops it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.peers import spawn, stop

REPO_ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def child_pytest(
    test_file: Path, *args: str, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `pytest test_file` (output in `test_file` + ".log"); stopped on exit if still up."""
    command = [
        sys.executable, "-m", "pytest", "-q", "-s",
        "-c", str(REPO_ROOT / "pyproject.toml"), "--rootdir", str(REPO_ROOT),
        "-p", "tests.conftest", "-p", "no:cacheprovider",
        *args, str(test_file),
    ]  # fmt: skip
    environment = {**os.environ, **(env or {})}
    log_path = test_file.with_suffix(".log")
    with log_path.open("wb") as log:
        # `python -m pytest` from the checkout, so `tests` is importable as in the parent.
        process = spawn(command, stdout=log, env=environment, cwd=REPO_ROOT)
    try:
        yield process
    finally:
        stop(process)


def output_of(test_file: Path) -> str:
    return test_file.with_suffix(".log").read_text(errors="replace")
