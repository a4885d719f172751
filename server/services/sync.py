"""Offline sync, server side (DESIGN §6): push replays mutations through the domain services;
pull returns rows in commit order.

Push: one transaction per batch, a savepoint per mutation. Every final answer (applied,
duplicate, conflict, rejected) is stored in `processed_mutations` in the same transaction as
the change, so replaying a mutation returns the stored answer; the same mutation id with a
different payload is `rejected` (`id_reuse`). `retry` (a blob or the created row is not there
yet, or a passing server fault) is never stored.

Concurrency: the batch first takes the change-counter row lock (the same lock every write
transaction takes for `server_seq`), so two pushes of the same batch run one after the other
and the second finds the first's stored answers. On SQLite, BEGIN IMMEDIATE does the same.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import logging
import operator
import uuid
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from types import SimpleNamespace

import orjson
from marshmallow import fields as ma_fields
from sqlalchemy import (JSON, Date, String, Text, bindparam, cast, event, func, literal, literal_column, null,
                        select, text)
from sqlalchemy import true, type_coerce, union_all
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import NullType

from server.database import insert_rows
from server.extensions import db
from server.models import (SYNC_ENTITIES, Blob, Campaign, CampaignDoor, Device, Document, FieldHistory,
                           Hazard, HazardEvidence, Inspection, ItemResult, ProcessedMutation, ScopeExit,
                           ServiceRecord, Venue, campaign_areas)
from server.models.accounts import Area
from server.models.base import UTCDateTime, utcnow
from server.models.sync import SeqAllocator
from server.services import audit
from server.services.calendar import shared_calendar
from server.services.inspections import find_row, known_absent
from server.services.access import OWNER, authorize, owner_venue_ids, scope_area_ids, venue_scope_clause
from server.services.errors import DomainError, Forbidden, NotFound, RuleViolation
from server.services.registry import load_handlers

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_BATCH = 500
FINAL = ("applied", "duplicate", "conflict", "rejected")
ISSUED_STATES = ("issued", "served", "superseded", "voided")

# Output schema per entity ("module:Class"); the pull nests the resources' own schemas.
ENTITY_SCHEMAS = {
    "venue": "server.api.venues:VenueSchema",
    "task": "server.api.tasks:TaskSchema",
    "campaign": "server.api.campaigns:CampaignSchema",
    "campaign_door": "server.api.campaigns:CampaignDoorSchema",
    "inspection": "server.api.inspections:InspectionSchema",
    "item_result": "server.api.inspections:ItemResultSchema",
    "hazard": "server.api.hazards:HazardSchema",
    "document": "server.api.documents:DocumentSchema",
    "service_record": "server.api.documents:ServiceRecordSchema",
}
_schema_cache: dict[str, object] = {}


class UpgradeRequired(DomainError):
    status = 426
    default_reason = "sync_upgrade_required"


class BatchTooLarge(DomainError):
    status = 413
    default_reason = "sync_batch_too_large"


# --- serialisation -----------------------------------------------------------------------

def _schema(entity: str):
    if entity not in _schema_cache:
        schema = None
        path = ENTITY_SCHEMAS.get(entity)
        if path:
            module_name, cls_name = path.split(":")
            try:
                schema = getattr(importlib.import_module(module_name), cls_name)()
            except (ImportError, AttributeError):
                schema = None
        _schema_cache[entity] = schema
    return _schema_cache[entity]


_PLAIN_FIELDS = (ma_fields.String, ma_fields.Integer, ma_fields.Boolean, ma_fields.Raw, ma_fields.Dict)
_dumpers: dict[str, object] = {}


def _plan(schema) -> list[tuple]:
    """(output key, attribute, how, field) for each dumped field of a schema."""
    plan = []
    for name, field in schema.dump_fields.items():
        key = field.data_key or name
        attr = field.attribute or name
        if type(field) in _PLAIN_FIELDS or (type(field) is ma_fields.List and type(field.inner) in _PLAIN_FIELDS):
            plan.append((key, attr, None, None))
        elif type(field) is ma_fields.Float:
            plan.append((key, attr, "float", None))
        elif type(field) is ma_fields.Date:
            plan.append((key, attr, "date", None))
        elif type(field) is ma_fields.DateTime and field.format in (None, "iso"):
            plan.append((key, attr, "datetime", None))
        else:
            plan.append((key, name, "field", field))
    return plan


def _compile(schema, model=None):
    """A fast dumper with exactly the schema's output: plain attributes are read directly,
    dates formatted as marshmallow's ISO default, every other field through its own serialize.
    For a row of `model`, a loaded column is read from the instance dict (what its attribute
    returns; an unloaded one goes through the attribute, which loads it). A `_NewRow` (a push's
    bulk insert) holds every column's value in its dict, and its dates and datetimes are taken as
    its audit snapshot wrote them (audit.jsonable: the same isoformat()), not formatted again."""
    plan = _plan(schema)
    columns = {prop.key for prop in sa_inspect(model).column_attrs} if model is not None else set()
    direct = [(key, attr, how, field, attr in columns and how != "field") for key, attr, how, field in plan]
    snapshot = set(_snapshot_keys(model)) if model is not None else set()
    new_row = [(key, attr, "written" if column and how in ("date", "datetime") and attr in snapshot else how, field,
                column) for key, attr, how, field, column in direct]
    no_values: dict = {}

    def dump_new_row(obj) -> dict:
        values, written = obj.__dict__, obj.snapshot
        out = {}
        for key, attr, how, field, column in new_row:
            if how == "written":
                value = written[attr]
            elif how == "field":
                value = field.serialize(attr, obj, accessor=schema.get_attribute)
            else:
                value = values[attr] if column else getattr(obj, attr, None)
                if value is not None and how is not None:
                    value = float(value) if how == "float" else value.isoformat()
            out[key] = value
        return out

    def dump_row(obj) -> dict:
        if type(obj) is _NewRow:
            return dump_new_row(obj)
        out = {}
        values = obj.__dict__ if type(obj) is model else no_values
        for key, attr, how, field, column in direct:
            if how == "field":
                value = field.serialize(attr, obj, accessor=schema.get_attribute)
            else:
                value = values[attr] if column and attr in values else getattr(obj, attr, None)
                if value is not None and how is not None:
                    value = float(value) if how == "float" else value.isoformat()
            out[key] = value
        return out

    return dump_row


def _dumper(entity: str):
    dumper = _dumpers.get(entity)
    if dumper is None:
        schema = _schema(entity)
        dumper = _dumpers[entity] = _compile(schema, SYNC_ENTITIES.get(entity)) if schema is not None \
            else _snapshot_dumper
    return dumper


def dump(entity: str, row) -> dict:
    """A row as the phone stores it: the resource's schema, else its columns."""
    return _dumper(entity)(row)


