"""Provider tokens sealed at rest: rotation keeps old data readable, a dropped key does not."""

from __future__ import annotations

import pytest

from adapters.security.sealing import FernetSecretBox
from domain.errors import Unavailable

OLD = "an-old-passphrase-that-is-long-enough-000"
NEW = "a-new-passphrase-that-is-long-enough-1111"


def test_sealed_text_opens_and_does_not_show_the_secret() -> None:
    box = FernetSecretBox([OLD])
    sealed = box.seal("wati-long-lived-token")
    assert "wati-long-lived-token" not in sealed
    assert box.seal("wati-long-lived-token") != sealed  # a fresh IV every time
    assert box.open(sealed) == "wati-long-lived-token"


def test_rotation_seals_with_the_newest_key_and_still_opens_old_data() -> None:
    sealed_before = FernetSecretBox([OLD]).seal("before")
    rotated = FernetSecretBox([NEW, OLD])
    assert rotated.open(sealed_before) == "before"
    sealed_after = rotated.seal("after")
    assert FernetSecretBox([NEW]).open(sealed_after) == "after"
    with pytest.raises(Unavailable):
        FernetSecretBox([OLD]).open(sealed_after)


@pytest.mark.parametrize("garbage", ["", "not-fernet", "gAAAAA" + "x" * 80, "é"])
def test_what_no_key_opens_is_unavailable_not_a_crash(garbage: str) -> None:
    with pytest.raises(Unavailable):
        FernetSecretBox([OLD]).open(garbage)


def test_a_box_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        FernetSecretBox([])
