"""Shared column sets: the sync mixin and time helpers.

Every syncable row has a client-made UUID id, a `version` bumped on each change, a
`server_seq` from the global change counter (commit-ordered, see server/models/sync.py), server
timestamps, the device clock it was observed at (evidence only), and a tombstone.
"""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone
from functools import lru_cache

import orjson
from sqlalchemy import BigInteger, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON

from server.extensions import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@lru_cache(maxsize=64)
def day_text(ordinal: int) -> str:
    """A day's ISO text ("YYYY-MM-DD", as date.isoformat() writes it), by its ordinal: the dates
    and timestamps a sync push writes fall on a few days, and formatting one costs more than
    finding it."""
    day = date.fromordinal(ordinal)
    return "%04d-%02d-%02d" % (day.year, day.month, day.day)


TWO_DIGITS = tuple("%02d" % n for n in range(60))  # hours, minutes, seconds as text


def utc_isoformat(value: datetime) -> str:
    """`value.isoformat()` of a datetime in `timezone.utc` (utcnow()'s), in about half the
    instructions: the day's text cached, the two-digit fields from a table, one join."""
    micro = value.microsecond
    return "".join((day_text(value.toordinal()), "T", TWO_DIGITS[value.hour], ":", TWO_DIGITS[value.minute], ":",
                    TWO_DIGITS[value.second], ".%06d+00:00" % micro if micro else "+00:00"))


def new_uuid() -> str:
    return str(uuid.uuid4())


class UTCDateTime(db.TypeDecorator):
    """Timezone-aware UTC datetimes on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


JSONType = JSON


def json_dumps(value) -> str:
    """The JSON columns' serializer (engine option): orjson, in C, where json.dumps walked every
    value in Python (~7 JSON columns a synced mutation: audit before/after, stored answers,
    photo lists). Same JSON, without json.dumps' spaces and \\u escapes; a value orjson does
    not take goes to json.dumps, which serializes or refuses it as before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def json_loads(text: str):
    """The JSON columns' deserializer: orjson, falling back to json.loads for what only it reads
    (NaN, integers beyond 64 bits, written by json.dumps before)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class SyncMixin:
    """Columns shared by every table the phone syncs."""

    __syncable__ = True

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    server_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    client_observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # {field: version at which it last changed}; lets sync tell a parallel edit of another
    # field (merge) from an edit of the same field (conflict). Maintained in models/sync.py.
    field_versions: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