_row_dumpers: dict[tuple[str, str], _RowDumper | None] = {}  # (entity, dialect name)

# Function fields the pull reads through a join instead of loading ORM objects:
# entity -> (joined model, ON clause, {output key: column of the joined model}). Each must equal
# the schema's Function (tests/sync/test_pull_rows.py compares them row by row).
_JOINED_FIELDS = {
    "venue": lambda: (Area, Area.id == Venue.area_id, {"area_code": Area.code, "area_name": Area.name}),
}


class _RowDumper:
    """How pull reads and dumps one entity's rows without ORM objects: `columns` to select (from
    `joins`), and `dump(row) -> (server_seq, id, version, deleted, data)`.

    The columns are selected in the schema's key order and read as the driver returns them, so a
    row's data is `dict(zip(keys, row))` with only its non-NULL values that need it converted:
    SQLAlchemy's own converter of the column type where it has one (SQLite: booleans, dates,
    datetimes; it would otherwise run on every value, NULLs included, row by row), `float` for
    Float fields, and JSON columns read as their text and written as it is (`orjson.Fragment`).
    Same output as the schema's once encoded as JSON: dates and datetimes stay objects that
    `encode_json` writes in marshmallow's ISO 8601 form (UTCDateTime values naive on SQLite,
    written as UTC).
    """

    def __init__(self, entity: str, dialect):
        model = SYNC_ENTITIES[entity]
        joined_model, on, joined = _JOINED_FIELDS[entity]() if entity in _JOINED_FIELDS else (None, None, {})
        by_attr = {prop.key: prop.columns[0] for prop in sa_inspect(model).column_attrs}
        keys, columns, convert, at = [], [], [], {}
        for key, attr, how, _ in _plan(_schema(entity)):
            column = joined.get(key) if how == "field" else by_attr.get(attr)
            if column is None:
                raise LookupError(f"{entity}.{key} is not a column")
            at.setdefault(column, len(keys))  # a row keeps the driver's values; `data` the converted ones
            keys.append(key)
            kind = column.type
            if isinstance(kind, JSON):
                columns.append(cast(column, Text).label(key))
                convert.append((key, _FRAGMENT))
                continue
            columns.append(type_coerce(column, NullType()).label(key))  # the driver's value as it is
            if how == "float":  # marshmallow's Float: float() of whatever the driver gives
                convert.append((key, _FLOAT))
                continue
            if how in ("date", "datetime") and not isinstance(kind, Date if how == "date" else UTCDateTime):
                raise LookupError(f"{entity}.{key}: a {how} field on a {kind} column")
            # What SQLAlchemy would do to the driver's value (SQLite: booleans, dates, datetimes),
            # except that a UTCDateTime stays naive where the driver gives it so (SQLite): all it
            # would add is tzinfo=UTC, and `encode_json` writes naive datetimes as UTC (+00:00).
            if isinstance(kind, UTCDateTime):
                kind = kind.impl_instance
            general = kind.dialect_impl(dialect).result_processor(dialect, None)
            if general is not None:
                convert.append((key, general))
        # The change's envelope, read from the data's columns where the schema has them.
        envelope = []
        for column in (by_attr["server_seq"], by_attr["id"], by_attr["version"], by_attr["deleted_at"]):
            if column not in at:
                at[column] = len(columns)
                columns.append(type_coerce(column, NullType()))
            envelope.append(at[column])
        self.columns = columns
        self.joins = (joined_model, on) if joined_model is not None else None
        self.keys, self.convert, self.envelope = tuple(keys), tuple(convert), tuple(envelope)

    def dump(self, row) -> tuple:
        data = dict(zip(self.keys, row))
        for key, fn in self.convert:
            value = data[key]
            if value is not None:
                data[key] = fn(value)
        seq, row_id, version, deleted_at = self.envelope
        return row[seq], row[row_id], row[version], row[deleted_at] is not None, data


def _row_dumper(entity: str, dialect) -> _RowDumper | None:
    """The Core-row dumper of an entity whose schema is plain columns (and joined fields); else None."""
    key = (entity, dialect.name)
    if key not in _row_dumpers:
        try:
            found = _RowDumper(entity, dialect) if _schema(entity) is not None else None
        except LookupError:
            found = None
        _row_dumpers[key] = found
    return _row_dumpers[key]


_FLOAT, _FRAGMENT = float, orjson.Fragment


def _snapshot_dumper(row) -> dict:
    data = audit.snapshot(row)
    data.pop("field_versions", None)
    return data


def payload_sha256(m: dict) -> str:
    body = {"entity": m.get("entity"), "entity_id": m.get("entity_id"), "op": m.get("op"),
            "base_version": m.get("base_version"), "fields": m.get("fields"), "blob_hashes": m.get("blob_hashes")}
    return hashlib.sha256("".join(_payload_json(body, 0)).encode()).hexdigest()


# What json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
# builds on every call: the stored digests depend on these exact bytes.
_PAYLOAD_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _payload_encoder():
    """The C encoder JSONEncoder.encode makes on every call (about half of a digest's cost), made
    once with the same settings. Without the circular-reference check: a payload is parsed JSON,
    which cannot refer to itself (one that did would raise RecursionError instead of ValueError)."""
    make = json.encoder.c_make_encoder
    if make is None:  # no C accelerator: JSONEncoder's own way
        return lambda body, _level: (_PAYLOAD_JSON.encode(body),)
    enc = _PAYLOAD_JSON
    return make(None, enc.default, json.encoder.encode_basestring, enc.indent, enc.key_separator,
                enc.item_separator, enc.sort_keys, enc.skipkeys, enc.allow_nan)


_payload_json = _payload_encoder()


def _same(server_value, incoming) -> bool:
    """Compare a stored value with what the phone sent (JSON), types aside."""
    if server_value is None or incoming is None:
        return server_value is None and incoming is None
    try:
        if isinstance(server_value, datetime):
            other = datetime.fromisoformat(str(incoming))
            if other.tzinfo is None:
                return server_value.replace(tzinfo=None) == other
            return server_value == other
        if isinstance(server_value, date):
            return server_value.isoformat() == str(incoming)[:10]
        if isinstance(server_value, (Decimal, float, int)) and not isinstance(server_value, bool):
            return float(server_value) == float(incoming)
    except (TypeError, ValueError):
        return False
    return server_value == incoming


