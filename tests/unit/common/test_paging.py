"""§1.5 paging: one check for every list, offsets that always fit the database."""

from __future__ import annotations

import pytest

from application.common.paging import MAX_PAGE, MAX_PAGE_LIMIT, page_offset
from domain.errors import InvalidArgument


def test_the_offset_of_a_page() -> None:
    assert page_offset(1, 20) == 0
    assert page_offset(3, 20) == 40
    assert page_offset(MAX_PAGE, MAX_PAGE_LIMIT) < 2**63 - 1


@pytest.mark.parametrize(
    ("page", "limit", "field"),
    [
        (0, 20, "page"),
        (-1, 20, "page"),
        (MAX_PAGE + 1, 20, "page"),
        (2**63 - 1, 20, "page"),
        (1, 0, "limit"),
        (1, MAX_PAGE_LIMIT + 1, "limit"),
    ],
)
def test_out_of_range_paging_is_refused_by_name(page: int, limit: int, field: str) -> None:
    with pytest.raises(InvalidArgument, match=field):
        page_offset(page, limit)
