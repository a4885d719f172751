"""Engine-level settings: SQLite in WAL mode with foreign keys and serialised writers; many
rows inserted at once go in by COPY on PostgreSQL (`insert_rows`).

Requests that only read (GET/HEAD/OPTIONS) run in deferred, query-only transactions, so they
never wait for the write lock; every other transaction takes it up front. A GET that must also
write (the audit row of an export) does its reading first and then writes in a short writer's
transaction of its own: `with writing(): …`.

PostgreSQL has no database write lock, but every write of a synced row already queues on the
change counter's row (the pull's commit-ordered `server_seq`), taken at the first flush. A
request that reads, decides and then writes (is the hazard still `notified`? is the notice
already served? is the block still open?) must hold that lock *before* it reads, or two
requests both decide on the same state and the last commit silently wins. So a write request
takes it when its transaction begins, as SQLite's BEGIN IMMEDIATE does, and a job outside a
request that decides on what it reads calls `lock_writes()` first. Writers then take the
counter before any other row lock, so they cannot deadlock on one another.
"""
from __future__ import annotations

import operator
from contextlib import contextmanager
from datetime import date, timezone

from flask import Flask, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.sql import sqltypes
from sqlalchemy.exc import DBAPIError

from server.extensions import db
from server.models.base import TWO_DIGITS, day_text


READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_engine_events(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    elif engine.dialect.name == "postgresql":
        _configure_postgresql(engine)


_LOCK_WRITES = "UPDATE change_counter SET value = value WHERE id = 1"


def _configure_postgresql(engine) -> None:
    @event.listens_for(engine, "begin")
    def on_begin(conn):
        if has_request_context() and not _read_only_request():
            conn.exec_driver_sql(_LOCK_WRITES)


def lock_writes() -> None:
    """Queue behind every other writer now, for the rest of this transaction (see the module's
    docstring). A no-op on SQLite, whose write transactions begin with the lock."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.connection().exec_driver_sql(_LOCK_WRITES)


def _configure_sqlite(engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):
        # Let SQLAlchemy (below) own transaction boundaries instead of pysqlite.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        read_only = _read_only_request()
        if conn.info.get("query_only", False) != read_only:
            # query_only makes SQLite refuse any write in a read request's transaction, so a
            # GET that starts writing fails loudly instead of racing for the lock (see below).
            conn.exec_driver_sql(f"PRAGMA query_only={'ON' if read_only else 'OFF'}")
            conn.info["query_only"] = read_only
        if read_only:
            # A GET/HEAD/OPTIONS request only reads: a deferred transaction reads its WAL
            # snapshot without the write lock, so readers never queue behind writers (or
            # behind each other).
            conn.exec_driver_sql("BEGIN")
        else:
            # IMMEDIATE takes the write lock up front: a deferred transaction that reads and
            # then writes can fail with SQLITE_BUSY_SNAPSHOT under concurrency instead of waiting.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "checkin")
    def on_checkin(dbapi_conn, record):
        # A pooled connection goes back writable, whoever used it last (raw DBAPI users of a
        # pooled connection never pass through on_begin).
        if record.info.get("query_only"):
            dbapi_conn.execute("PRAGMA query_only=OFF")
            record.info["query_only"] = False


# PostgreSQL: many new rows go in with COPY, one statement, instead of an executemany, which
# psycopg sends as one INSERT per row, each adapted, sent and run on its own.
COPY_ROWS = True


def insert_rows(table, rows: list[dict]) -> None:
    """Insert `rows` (dicts by column key, all with the same keys) in the session's transaction:
    COPY on PostgreSQL (see `copy_rows`), one executemany INSERT elsewhere (on SQLite its
    parameters made here, see `_driver_insert`)."""
    if not rows:
        return
    connection = db.session.connection()
    dialect = connection.dialect
    if not _copyable(table, rows[0].keys()):
        connection.execute(table.insert(), rows)
    elif COPY_ROWS and dialect.name == "postgresql":
        copy_rows(table, rows)
    elif dialect.name == "sqlite":
        sql, values = _driver_insert(table, tuple(rows[0]), dialect)
        connection.exec_driver_sql(sql, [tuple(values(row)) for row in rows])
    else:
        connection.execute(table.insert(), rows)


_driver_inserts: dict = {}


def _driver_insert(table, keys: tuple, dialect) -> tuple:
    """(SQL, `_row_values` in its parameter order) of the executemany INSERT SQLAlchemy makes for
    rows with these keys: the same statement, each value through its column type's bind processing
    as SQLAlchemy would apply it, without SQLAlchemy building a parameter dict per row and then a
    tuple from it (about a twentieth of a push batch). Only for keys that leave out no column with
    a default (`_copyable`): the statement then computes nothing per row."""
    plan = _driver_inserts.get((table, keys, dialect.name))
    if plan is None:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
        if compiled.prefetch or compiled.postfetch or not compiled.positional:
            raise TypeError(f"{table.name}: an INSERT that computes values per row")
        order = [compiled.binds[name].key for name in compiled.positiontup]
        procs = [_bind_processor(table.c[key].type, dialect) for key in order]
        plan = _driver_inserts[(table, keys, dialect.name)] = (compiled.string, _row_values(order, procs))
    return plan


def _row_values(keys, procs):
    """A function of a row (a dict by column key) giving the list of its values in `keys` order,
    each through its bind processor (`procs`, None where the type has none). Made once per plan:
    the values are taken by one C call and only the columns with a processor (about half of a
    push's) are then touched in Python, where a loop over every column tested each for one."""
    get = operator.itemgetter(*keys)
    convert = tuple((i, proc) for i, proc in enumerate(procs) if proc is not None)
    if len(keys) == 1:  # itemgetter of one key gives the value, not a tuple
        key = keys[0]
        get = lambda row: (row[key],)  # noqa: E731

    def values(row) -> list:
        out = list(get(row))
        for i, proc in convert:
            out[i] = proc(out[i])
        return out

    return values


_copyable_keys: dict = {}


def _copyable(table, keys) -> bool:
    """Whether COPY stores what the INSERT would: no column left out has a default computed in
    Python (SQLAlchemy adds those to an INSERT; COPY leaves the column to the server)."""
    key = (table, frozenset(keys))
    found = _copyable_keys.get(key)
    if found is None:
        found = _copyable_keys[key] = not any(c.default is not None for c in table.columns if c.key not in keys)
    return found


def copy_rows(table, rows: list[dict]) -> None:
    """COPY `rows` (dicts by column key, every row the same keys) into `table`, in the
    session's transaction. Each value goes through its column type's bind processing first
    (UTC datetimes, JSON text), so PostgreSQL receives what an INSERT would have sent; the
    server-side defaults of columns left out apply as they would."""
    if not rows:
        return
    connection = db.session.connection()
    dialect = connection.dialect
    driver_connection = connection.connection.driver_connection
    statement, values = _copy_plan(table, tuple(rows[0]), dialect, driver_connection.info.encoding)
    cursor = driver_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(values(row))
    except dialect.loaded_dbapi.Error as err:
        # The driver's own error, raised past the engine: wrapped as the engine wraps a statement's
        # (a duplicate key is sqlalchemy.exc.IntegrityError), so callers catch one kind either way.
        raise DBAPIError.instance(statement, None, err, dialect.loaded_dbapi.Error, dialect=dialect) from err


_copy_plans: dict = {}


def _copy_plan(table, keys: tuple, dialect, encoding: str) -> tuple:
    """(COPY statement, `_row_values` for its columns) for rows with these keys, made once.

    A JSON column's value goes in as the JSON text itself: SQLAlchemy's processor for psycopg
    wraps the value in psycopg's `Json`, whose dumper then runs the same serializer (the engine's
    `json_serializer`, set on every connection) and encodes its text as UTF-8; handing COPY that
    text sends the same bytes without a wrapper and a dumper lookup per value (~276 values a push
    batch). Only for the generic JSON type (JSONB, or a subclass, keeps its own processor) and where
    the connection's encoding is UTF-8 too (psycopg encodes a str in it)."""
    plan = _copy_plans.get((table, keys, encoding))
    if plan is None:
        columns = [table.c[key] for key in keys]
        serializer = dialect._json_serializer
        procs = tuple(_empties_once(column.type._make_bind_processor(None, serializer))
                      if type(column.type) is sqltypes.JSON and serializer is not None and encoding == "utf-8"
                      else column.type._cached_bind_processor(dialect) for column in columns)
        names = ", ".join(dialect.identifier_preparer.quote(c.name) for c in columns)
        statement = f"COPY {dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN"
        plan = _copy_plans[(table, keys, encoding)] = (statement, _row_values(keys, procs))
    return plan


def _empties_once(process):
    """A generic JSON column's bind processor with its text of None, [] and {} made once: most of a
    push's JSON values (an event's absent `before`, no photos, no field versions yet, ~170 of ~280
    a batch) then skip the serializer. Any other value, falsy or not, goes through `process`."""
    known = {type(None): process(None), list: process([]), dict: process({})}

    def json_text(value):
        if not value:
            text = known.get(type(value))
            if text is not None:
                return text
        return process(value)

    return json_text


def _bind_processor(column_type, dialect):
    """The column type's bind processor; on SQLite, for a UTCDateTime (most columns of a push's
    rows) and a Date, the same text made in fewer steps: SQLAlchemy's goes through the decorator,
    then SQLite's formatting via a dict per value; for a generic JSON column `_empties_once`."""
    from server.models.base import UTCDateTime

    if dialect.name == "sqlite" and type(column_type) is sqltypes.JSON:
        return _empties_once(column_type._cached_bind_processor(dialect))
    if dialect.name == "sqlite" and type(column_type) in (UTCDateTime, sqltypes.Date):
        impl = (column_type.impl_instance if type(column_type) is UTCDateTime else column_type).dialect_impl(dialect)
        if getattr(impl, "_storage_format", None) == _SQLITE_DATETIME_FORMAT:
            return _sqlite_utc_datetime
        if getattr(impl, "_storage_format", None) == _SQLITE_DATE_FORMAT:
            return _sqlite_date
    return column_type._cached_bind_processor(dialect)


_SQLITE_DATETIME_FORMAT = "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
_SQLITE_DATE_FORMAT = "%(year)04d-%(month)02d-%(day)02d"


def _sqlite_utc_datetime(value):
    """UTCDateTime.process_bind_param, then SQLite's DATETIME text (its default storage format).

    The same text as "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (year, …, microsecond), in about half
    the instructions: the day's text cached, the two-digit fields from a table, one join."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return "".join((day_text(value.toordinal()), " ", TWO_DIGITS[value.hour], ":", TWO_DIGITS[value.minute], ":",
                    TWO_DIGITS[value.second], ".", "%06d" % value.microsecond))


def _sqlite_date(value):
    """SQLite's DATE bind processing (its default storage format), the day's text cached."""
    if value is None:
        return None
    if isinstance(value, date):  # a datetime too, as SQLAlchemy's: its date part
        return day_text(value.toordinal())
    raise TypeError("SQLite Date type only accepts Python date objects as input.")


@contextmanager
def writing():
    """One short writer's transaction inside a request that only reads (a GET that audits what
    it read, an export): the read transaction ends, the block runs in a transaction that takes
    the write lock up front like any write request's, and it is committed. The reading before
    it never held the lock, so a long export does not keep every phone's push waiting."""
    db.session.commit()
    g.firesweep_writing = True
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        g.firesweep_writing = False


def _read_only_request() -> bool:
    if not has_request_context() or request.method not in READ_ONLY_METHODS:
        return False
    return not g.get("firesweep_writing", False)