# --- push --------------------------------------------------------------------------------

def push(actor, *, device_id: str, schema_version: int, mutations: list[dict]) -> dict:
    """Judge and apply a batch of mutations from one device; returns per-mutation results."""
    authorize(actor, "sync.use")
    if schema_version != SCHEMA_VERSION:
        raise UpgradeRequired(version=SCHEMA_VERSION)
    if len(mutations) > MAX_BATCH:
        raise BatchTooLarge(max=MAX_BATCH)
    handlers = load_handlers()
    for attempt in range(3):
        try:
            return _push_once(actor, device_id, mutations, handlers)
        except IntegrityError:
            # A concurrent push committed the same rows between our check and our write
            # (possible only without the counter lock, e.g. a first-ever counter row).
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _lock_counter() -> int:
    """Take the change counter's row lock for the rest of the transaction; returns its value."""
    # On the session's connection (the transaction starts here): text needs none of the ORM's execute.
    connection = db.session.connection()
    row = connection.execute(_LOCK_COUNTER).first()
    if row is None:
        connection.execute(text("INSERT INTO change_counter (id, value) VALUES (1, 0)"))
        return 0
    return int(row[0])


_LOCK_COUNTER = text("UPDATE change_counter SET value = value WHERE id = 1 RETURNING value")


# Creates whose services read only through queries (autoflush) or check this batch's unflushed
# rows themselves, so several can run in one savepoint with one flush (see _judge_group).
GROUPABLE_CREATES = frozenset({"inspection", "item_result", "hazard"})
MAX_GROUP = 100


def _push_once(actor, device_id, mutations, handlers) -> dict:
    session = db.session
    # The lock is held until commit, so this batch's server_seq numbers are handed out in memory.
    seqs = SeqAllocator(_lock_counter())
    results = []
    token_dev = audit.current_device.set(device_id)
    # The identity map holds rows weakly: keep every row this batch loads or writes alive, so
    # the next mutation (an item result of the inspection just created, say) finds it without
    # selecting it and its relationships again.
    keep: list = []
    session.info["keep_alive"] = keep
    session.info["seq_allocator"] = seqs
    session.info["audit_buffer"] = events = audit.EventBuffer()
    # Lookups a service may keep for the rest of the batch (emptied on a savepoint rollback).
    session.info["batch_cache"] = batch_cache = {}
    # The rows each mutation adds, by (model, id): find_row's "created earlier in this batch?"
    session.info["pending_by_key"] = {}
    attached: list = []  # rows insert_new_row attached to the session, in order
    token_absent = None
    try:
        with shared_calendar():
            batch = _Batch(actor, device_id, mutations, keep, seqs, events, batch_cache, attached)
            token_absent = known_absent.set((db.session(), batch.absent))
            if INSERT_NEW_ROWS:
                session.info["insert_new_row"] = batch.insert_new_row
            for group in _groups(mutations, batch):
                if len(group) > 1:
                    group_results = _judge_group(actor, group, handlers, batch)
                    if group_results is not None:
                        results.extend(group_results)
                        continue
                results.extend(_judge(actor, m, handlers, batch) for m in group)
            status = _record_device(session, actor, device_id, [m.get("device_seq") for m in mutations])
            events.write(session)
            batch.write_processed()
            seqs.store(session)
    except BaseException:
        # A rollback expunges the rows a flush added, not those insert_new_row attached.
        _expunge(session, attached)
        raise
    finally:
        audit.current_device.reset(token_dev)
        if token_absent is not None:
            known_absent.reset(token_absent)
        for key in ("keep_alive", "seq_allocator", "audit_buffer", "batch_cache", "pending_by_key", "insert_new_row"):
            session.info.pop(key, None)
    try:
        session.commit()
    except BaseException:
        _expunge(session, attached)
        raise
    return {"results": results, "device": status}


@lru_cache(maxsize=16)
def _insert(table):
    return table.insert()


def _expunge(session, rows) -> None:
    for row in rows:
        if row in session:
            session.expunge(row)


@event.listens_for(Session, "loaded_as_persistent")
@event.listens_for(Session, "pending_to_persistent")
def _keep_alive(session, instance):
    keep = session.info.get("keep_alive")
    if keep is not None:
        keep.append(instance)


class _Stored:
    """A judged mutation of this batch (the same id twice in one batch gets the same answer)."""

    __slots__ = ("payload_sha256", "result")

    def __init__(self, payload_sha256, result):
        self.payload_sha256, self.result = payload_sha256, result


@lru_cache(maxsize=64)
def _lookup_query(models: tuple, postgresql: bool):
    """(t, key, payload_sha256, result) rows: t = -1 for each stored answer among the
    `mutation_ids`, t = i for each id among `ids_<i>` that `models[i]` has. Built once per
    combination of tables (a batch's statement cost more to make than to run)."""
    stored = (ProcessedMutation.mutation_id, ProcessedMutation.payload_sha256, ProcessedMutation.result)
    branches = [_select_among(stored, "mutation_ids", postgresql, lambda c: (literal(-1).label("t"), *c))]
    for i, model in enumerate(models):
        branches.append(_select_among((model.id,), f"ids_{i}", postgresql,
                                      lambda c, i=i: (literal(i), c[0], null(), null())))
    return union_all(*branches)


def _select_among(columns: tuple, name: str, postgresql: bool, shape):
    """SELECT shape(columns) for the rows whose key (columns[0], unique) is in the list
    parameter `name`.

    SQLite: `key IN (…)`. PostgreSQL: one probe of the key's index per listed key (a lateral
    subquery over `unnest(array)`), whatever the table's statistics say: with `key = ANY(array)`
    the planner scans a table it still believes small (one that grew since autovacuum last
    analysed it, as every table of a new deployment does) from end to end on every push. The
    array is one parameter, so the statement's text is the same for any number of keys."""
    key = columns[0]
    if not postgresql:
        return select(*shape(columns)).where(key.in_(bindparam(name, expanding=True)))
    keys = func.unnest(bindparam(name, type_=ARRAY(key.type))).table_valued("key").render_derived()
    # LIMIT 1 keeps the subquery from being pulled up into a join the planner may hash.
    row = select(*columns).where(key == keys.c.key).limit(literal_column("1")).lateral()
    return select(*shape(tuple(row.c[c.key] for c in columns))).select_from(keys).join(row, true())


