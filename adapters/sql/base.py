"""The declarative base and the one `MetaData` (with a naming convention) of every record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from advanced_alchemy.base import convention
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names make migrations reproducible on every database.
metadata = MetaData(naming_convention=convention)


class Base(DeclarativeBase):
    metadata = metadata
    # SQLite drops tzinfo; DateTimeUTC stores UTC and hands back aware datetimes everywhere.
    type_annotation_map: dict[Any, Any] = {datetime: DateTimeUTC()}
