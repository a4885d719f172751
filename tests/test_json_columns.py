"""JSON columns go through orjson (server/models/base.py json_dumps/json_loads, set as engine
options): the same values back as json.dumps/json.loads gave, rows written before still read."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from server.extensions import db
from server.models import AuditEvent
from server.models.base import json_dumps, json_loads

VALUES = [{"描述": "疏散通道堆放杂物", "photos": ["ab" * 32], "n": 3, "x": 2.5, "ok": True, "none": None},
          {1: "int key"}, [], {}, "文本", 0, None, [{"nested": [1, [2, {"3": 4.0}]]}]]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_same_values_as_the_standard_library(value):
    assert json.loads(json_dumps(value)) == json.loads(json.dumps(value))
    assert json_loads(json_dumps(value)) == json.loads(json.dumps(value))
    assert json_loads(json.dumps(value)) == json.loads(json.dumps(value))


def test_what_the_standard_library_refuses_is_refused():
    with pytest.raises(TypeError):
        json_dumps({"fine": Decimal("200.00")})


def test_text_only_the_standard_library_reads_still_reads():
    assert json_loads('{"a": NaN, "big": 123456789012345678901234567890}') == json.loads(
        '{"a": NaN, "big": 123456789012345678901234567890}')


def test_columns_are_written_by_orjson_and_old_rows_read(db):
    event = AuditEvent(action="test.json", entity="test", entity_id="1", after={"名称": "港城大厦", "n": [1, 2]})
    db.session.add(event)
    db.session.commit()
    stored = db.session.execute(text("SELECT CAST(after AS TEXT) FROM audit_events WHERE id = :i"),
                                {"i": event.id}).scalar()
    assert stored == '{"名称":"港城大厦","n":[1,2]}'  # compact UTF-8, as orjson writes it
    # a row json.dumps wrote (spaces, \\u escapes) reads the same
    db.session.execute(text("UPDATE audit_events SET after = :t WHERE id = :i"),
                       {"t": json.dumps({"名称": "港城大厦", "n": [1, 2]}), "i": event.id})
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalar(select(AuditEvent.after).where(AuditEvent.id == event.id)) == {"名称": "港城大厦", "n": [1, 2]}