# New rows that later rules read as objects (an inspection) go in by Core statements and are
# attached as stored (_Batch.insert_new_row); False: added and flushed as ORM rows (tests compare).
INSERT_NEW_ROWS = True


class _Batch:
    """What one push looks up once for all its mutations, and the rows it writes at the end."""

    def __init__(self, actor, device_id, mutations, keep, seqs, events, cache, attached):
        self.keep, self.seqs, self.events, self.cache, self.attached = keep, seqs, events, cache, attached
        self.user_id, self.device_id = actor.id, device_id  # whose answers `store` keeps (read once)
        # Which created ids are not in the database yet (a replayed create's too: the answer is
        # the same for it, and asking costs nothing more), by table.
        created: dict[type, set] = {}
        for m in mutations:
            model = SYNC_ENTITIES.get(m.get("entity"))
            if m.get("op") == "create" and model is not None:
                created.setdefault(model, set()).add(m["entity_id"])
        models = tuple(created)
        params = {f"ids_{i}": list(created[model]) for i, model in enumerate(models)}
        params["mutation_ids"] = [m["mutation_id"] for m in mutations]
        # One statement for the stored answers and every table's ids: Core rows on the session's
        # connection, only the columns a replay needs, no ORM rows.
        self.processed, found = {}, set()
        connection = db.session.connection()
        lookup = _lookup_query(models, connection.dialect.name == "postgresql")
        for t, key, digest, result in connection.execute(lookup, params):
            if t < 0:
                self.processed[key] = _Stored(digest, result)
            else:
                found.add((models[t], key))
        self.absent = {(model, i) for model, wanted in created.items() for i in wanted} - found
        hashes = {h for m in mutations for h in (m.get("blob_hashes") or [])}
        # Loaded as rows (kept alive), so the services' own blob checks find them in the session.
        self.blobs = {b.sha256 for b in db.session.scalars(select(Blob).where(Blob.sha256.in_(hashes)))} \
            if hashes else set()
        self.new_processed: list[dict] = []

    def mark(self):
        return (self.events.mark(), self.seqs.mark(), len(self.new_processed), len(self.attached))

    def reset(self, mark) -> None:
        events, seqs, processed, attached = mark
        # A savepoint's rollback expunges the rows its flushes added; those insert_new_row
        # attached are expunged here (their rows are gone with the savepoint).
        _expunge(db.session(), self.attached[attached:])
        del self.attached[attached:]
        self.cache.clear()
        self.events.reset(events)
        self.seqs.reset(seqs)
        for row in self.new_processed[processed:]:
            self.processed.pop(row["mutation_id"], None)
        del self.new_processed[processed:]

    def store(self, m, digest, result) -> None:
        self.new_processed.append(dict(mutation_id=m["mutation_id"], device_id=self.device_id, user_id=self.user_id,
                                       device_seq=m.get("device_seq"), payload_sha256=digest,
                                       status=result["status"], result=result, created_at=utcnow()))
        self.processed[m["mutation_id"]] = _Stored(digest, result)

    def insert_new_row(self, model, values: dict, collections: dict):
        """Store a new `model` row with these column values and its many-to-many `collections`
        ({relationship: rows}) by Core statements, and attach it to the session as a flush would
        leave it: persistent, its values committed, server_seq the next number, version 1. Later
        changes to it flush as usual. None (nothing done) if the model has insert events or
        defaults a Core insert would skip: the caller adds and flushes the object instead.

        For a row later rules read as an object (an inspection: its item results and hazards),
        where a unit of work for the one row costs more than the rules."""
        try:
            params, row = _complete_row(model, values)
        except TypeError:
            return None
        mapper = sa_inspect(model)
        links = []
        for name, children in collections.items():
            prop = mapper.relationships[name]
            if prop.secondary is None:
                return None
            parent = {secondary.key: row[mapper.get_property_by_column(column).key]
                      for column, secondary in prop.synchronize_pairs}
            child_keys = [(secondary.key, prop.mapper.get_property_by_column(column).key)
                          for column, secondary in prop.secondary_synchronize_pairs]
            links.append((prop.secondary, [dict(parent, **{key: getattr(child, attr) for key, attr in child_keys})
                                           for child in children]))
        params["server_seq"] = row["server_seq"] = self.seqs.take(1)
        params["version"] = row["version"] = 1
        # INSERTs, not insert_rows: for one row and its few links COPY costs more (PostgreSQL).
        connection = db.session.connection()
        connection.execute(_insert(model.__table__), params)
        for table, rows in links:
            if rows:
                connection.execute(_insert(table), rows)
        obj = model(**row)
        make_transient_to_detached(obj)
        session = db.session()
        session.add(obj)
        for name, children in collections.items():
            set_committed_value(obj, name, list(children))
        self.keep.append(obj)
        self.attached.append(obj)
        return obj

    def write_processed(self) -> None:
        # Core on the session's connection: the same rows as the ORM's bulk insert, less machinery.
        insert_rows(ProcessedMutation.__table__, self.new_processed)


def _groups(mutations, batch: _Batch):
    """Split the batch into runs of new creates that may share a savepoint, and single mutations."""
    group: list = []
    ids: set = set()
    for m in mutations:
        fresh = (m.get("op") == "create" and m.get("entity") in GROUPABLE_CREATES
                 and m["mutation_id"] not in batch.processed and m["mutation_id"] not in ids
                 and all(h in batch.blobs for h in (m.get("blob_hashes") or [])))
        if fresh and len(group) < MAX_GROUP:
            group.append(m)
            ids.add(m["mutation_id"])
            continue
        if group:
            yield group
        group, ids = ([m], {m["mutation_id"]}) if fresh else ([], set())
        if not fresh:
            yield [m]
    if group:
        yield group


