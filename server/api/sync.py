"""Offline sync: push a device's queued mutations, pull what changed (see docs/sync-protocol.md)."""
from __future__ import annotations

import gzip
import re
import uuid
from collections.abc import Mapping

import orjson
from flask import current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, ValidationError, fields, validate

from server.api.common import OutSchema, StrictSchema, require_user
from server.models import SYNC_ENTITIES
from server.services import sync

URL_PREFIX = "/sync"
blp = Blueprint("sync", __name__, description="Offline-first sync: push mutations, pull changes.")

DEVICE_ID = validate.Regexp(r"^[A-Za-z0-9_.:\-]{8,64}$")
SHA256 = validate.Regexp(r"^[0-9a-f]{64}$")


class MutationSchema(StrictSchema):
    mutation_id = fields.UUID(required=True)
    device_seq = fields.Integer(required=True, validate=validate.Range(min=1))
    entity = fields.String(required=True, validate=validate.OneOf(sorted(SYNC_ENTITIES)))
    entity_id = fields.UUID(required=True)
    op = fields.String(required=True, validate=validate.Regexp(r"^[a-z_]{2,32}$"))
    base_version = fields.Integer(allow_none=True, load_default=None)
    # `fields` would shadow the marshmallow module inside the class body.
    fields_ = fields.Dict(keys=fields.String(), load_default=dict, data_key="fields", attribute="fields")
    blob_hashes = fields.List(fields.String(validate=SHA256), load_default=list)
    client_observed_at = fields.DateTime(allow_none=True, load_default=None)


class PushSchema(StrictSchema):
    device_id = fields.String(required=True, validate=DEVICE_ID)
    schema_version = fields.Integer(required=True)
    mutations = fields.List(fields.Nested(MutationSchema), required=True)

    def load(self, data, *, many=None, partial=None, unknown=None):
        """A body that plainly passes every field's checks is read directly (a batch of 50 through
        marshmallow costs about a tenth of the push); anything else goes through marshmallow, so a
        bad body gets exactly its errors. The fast path accepts a subset of what marshmallow
        accepts and returns the same data (tests/sync/test_push_schema.py compares the two)."""
        if many is None and partial is None and unknown in (None, RAISE):
            loaded = _load_plain_push(data)
            if loaded is not None:
                return loaded
        return super().load(data, many=many, partial=partial, unknown=unknown)


_PUSH_KEYS = frozenset(("device_id", "schema_version", "mutations"))
_MUTATION_KEYS = frozenset(("mutation_id", "device_seq", "entity", "entity_id", "op", "base_version", "fields",
                            "blob_hashes", "client_observed_at"))
