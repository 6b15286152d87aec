"""Contract §1.5 paging, checked the same way by every list."""

from __future__ import annotations

from domain.errors import InvalidArgument

MAX_PAGE_LIMIT = 100
# Far beyond any real list, and it keeps `offset` well inside int64 (SQLite's and
# PostgreSQL's OFFSET), so no page number can overflow a query.
MAX_PAGE = 1_000_000


def page_offset(page: int, limit: int) -> int:
    """The row offset of a page, after checking `page` (1 … MAX_PAGE) and `limit`."""
    if not 1 <= page <= MAX_PAGE:
        raise InvalidArgument("page", f"must be between 1 and {MAX_PAGE}")
    if not 1 <= limit <= MAX_PAGE_LIMIT:
        raise InvalidArgument("limit", f"must be between 1 and {MAX_PAGE_LIMIT}")
    return (page - 1) * limit