def _judge_group(actor, group, handlers, batch: _Batch) -> list | None:
    """Apply a run of creates in one savepoint; None if any of them is not plainly applied (then
    nothing of the run is kept and the caller judges each on its own, so every answer is exactly
    what the one-by-one path gives).

    Item results and hazards go through their services' rules without ORM rows (`BULK_CREATES`)
    and are inserted with one Core statement per run of one entity (`_BulkRows`); an inspection
    goes through its handler, as on the one-by-one path (which stores it by `insert_new_row`),
    and a flush for any change its rules made after (a task taken over)."""
    mark = batch.mark()
    savepoint = db.session.begin_nested()
    bulk = _BulkRows(batch, actor)
    try:
        rows = []
        for m in group:
            entity = m["entity"]
            model = SYNC_ENTITIES[entity]
            # An id already stored or created earlier in the batch is refused by the create's own
            # rules (check_new_id: id_taken), which sends the run one by one like any refusal; only
            # the rows of this run not inserted yet are beyond its sight.
            if bulk.holds(model, m["entity_id"]):
                raise _NotPlain()
            build = BULK_CREATES.get(entity)
            if build is None or bulk.model not in (None, model):
                # The next rule may read the rows before it (a hazard citing a failed item): stored first.
                bulk.write()
            token = audit.current_mutation.set(m["mutation_id"])
            try:
                if build is not None:
                    rows.append(bulk.add(entity, model, build(actor, m["entity_id"], dict(m.get("fields") or {}))))
                else:
                    rows.append(handlers[(entity, "create")](actor, m["entity_id"], dict(m.get("fields") or {})))
                    db.session.flush()  # as _apply does: its rows take their server_seq now, in mutation order
            finally:
                audit.current_mutation.reset(token)
        bulk.write()
        db.session.flush()
        results = [_result(m, "applied", version=row.version, server=dump(m["entity"], row))
                   for m, row in zip(group, rows)]
        savepoint.commit()
    except Exception as err:  # noqa: BLE001 - judged again one by one, which reports it
        savepoint.rollback()
        bulk.undo()
        batch.reset(mark)
        if not isinstance(err, _NotPlain):
            log.debug("sync group of %d falls back to one by one: %r", len(group), err)
        return None
    for m, result in zip(group, results):
        batch.store(m, payload_sha256(m), result)
    return results


def _bulk_creates() -> dict:
    from server.services.hazards import sync_hazard_values
    from server.services.inspections import sync_item_result_values

    return {"item_result": sync_item_result_values, "hazard": sync_hazard_values}


# entity -> the create handler's rules returning the new row's values (no ORM row, no flush)
BULK_CREATES = _bulk_creates()


class _NewRow:
    """A row inserted by `_BulkRows`: its column values as attributes (what the answer dumps), and
    `snapshot`, the audit event's view of it (`_snapshot_values`)."""

    __slots__ = ("__dict__", "snapshot")  # the snapshot beside the values, not among them

    def __init__(self, values: dict, snapshot: dict):
        self.__dict__.update(values)
        self.snapshot = snapshot


class _BulkRows:
    """New rows of one model, inserted together with one Core statement, exactly as a flush of
    ORM rows with the same values would store them (column defaults where a value is None,
    `server_seq` in mutation order, version 1, one audit event each with the row as stored)."""

    def __init__(self, batch: _Batch, actor):
        self.batch = batch
        # What every audit event of the push has in common (one actor and device per push).
        self.event = dict(user_id=getattr(actor, "id", None), role=getattr(actor, "role", None),
                          device_id=audit.current_device.get())
        self.model = None
        self.rows: list[dict] = []
        self.ids: set = set()
        self.written: list = []  # (model, id) taken out of batch.absent: put back on undo

    def holds(self, model, row_id) -> bool:
        return (model, row_id) in self.ids

    def add(self, entity, model, values: dict) -> _NewRow:
        params, row = _complete_row(model, values)
        params["server_seq"] = row["server_seq"] = self.batch.seqs.take(1)
        params["version"] = row["version"] = 1
        self.model = model
        self.rows.append(params)
        self.ids.add((model, row["id"]))
        after = _snapshot_values(model, row)
        self.batch.events.append(dict(self.event, mutation_id=audit.current_mutation.get(), action=f"{entity}.create",
                                      entity=entity, entity_id=str(row["id"]), before=None, after=after))
        return _NewRow(row, after)

    def write(self) -> None:
        if not self.rows:
            return
        table = self.model.__table__
        start = 0
        for end in range(1, len(self.rows) + 1):  # one statement per run of rows with the same columns
            if end == len(self.rows) or self.rows[end].keys() != self.rows[start].keys():
                insert_rows(table, self.rows[start:end])
                start = end
        for key in self.ids:
            if key in self.batch.absent:
                self.batch.absent.discard(key)
                self.written.append(key)
        self.model, self.rows, self.ids = None, [], set()

    def undo(self) -> None:
        self.batch.absent.update(self.written)


_row_plans: dict = {}  # (model, the given attributes in order) -> _RowPlan


class _RowPlan:
    """How `_complete_row` completes the values of `model` given these attributes, worked out
    once per model and set of given attributes (a run's rows all have the same): the given ones
    that take a default when None, and what every column not given gets."""

    __slots__ = ("fill_none", "constants", "calls", "nulls")

    def __init__(self, model, given: tuple):
        mapper = sa_inspect(model)
        if mapper.dispatch.before_insert or mapper.dispatch.after_insert:
            # A hook a Core insert would skip: such a model's runs go one by one (the caller falls back).
            raise TypeError(f"{model.__name__} has insert events the bulk insert would not run")
        unknown = set(given) - {prop.key for prop in mapper.column_attrs}
        if unknown:
            raise TypeError(f"not columns of {model.__name__}: {sorted(unknown)}")
        fill_none, constants, calls, nulls = [], {}, [], {}
        for prop in mapper.column_attrs:
            column = prop.columns[0]
            default = column.default
            if column.server_default is not None or (default is not None and not (default.is_scalar
                                                                                  or default.is_callable)):
                raise TypeError(f"{model.__name__}.{prop.key}: a default the bulk insert cannot compute")
            if column.key != prop.key:  # parameters are keyed by column, values by attribute
                raise TypeError(f"{model.__name__}.{prop.key}: mapped to column {column.key}")
            none_is_value = bool(getattr(column.type, "should_evaluate_none", False))
            if prop.key in given:
                if default is not None and not none_is_value:  # a JSON column keeps a None given as JSON null
                    fill_none.append((prop.key, default))
            elif default is None:
                # Not given, no default: NULL, and a JSON column is left out of the INSERT (else JSON null).
                (nulls if none_is_value else constants)[prop.key] = None
            elif default.is_scalar:
                constants[prop.key] = default.arg
            else:
                calls.append((prop.key, default.arg))
        self.fill_none, self.constants, self.calls, self.nulls = tuple(fill_none), constants, tuple(calls), nulls