_MUTATION_REQUIRED = frozenset(("mutation_id", "device_seq", "entity", "entity_id", "op"))
_STR_ONLY = frozenset((str,))
_ENTITIES = frozenset(SYNC_ENTITIES)
# Canonical (lowercase, hyphenated) UUIDs only: marshmallow takes other spellings too, they go its way.
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DEVICE_ID_RE = re.compile(r"[A-Za-z0-9_.:\-]{8,64}")
_OP_RE = re.compile(r"[a-z_]{2,32}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def _load_plain_push(data) -> _LoadedPush | None:
    """PushSchema's result for a body with nothing marshmallow would refuse or convert; else None.
    (A `_LoadedPush`: it also carries the mutations as the view hands them to sync.push.)"""
    if type(data) is not dict or data.keys() != _PUSH_KEYS:
        return None
    device_id, version, mutations = data["device_id"], data["schema_version"], data["mutations"]
    if (type(device_id) is not str or not _DEVICE_ID_RE.fullmatch(device_id) or type(version) is not int
            or type(mutations) is not list):
        return None
    plain, observed_at = [], []
    for m in mutations:
        # Set comparisons (here, and of the fields' key types below): C loops, no generator per mutation.
        if type(m) is not dict or not m.keys() <= _MUTATION_KEYS or not m.keys() >= _MUTATION_REQUIRED:
            return None
        mid, seq, entity, eid, op = (m["mutation_id"], m["device_seq"], m["entity"], m["entity_id"], m["op"])
        base = m.get("base_version")
        body = m.get("fields", _ABSENT)
        hashes = m.get("blob_hashes", _ABSENT)
        if (type(mid) is not str or not _UUID_RE.fullmatch(mid) or type(eid) is not str
                or not _UUID_RE.fullmatch(eid) or type(seq) is not int or seq < 1
                or type(entity) is not str or entity not in _ENTITIES or type(op) is not str
                or not _OP_RE.fullmatch(op) or (base is not None and type(base) is not int)):
            return None
        observed = m.get("client_observed_at")
        if observed is not None:
            if type(observed) is not str:
                return None
            try:  # the field's own parser, alone: the same value (or the same refusal, via marshmallow)
                observed = _OBSERVED_AT.deserialize(observed, "client_observed_at", m)
            except ValidationError:
                return None
        if body is _ABSENT:
            body = {}
        elif type(body) is not dict or not set(map(type, body)) <= _STR_ONLY:
            return None
        else:
            body = dict(body)
        if hashes is _ABSENT:
            hashes = []
        elif type(hashes) is not list or (hashes  # mostly empty: no generator for it
                                          and not all(type(h) is str and _SHA256_RE.fullmatch(h) for h in hashes)):
            return None
        else:
            hashes = list(hashes)
        # _plain() of marshmallow's mutation, from the text it was read from (canonical UUIDs: str()
        # gives them back)
        plain.append({"mutation_id": mid, "device_seq": seq, "entity": entity, "entity_id": eid, "op": op,
                      "base_version": base, "fields": body, "blob_hashes": hashes,
                      "client_observed_at": None if observed is None else observed.isoformat()})
        observed_at.append(observed)
    return _LoadedPush(device_id, version, plain, observed_at)


class _LoadedPush(Mapping):
    """PushSchema's result, read directly: a mapping equal to the dict marshmallow gives, which also
    carries the mutations as the view hands them to sync.push (`plain`, as `_plain` gives them: the
    ids as the text they were read from). Its "mutations" (UUIDs and datetimes, as marshmallow
    makes them) are made only when asked for; the view never asks, so a push makes no UUID objects
    only to turn them back into text."""

    def __init__(self, device_id: str, schema_version: int, plain: list[dict], observed_at: list):
        self.plain = plain
        self._observed_at = observed_at  # each mutation's client_observed_at as marshmallow loads it
        self._data = {"device_id": device_id, "schema_version": schema_version, "mutations": None}

    def __getitem__(self, key):
        if key == "mutations" and self._data[key] is None:
            self._data[key] = [dict(m, mutation_id=uuid.UUID(m["mutation_id"]), entity_id=uuid.UUID(m["entity_id"]),
                                    client_observed_at=observed) for m, observed in zip(self.plain, self._observed_at)]
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


_ABSENT = object()
_OBSERVED_AT = MutationSchema().fields["client_observed_at"]


class ResultSchema(OutSchema):
    mutation_id = fields.String()
    status = fields.String(metadata={"enum": ["applied", "duplicate", "conflict", "rejected", "retry"]})
    reason = fields.String()
    message = fields.String()
    entity = fields.String()
    entity_id = fields.String()
    version = fields.Integer()
    server = fields.Dict()
    conflicts = fields.List(fields.Dict())
    applied_fields = fields.List(fields.String())
    merged = fields.Boolean()
    missing_blobs = fields.List(fields.String())
    errors = fields.Dict()


class DeviceSchema(OutSchema):
    max_seq = fields.Integer()
    missing_seqs = fields.List(fields.Integer())


class PushResultSchema(OutSchema):
    results = fields.List(fields.Nested(ResultSchema))
    device = fields.Nested(DeviceSchema)

    def dump(self, obj, *, many=None):
        """The push answer is plain dicts of strings, numbers, lists and dicts: when every value
        already has its field's type, the dump is a reordered copy, made directly; otherwise
        marshmallow's (tests/sync/test_push_schema.py compares the two)."""
        if many is None:
            dumped = _dump_plain_push(obj)
            if dumped is not None:
                return dumped
        return super().dump(obj, many=many)


def _plain_kind(field) -> object:
    """The type a value of this field must already have to be dumped as it is (None: any dict)."""
    kinds = {fields.String: str, fields.Integer: int, fields.Boolean: bool, fields.Dict: dict}
    if type(field) is fields.List:
        return ("list", kinds[type(field.inner)])
    return kinds[type(field)]


_RESULT_PLAN = tuple((name, _plain_kind(field)) for name, field in ResultSchema().dump_fields.items())
_DEVICE_PLAN = tuple((name, _plain_kind(field)) for name, field in DeviceSchema().dump_fields.items())


def _dump_plain(plan, row) -> dict | None:
    out = {}
    for key, kind in plan:
        if key not in row:
            continue
        value = row[key]
        if value is None:
            out[key] = None
        elif type(kind) is tuple:
            inner = kind[1]
            if type(value) is not list or not all(type(v) is inner for v in value):
                return None
            out[key] = [dict(v) for v in value] if inner is dict else list(value)
        elif type(value) is not kind:
            return None
        else:
            out[key] = dict(value) if kind is dict else value
    return out


def _dump_plain_push(obj) -> dict | None:
    """PushResultSchema's dump of `obj` when all its values have their fields' types; else None."""
    if type(obj) is not dict or not obj.keys() <= {"results", "device"}:
        return None
    out = {}
    if "results" in obj:
        rows = obj["results"]
        if rows is None:
            out["results"] = None
        else:
            if type(rows) is not list:
                return None
            results = []
            for row in rows:
                if type(row) is not dict:
                    return None
                dumped = _dump_plain(_RESULT_PLAN, row)
                if dumped is None:
                    return None
                results.append(dumped)
            out["results"] = results
    if "device" in obj:
        device = obj["device"]
        if device is None:
            out["device"] = None
        else:
            if type(device) is not dict:
                return None
            dumped = _dump_plain(_DEVICE_PLAN, device)
            if dumped is None:
                return None
            out["device"] = dumped
    return out


class PullArgs(StrictSchema):
    cursor = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=2000),
                           metadata={"description": "Rows per page, at most 2000 (the PWA asks for 2000)."})