def _complete_row(model, values: dict) -> tuple[dict, dict]:
    """(parameters to insert, the row's values) for what a flush of `model(**values)` inserts.

    As the ORM does: a value that is None or missing takes the column's default where it has one;
    a JSON column stores a None it was given as JSON null, and one it was not given (with no
    default) is left out of the INSERT, so it is SQL NULL (read back as None)."""
    given = tuple(values)
    plan = _row_plans.get((model, given))
    if plan is None:
        plan = _row_plans[(model, given)] = _RowPlan(model, given)
    params = dict(values)
    for attr, default in plan.fill_none:
        if params[attr] is None:
            params[attr] = default.arg if default.is_scalar else default.arg(None)
    params.update(plan.constants)
    for attr, make in plan.calls:
        params[attr] = make(None)
    row = dict(params)
    row.update(plan.nulls)
    return params, row


def _snapshot_values(model, values: dict) -> dict:
    """audit.snapshot of the row these values make (the same keys and JSON-safe values)."""
    as_is, jsonable = audit._AS_IS, audit.jsonable
    return {key: value if type(value := values[key]) in as_is else jsonable(value) for key in _snapshot_keys(model)}


def _snapshot_keys(model) -> tuple:
    keys = _snapshot_key_cache.get(model)
    if keys is None:
        keys = _snapshot_key_cache[model] = tuple(c.key for c in sa_inspect(model).column_attrs
                                                  if c.key not in audit.SKIP)
    return keys


_snapshot_key_cache: dict = {}


class _NotPlain(Exception):
    """A mutation of a group needs the one-by-one path (e.g. its row already exists)."""


def _record_device(session, actor, device_id: str, seqs) -> dict:
    """Note who used the device and which of its sequence numbers arrived; returns its status.

    Core statements on the session's connection (nothing else in a push reads the row as an
    object; the counter's lock keeps other pushes out until commit). A batch usually carries on
    where the device's last one ended: its numbers run on from max_seq without a gap, which
    leaves the missing list as it is, so one UPDATE … RETURNING (SQLite 3.35+, PostgreSQL) is
    the whole job when max_seq is what that needs. Otherwise the row is read, `_note_seqs`
    applies the general rule, and the row is written back (or inserted, for a new device)."""
    carry_on, read, insert, update = _device_statements()
    connection = session.connection()
    now = utcnow()
    valid = [s for s in seqs if isinstance(s, int) and s >= 1]  # the numbers _note_seqs counts
    if valid and valid == list(range(valid[0], valid[0] + len(valid))):
        row = connection.execute(carry_on, {"device_id": device_id, "last_max_seq": valid[0] - 1,
                                            "user_id": actor.id, "last_seen_at": now, "max_seq": valid[-1]}).first()
        if row is not None:
            return {"max_seq": valid[-1], "missing_seqs": list(row[0] or [])}
    row = connection.execute(read, {"device_id": device_id}).first()
    device = SimpleNamespace(max_seq=row[0] if row else 0, missing_seqs=row[1] if row else [])
    _note_seqs(device, seqs)
    connection.execute(insert if row is None else update, {
        "device_id": device_id, "user_id": actor.id, "last_seen_at": now, "max_seq": device.max_seq,
        "missing_seqs": device.missing_seqs})
    return {"max_seq": device.max_seq, "missing_seqs": list(device.missing_seqs or [])}


@lru_cache(maxsize=1)
def _device_statements() -> tuple:
    """_record_device's statements (carry on, read, insert, update), built once."""
    table = Device.__table__
    values = {key: bindparam(key) for key in ("user_id", "last_seen_at", "max_seq")}
    carry_on = (table.update().where(table.c.id == bindparam("device_id"), table.c.max_seq == bindparam("last_max_seq"))
                .values(**values).returning(table.c.missing_seqs))
    read = select(table.c.max_seq, table.c.missing_seqs).where(table.c.id == bindparam("device_id"))
    values["missing_seqs"] = bindparam("missing_seqs")
    insert = table.insert().values(id=bindparam("device_id"), **values)
    update = table.update().where(table.c.id == bindparam("device_id")).values(**values)
    return carry_on, read, insert, update


def _note_seqs(device, seqs) -> None:
    """Track which device sequence numbers arrived, in order; holes below the maximum are data
    lost on the phone. The device row is read and set once for the whole batch."""
    max_seq = device.max_seq
    missing = list(device.missing_seqs or [])
    # How often each number is in `missing`: the membership test per mutation without scanning
    # the list (up to 1,000 long).
    counts = Counter(missing)
    for seq in seqs:
        if not isinstance(seq, int) or seq < 1:
            continue
        if seq > max_seq:
            gap = range(max_seq + 1, seq)
            missing.extend(gap)
            counts.update(gap)
            max_seq = seq
        elif counts[seq] > 0:
            missing.remove(seq)
            counts[seq] -= 1
        # Keep the list bounded: a phone that lost thousands is reported by count anyway.
        if len(missing) > 1000:
            counts.subtract(missing[:-1000])
            del missing[:-1000]
    device.max_seq = max_seq
    device.missing_seqs = missing


def _judge(actor, m, handlers, batch: _Batch) -> dict:
    mid = m["mutation_id"]
    digest = payload_sha256(m)
    stored = batch.processed.get(mid)
    if stored is not None:
        if stored.payload_sha256 != digest:
            return _result(m, "rejected", "id_reuse")
        return stored.result
    missing = [h for h in (m.get("blob_hashes") or []) if h not in batch.blobs]
    if missing:
        return _result(m, "retry", "blob_missing", missing_blobs=missing)
    token = audit.current_mutation.set(mid)
    mark = batch.mark()
    savepoint = db.session.begin_nested()
    try:
        result = _apply(actor, m, handlers)
        if result["status"] == "retry":
            savepoint.rollback()
            batch.reset(mark)
            return result
        savepoint.commit()
    except DomainError as err:
        savepoint.rollback()
        batch.reset(mark)
        result = _result(m, "rejected", err.reason, message=err.message(), errors=err.fields or None)
    except (IntegrityError, ValueError, TypeError, KeyError) as err:
        # Data the database or a service cannot take: final, or the phone would resend it forever.
        savepoint.rollback()
        batch.reset(mark)
        log.info("sync mutation %s rejected: %r", mid, err)
        result = _result(m, "rejected", "invalid_data", message=_msg("errors.sync_invalid_data"))
    except Exception:  # noqa: BLE001 - one poisoned mutation must not fail the batch
        savepoint.rollback()
        batch.reset(mark)
        log.exception("sync mutation %s failed", mid)
        return _result(m, "retry", "server_error", message=_msg("errors.internal_error"))
    finally:
        audit.current_mutation.reset(token)
    batch.store(m, digest, result)
    return result


def _msg(key: str, **params) -> str:
    from server.i18n import translate

    return translate(key, **params)


def _result(m, status, reason=None, **extra) -> dict:
    res = {"mutation_id": m["mutation_id"], "status": status, "entity": m.get("entity"),
           "entity_id": m.get("entity_id")}
    if reason:
        res["reason"] = reason
        res.setdefault("message", _msg(f"errors.{reason}"))
    for k, v in extra.items():
        if v is not None:
            res[k] = v
    return res


def _apply(actor, m, handlers) -> dict:
    entity, op, entity_id = m["entity"], m["op"], m["entity_id"]
    fields = m.get("fields") or {}
    model = SYNC_ENTITIES.get(entity)
    handler = handlers.get((entity, op))
    if model is None or handler is None:
        return _result(m, "rejected", "sync_unknown_operation")
    if op == "create":
        existing = find_row(model, entity_id)
        if existing is not None:
            if all(_same(getattr(existing, k, None), v) for k, v in fields.items() if hasattr(existing, k)):
                return _result(m, "duplicate", version=existing.version, server=dump(entity, existing))
            return _result(m, "rejected", "entity_exists")
        row = handler(actor, entity_id, dict(fields))
        db.session.flush()
        return _result(m, "applied", version=row.version, server=dump(entity, row))
    if op in ("update", "delete"):
        row = db.session.get(model, entity_id)
        if row is None:
            # An update that overtook its create (or a row this server never had): try again later.
            return _result(m, "retry", "entity_missing")
        if row.deleted_at is not None:
            return _result(m, "conflict", "edited_after_delete", version=row.version, server=dump(entity, row))
        _check_row_scope(actor, row)
        if op == "delete":
            row = handler(actor, row)
            db.session.flush()
            return _result(m, "applied", version=row.version)
        return _update(actor, m, entity, row, fields, handler)
    row = handler(actor, entity_id, dict(fields))
    db.session.flush()
    return _result(m, "applied", version=row.version, server=dump(entity, row))


def _venue_of(row):
    """The venue a row belongs to, through its parent where it has no venue_id of its own."""
    if isinstance(row, Venue):
        return row
    venue_id = getattr(row, "venue_id", None)
    if venue_id is None:
        parent = None
        if isinstance(row, ItemResult):
            parent = db.session.get(Inspection, row.inspection_id)
        elif isinstance(row, ServiceRecord):
            parent = db.session.get(Document, row.document_id)
        elif isinstance(row, HazardEvidence):
            parent = db.session.get(Hazard, row.hazard_id)
        venue_id = getattr(parent, "venue_id", None)
    return db.session.get(Venue, venue_id) if venue_id else None


def _check_row_scope(actor, row) -> None:
    """Defence in depth: whatever the domain service checks, a phone never touches a row outside its scope."""
    from server.services.access import area_in_scope, venue_in_scope

    if isinstance(row, CampaignDoor):
        if actor.role == OWNER or not area_in_scope(actor, row.area_id):
            raise Forbidden("out_of_scope")
        return
    venue = _venue_of(row)
    if venue is not None and not venue_in_scope(actor, venue):
        raise Forbidden("out_of_scope")


def _update(actor, m, entity, row, fields, handler) -> dict:
    base = m.get("base_version")
    seen_version = row.version
    field_versions = row.field_versions or {}
    clean, clashing = {}, []
    for name, value in fields.items():
        changed_since = base is not None and field_versions.get(name, 1) > base
        if changed_since and not _same(getattr(row, name, None), value):
            clashing.append(name)
        else:
            clean[name] = value
    if clean:
        row = handler(actor, row, clean)
        db.session.flush()
    if clashing:
        conflicts = []
        for name in clashing:
            server_value = audit.jsonable(getattr(row, name))
            db.session.add(FieldHistory(entity=entity, entity_id=row.id, field=name, server_value=server_value,
                                        other_value=fields[name], mutation_id=m["mutation_id"],
                                        user_id=actor.id, device_id=audit.current_device.get()))
            conflicts.append({"field": name, "server_value": server_value, "your_value": fields[name]})
        db.session.flush()
        return _result(m, "conflict", "same_field_conflict", version=row.version, server=dump(entity, row),
                       conflicts=conflicts, applied_fields=sorted(clean))
    merged = base is not None and base < seen_version
    return _result(m, "applied", version=row.version, server=dump(entity, row), merged=merged or None)


# --- pull --------------------------------------------------------------------------------

def _unindexed(column):
    """The column as an expression no index serves, for a scope test in a pull query.

    A pull page is "the next rows by server_seq": walking the server_seq index and testing the
    scope on each row stops at the end of the page. Given an index on the scope column, SQLite
    (no statistics) collects every row in scope instead and sorts them all, on every page —
    5× slower for a street's initial pull. PostgreSQL picks the server_seq walk by itself.
    """
    return column.concat("") if isinstance(column.type, String) else column + 0


def _scoped(actor, entity: str, stmt):
    """Limit a pull query for one entity to the actor's scope; None = nothing for this role."""
    owner = actor.role == OWNER
    if entity == "venue":
        if actor.role in (OWNER, "admin"):
            clause = venue_scope_clause(actor, Venue)
            return stmt if clause is None else stmt.where(clause)
        ids = scope_area_ids(actor)
        return stmt.where(_unindexed(Venue.area_id).in_(ids)) if ids else stmt.where(Venue.area_id.is_(None))
    if entity in ("task", "campaign", "campaign_door", "item_result", "service_record") and owner:
        return None
    if entity == "campaign":
        ids = scope_area_ids(actor)
        if ids is None:
            return stmt
        return stmt.where(Campaign.id.in_(select(campaign_areas.c.campaign_id)
                                          .where(campaign_areas.c.area_id.in_(ids or {-1}))))
    if entity == "campaign_door":
        ids = scope_area_ids(actor)
        return stmt if ids is None else stmt.where(_unindexed(CampaignDoor.area_id).in_(ids or {-1}))
    if entity == "item_result":
        return _via_venue(actor, stmt.join(Inspection, Inspection.id == ItemResult.inspection_id), Inspection)
    if entity == "service_record":
        return _via_venue(actor, stmt.join(Document, Document.id == ServiceRecord.document_id), Document)
    if entity == "hazard_evidence":
        return _via_venue(actor, stmt.join(Hazard, Hazard.id == HazardEvidence.hazard_id), Hazard)
    model = SYNC_ENTITIES[entity]
    if entity == "document" and owner:
        stmt = stmt.where(Document.state.in_(ISSUED_STATES))
    if entity in ("case", "sanction") and owner:
        return None
    return _via_venue(actor, stmt, model)