class ChangeSchema(OutSchema):
    entity = fields.String()
    id = fields.String()
    version = fields.Integer()
    server_seq = fields.Integer()
    deleted = fields.Boolean()
    data = fields.Dict()


class RefSchema(OutSchema):
    entity = fields.String()
    id = fields.String()


class PullResultSchema(OutSchema):
    cursor = fields.Integer()
    has_more = fields.Boolean()
    changes = fields.List(fields.Nested(ChangeSchema))
    left_scope = fields.List(fields.Nested(RefSchema))


class DeviceStatusSchema(OutSchema):
    device_id = fields.String()
    max_seq = fields.Integer()
    missing_seqs = fields.List(fields.Integer())
    last_seen_at = fields.DateTime(allow_none=True)


def _plain(mutation: dict) -> dict:
    """UUIDs and datetimes back to the JSON the phone sent, so payload hashes are stable."""
    out = dict(mutation)
    out["mutation_id"] = str(out["mutation_id"])
    out["entity_id"] = str(out["entity_id"])
    if out.get("client_observed_at") is not None:
        out["client_observed_at"] = out["client_observed_at"].isoformat()
    return out


@blp.route("/push")
class Push(MethodView):
    @blp.arguments(PushSchema())  # an instance: given the class, webargs makes one per request
    @blp.response(200, PushResultSchema)
    def post(self, args):
        """Apply a batch of mutations. Always 200 with one result per mutation:
        `applied | duplicate | conflict | rejected | retry`. Non-2xx only when the batch as a whole
        cannot be judged (401 not logged in, 413 too many mutations, 426 old schema, 5xx)."""
        mutations = args.plain if type(args) is _LoadedPush else [_plain(m) for m in args["mutations"]]
        answer = sync.push(require_user(), device_id=args["device_id"], schema_version=args["schema_version"],
                           mutations=mutations)
        return _json_response(_PUSH_RESULT.dump(answer))


_PUSH_RESULT = PushResultSchema()
_SORTED_PLAIN = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _json_response(data):
    """`jsonify(data)`, encoded by orjson when it can (a push answer is plain JSON data; encoding
    it was ~3 % of a batch): keys sorted as Flask sorts them, non-ASCII text as UTF-8 rather than
    \\u escapes, as pull pages are; a NaN as null (Flask writes NaN, which is not JSON). A value
    orjson would write otherwise than Flask (a date, a dataclass) or refuses (a Decimal, an
    integer beyond 64 bits) sends it all Flask's way."""
    try:
        body = orjson.dumps(data, option=_SORTED_PLAIN)
    except orjson.JSONEncodeError:
        return jsonify(data)
    return current_app.response_class(body, mimetype="application/json")


@blp.route("/pull")
class Pull(MethodView):
    @blp.arguments(PullArgs, location="query")
    @blp.response(200, PullResultSchema)
    def get(self, args):
        """Rows of your scope with `server_seq > cursor`, in commit order, tombstones included;
        `left_scope` names rows the phone must drop. Repeat with the returned cursor while `has_more`."""
        # Returned as is: the rows are already dumped by their resources' schemas, and a second
        # pass through PullResultSchema costs more than the query (see BENCHMARKS.md).
        page = sync.pull(require_user(), cursor=args["cursor"], limit=args["limit"])
        return current_app.response_class(sync.encode_json(page), mimetype="application/json")


@blp.route("/devices/<device_id>")
class DeviceStatus(MethodView):
    @blp.response(200, DeviceStatusSchema)
    def get(self, device_id):
        """What the server knows of a device: highest sequence number and the ones that never arrived."""
        return sync.device_status(require_user(), device_id)


@blp.after_request
def compress(response):
    """Gzip pull pages: an initial pull of a street is megabytes of repetitive JSON."""
    if (response.status_code == 200 and response.mimetype == "application/json"
            and "gzip" in request.headers.get("Accept-Encoding", "").lower()
            and not response.direct_passthrough and "Content-Encoding" not in response.headers):
        body = response.get_data()
        if len(body) > 1024:
            response.set_data(gzip.compress(body, compresslevel=6))
            response.headers["Content-Encoding"] = "gzip"
            response.headers["Vary"] = "Accept-Encoding"
    return response