def _via_venue(actor, stmt, model):
    if actor.role == "admin":
        return stmt
    if actor.role == OWNER:
        ids = owner_venue_ids(actor)
        return stmt.where(model.venue_id.in_(ids or {"-"}))
    ids = scope_area_ids(actor)
    return stmt.where(_unindexed(model.venue_id).in_(select(Venue.id).where(Venue.area_id.in_(ids or {-1}))))


def pull(actor, *, cursor: int, limit: int) -> dict:
    """Rows in the actor's scope changed after `cursor`, in commit order, tombstones included.

    Row data may hold date and datetime objects; encode with `encode_json` (ISO 8601 strings).
    """
    authorize(actor, "sync.use")
    if cursor < 0:
        raise RuleViolation("sync_bad_cursor")
    # The newest committed number first: every row up to it is committed (numbers are taken under
    # the counter's lock and committed in order), so each statement below sees all of them even
    # on PostgreSQL's READ COMMITTED, and none that commits meanwhile can be passed over.
    committed = int(db.session.execute(text("SELECT value FROM change_counter WHERE id = 1")).scalar() or 0)
    # Tables with nothing newer than the cursor are skipped: one statement for all of them (an
    # index lookup each) instead of a scoped query each, on every page.
    tops = db.session.execute(select(*[select(func.max(m.server_seq)).scalar_subquery()
                                       for m in SYNC_ENTITIES.values()])).one()
    live = []  # (entity, model) of the tables with rows after the cursor that this role may see
    branches = []
    for (entity, model), top in zip(SYNC_ENTITIES.items(), tops):
        if top is None or top <= cursor:
            continue
        stmt = _scoped(actor, entity, select(model.server_seq.label("seq")).where(model.server_seq > cursor,
                                                                                model.server_seq <= committed))
        if stmt is not None:
            live.append((entity, model))
            branches.append(stmt)
    # Where the page ends: the (limit)th and (limit + 1)th numbers in scope, one statement merging
    # the tables' scoped numbers in order (each database walks every server_seq index in step and
    # stops there), instead of limit + 1 numbers and ids from each table.
    bound = []
    if branches:
        # Each table's first limit + 1 numbers (an index walk that stops there), merged in order.
        firsts = [stmt.order_by(model.server_seq).limit(limit + 1) for stmt, (_, model) in zip(branches, live)]
        ordered = (firsts[0] if len(firsts) == 1 else
                   union_all(*[select(f.subquery().c.seq) for f in firsts]).order_by(literal_column("seq")))
        bound = db.session.execute(ordered.limit(2).offset(limit - 1)).scalars().all()
    has_more = len(bound) == 2
    # Nothing in scope beyond this page: the cursor moves to the newest committed seq so the next
    # pull does not rescan rows outside this user's scope.
    high = bound[0] if has_more else committed
    new_cursor = high if has_more else max(cursor, committed)
    # The page's rows: each table's scoped rows in (cursor, high]. A row changed since the statement
    # above has a number above `committed` now: it is left out here and comes on a later page.
    changes = []
    dialect = db.session.get_bind().dialect
    for entity, model in live:
        window = (model.server_seq > cursor, model.server_seq <= high)
        dumper = _row_dumper(entity, dialect)
        if dumper is None:
            stmt = _scoped(actor, entity, select(model).options(defer(model.field_versions)).where(*window))
            for row in db.session.scalars(stmt.order_by(model.server_seq)):
                changes.append({"entity": entity, "id": row.id, "version": row.version, "server_seq": row.server_seq,
                                "deleted": row.deleted_at is not None, "data": dump(entity, row)})
        else:
            # Plain columns: Core rows on the session's connection, as the driver returns them,
            # skip the ORM's identity map, its per-row bookkeeping and SQLAlchemy's type conversions.
            stmt = select(*dumper.columns).select_from(model)
            if dumper.joins is not None:
                stmt = stmt.outerjoin(*dumper.joins)
            stmt = _scoped(actor, entity, stmt.where(*window)).order_by(model.server_seq)
            dump_row = dumper.dump
            for row in db.session.connection().execute(stmt).all():  # one fetchall, not a fetch per row
                seq, row_id, version, deleted, data = dump_row(row)
                changes.append({"entity": entity, "id": row_id, "version": version, "server_seq": seq,
                                "deleted": deleted, "data": data})
    if len(live) > 1:
        changes.sort(key=_by_seq)
    left = _left_scope(actor, cursor, new_cursor)
    # Read-only: end the transaction now (SQLite holds its write lock until then).
    db.session.rollback()
    return {"cursor": new_cursor, "has_more": has_more, "changes": changes, "left_scope": left}


_by_seq = operator.itemgetter("server_seq")


def _left_scope(actor, low: int, high: int) -> list[dict]:
    if actor.role == "admin":
        return []
    exits = db.session.scalars(select(ScopeExit).where(ScopeExit.server_seq > low,
                                                       ScopeExit.server_seq <= high)).all()
    out = []
    for ex in exits:
        venue = db.session.get(Venue, ex.entity_id) if ex.entity == "venue" else None
        if venue is not None:
            from server.services.access import venue_in_scope

            if venue_in_scope(actor, venue):
                continue
        out.append({"entity": ex.entity, "id": ex.entity_id})
    return out


def _json_default(value):
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)  # as Flask's encoder writes them
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def encode_json(data) -> bytes:
    """JSON for a pull page: orjson (dates and datetimes as ISO 8601, like the schemas). The only
    datetime objects in a page are UTCDateTime values of the row dumpers, naive on SQLite: they
    are UTC, and written so ("+00:00"), exactly as UTCDateTime's aware value would be."""
    return orjson.dumps(data, default=_json_default, option=orjson.OPT_NAIVE_UTC)


def device_status(actor, device_id: str) -> dict:
    authorize(actor, "sync.use")
    device = db.session.get(Device, device_id)
    if device is None:
        raise NotFound("sync_unknown_device")
    if device.user_id not in (None, actor.id) and actor.role not in ("admin", "supervisor"):
        raise Forbidden("out_of_scope")
    return {"device_id": device.id, "max_seq": device.max_seq, "missing_seqs": list(device.missing_seqs or []),
            "last_seen_at": device.last_seen_at}
