"""Fixtures: the app on a real database (SQLite file, or PostgreSQL when DATABASE_URL says so),
a clean database per test, API clients logged in per role.

Under pytest-xdist (`-n auto`, as scripts/test.sh runs the suite) every worker has a database of
its own: SQLite files live in the worker's own temp directory, and on PostgreSQL each worker
creates `<DATABASE_URL's database>_gw<N>` at start, points DATABASE_URL at it for everything in
that process (the e2e server, the migration and multi-process tests), and drops it at exit.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from datetime import timedelta

import pytest

# The app (server.*, tests.factories, SQLAlchemy) is imported on first use, not with this
# module: the pytest-xdist controller loads this conftest too but never runs a test, and the
# imports cost it ~1 s of CPU before it started any worker.
_db = limiter = User = factories = create_app = None  # bound by _import_app()
DateTime = func = select = text = DBAPIError = make_transient_to_detached = None


def _import_app() -> None:
    global _db, limiter, User, factories, create_app
    global DateTime, func, select, text, DBAPIError, make_transient_to_detached
    if _db is not None:
        return
    from sqlalchemy import DateTime, func, select, text
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.orm import make_transient_to_detached

    from server import create_app
    from server.extensions import db as _db
    from server.extensions import limiter
    from server.models import User
    from tests import factories


def _on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql"))


def _xdist_worker() -> str | None:
    """"gw0", "gw1", ... inside a pytest-xdist worker, else None."""
    return os.environ.get("PYTEST_XDIST_WORKER")


_worker_pg: dict = {}


def _pg_admin(url):
    from sqlalchemy import create_engine

    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def pytest_configure(config):
    """Under xdist on PostgreSQL, give this worker its own database (see the module docstring)."""
    worker = _xdist_worker()
    if not worker or not _on_postgres():
        return
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    base = make_url(os.environ["DATABASE_URL"])
    name = f"{base.database}_{worker}"
    if not re.fullmatch(r"\w+", name) or len(name) > 63:
        raise pytest.UsageError(f"cannot derive a per-worker database name from {base.database!r}")
    admin = _pg_admin(base)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    _worker_pg.update(base=os.environ["DATABASE_URL"], name=name)
    os.environ["DATABASE_URL"] = base.set(database=name).render_as_string(hide_password=False)


def pytest_unconfigure(config):
    if not _worker_pg:
        return
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    os.environ["DATABASE_URL"] = _worker_pg["base"]
    admin = _pg_admin(make_url(_worker_pg["base"]))
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_worker_pg["name"]}" WITH (FORCE)'))
    admin.dispose()
    _worker_pg.clear()


@pytest.hookimpl(wrapper=True)
def pytest_collection(session):
    """Under xdist, uuid.uuid4() is seeded while test modules are imported.

    Every worker must collect the same test ids, and a parametrize table built with uuid4() at
    import gives each worker different ones ("Different tests were collected between gw0 and
    gw1"). Seeded, the values are still arbitrary valid UUIDs, the same in every worker; tests
    that call uuid4() while running are not affected.
    """
    if not _xdist_worker():
        return (yield)
    import random
    import uuid

    real, rng = uuid.uuid4, random.Random(0)
    uuid.uuid4 = lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
    try:
        return (yield)
    finally:
        uuid.uuid4 = real


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    if _xdist_worker():
        # Start the few long tests first, so that no worker is left running one alone at the end.
        items.sort(key=lambda item: "slow" not in item.keywords)
        # All browser tests on one worker (with --dist loadgroup): one live server and one
        # Chromium, not one per worker.
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(pytest.mark.xdist_group("browser"))
        if getattr(config.option, "loadgroup", False):
            _suffix_xdist_groups(items)
    if _on_postgres():
        return
    skip = pytest.mark.skip(reason="PostgreSQL-only behaviour; make test runs it in its PostgreSQL pass")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _suffix_xdist_groups(items) -> None:
    """Give each test marked xdist_group("g") the node id "<id>@g", as --dist loadgroup expects.

    The controller puts all tests whose ids end in the same "@g" on one worker. pytest-xdist
    3.8 appends the suffix by setting item._nodeid, which pytest 9 no longer reads (a node's id
    is item._id, a structured NodeId), so without this every group was silently spread over
    all workers. An id that already ends in the suffix is left alone.
    """
    from _pytest.nodeid import NodeId

    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        suffix = "@" + "_".join(names)
        if names and not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    _import_app()
    instance = tmp_path_factory.mktemp("instance")
    app = create_app({
        "ENV_NAME": "test",
        "INSTANCE_DIR": str(instance),
        "SQLALCHEMY_DATABASE_URI": _database_url(tmp_path_factory),
    })
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def _wipe(app) -> None:
    """Empty every table (and, on PostgreSQL, restart the id sequences), as a fresh database."""
    _import_app()
    with app.app_context():
        _db.session.remove()
        tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
        if _db.engine.dialect.name == "postgresql":
            _wipe_postgres(tables)
            return
        # SQLite: one script, children before parents (foreign keys are on). A statement-by-
        # statement loop through SQLAlchemy cost about as much as the deletes themselves.
        raw = _db.engine.raw_connection()
        try:
            raw.driver_connection.executescript(
                "BEGIN IMMEDIATE;" + "".join(f"DELETE FROM {name};" for name in tables) + "COMMIT;")
        except BaseException:
            raw.driver_connection.rollback()
            raise
        finally:
            raw.close()


_pg_may_skip_triggers: bool | None = None  # may this role SET session_replication_role?


def _wipe_postgres(tables: list[str]) -> None:
    """DELETE the rows of the tables that have any, and restart every id sequence.

    TRUNCATE of all ~40 tables gives every table and index a new file and waits for them to be
    synced at commit (DataFileImmediateSync): 1.5-2.5 s per test on a busy disk. DELETE of the
    few small tables a test wrote does not; `session_replication_role = replica` (this
    transaction only) lets it ignore the order of foreign keys and the document freeze
    triggers, which TRUNCATE also bypasses. Falls back to TRUNCATE for a role that may not set
    that (it needs superuser).
    """
    global _pg_may_skip_triggers
    with _db.engine.begin() as conn:
        if _pg_may_skip_triggers is not False:
            try:
                with conn.begin_nested():
                    conn.execute(text("SET LOCAL session_replication_role = replica"))
                _pg_may_skip_triggers = True
            except DBAPIError:  # insufficient privilege
                _pg_may_skip_triggers = False
        if not _pg_may_skip_triggers:
            conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
            return
        probe = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT FROM {t})" for t in tables)
        for (name,) in conn.execute(text(probe)).all():
            conn.execute(text(f"DELETE FROM {name}"))
        # What RESTART IDENTITY did: every sequence that has handed out a value starts again.
        used = conn.execute(text("SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences "
                                 "WHERE last_value IS NOT NULL")).scalars().all()
        if used:
            conn.execute(select(*(func.setval(name, 1, False) for name in used)))


@pytest.fixture
def db(app):
    """A clean database inside an app context."""
    _wipe(app)
    limiter.reset()
    ctx = app.app_context()
    ctx.push()
    yield _db
    _db.session.remove()
    ctx.pop()


class ApiClient:
    """A test client that fetches and sends the CSRF token like the PWA does."""

    def __init__(self, app):
        _import_app()
        self.raw = app.test_client()
        self.csrf = self.raw.get("/api/v1/auth/csrf").get_json()["csrf_token"]

    @staticmethod
    def _own_transaction():
        # Tests keep one app context pushed, so requests share flask.g and the scoped session.
        # In production each request has its own: end the test's (or the last request's)
        # transaction so the request begins its own (a GET's is read-only on SQLite), and drop
        # Flask-Login's cached user, or a second client would act as the first one's user.
        from flask import g, has_app_context

        if has_app_context():
            g.pop("_login_user", None)
            _db.session.commit()

    def _call(self, fn, url, kw, headers=False):
        self._own_transaction()
        if headers:
            kw["headers"] = self._headers(kw)
        try:
            return fn(url, **kw)
        finally:
            self._own_transaction()

    def _headers(self, kw):
        headers = dict(kw.pop("headers", None) or {})
        headers.setdefault("X-CSRF-Token", self.csrf)
        return headers

    def get(self, url, **kw):
        return self._call(self.raw.get, url, kw)

    def head(self, url, **kw):
        return self._call(self.raw.head, url, kw)

    def post(self, url, **kw):
        return self._call(self.raw.post, url, kw, headers=True)

    def put(self, url, **kw):
        return self._call(self.raw.put, url, kw, headers=True)

    def patch(self, url, **kw):
        return self._call(self.raw.patch, url, kw, headers=True)

    def delete(self, url, **kw):
        return self._call(self.raw.delete, url, kw, headers=True)

    def login(self, username, password=None):
        password = factories.PASSWORD if password is None else password
        resp = self.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert resp.status_code == 200, resp.get_json()
        self.csrf = resp.get_json()["csrf_token"]
        return self


@pytest.fixture
def client(app, db):
    return ApiClient(app)


class _WorldSnapshot:
    """The rows `factories.build_world()` wrote, to put back into a clean database.

    Building the world through the services (argon2 hashes, audit events, one flush per object)
    cost about 60 ms of CPU for each of the ~400 tests that use it. It is built for real once
    per session (per xdist worker); after that each test gets the same rows inserted again,
    with PostgreSQL's id sequences set where the build left them and every timestamp moved
    forward by the time since the build, so the data is what a fresh build would give.
    """

    def __init__(self, world: factories.World):
        session = _db.session
        self.taken = time.monotonic()
        self.rows = {}
        for table in _db.metadata.sorted_tables:  # parents before children
            if table.info.get("kept_by_triggers"):
                continue  # rebuilt by the triggers as the rows it counts go back in
            rows = session.execute(select(table).order_by(*table.primary_key.columns)).mappings().all()
            if rows:
                times = [c.name for c in table.columns if c.type._type_affinity is DateTime]
                self.rows[table] = ([dict(r) for r in rows], times)
        self.sequences = []
        if session.get_bind().dialect.name == "postgresql":
            self.sequences = session.execute(text(
                "SELECT format('%I.%I', schemaname, sequencename), last_value FROM pg_sequences "
                "WHERE last_value IS NOT NULL")).all()
        self.objects = {name: (type(obj), obj.id) for name, obj in vars(world).items() if name != "users"}
        self.users = {name: u.id for name, u in world.users.items()}
        session.rollback()  # end the read transaction (SQLite's BEGIN IMMEDIATE holds the write lock)

    def restore(self) -> factories.World:
        session = _db.session
        _put_back(session.connection(), [(t, rows, times) for t, (rows, times) in self.rows.items()],
                  self.sequences, timedelta(seconds=time.monotonic() - self.taken))
        session.commit()

        def attach(model, ident):
            # The state build_world's final commit leaves: persistent, every attribute expired,
            # so the first read of each goes to the database (no query is made here).
            obj = model(id=ident)
            make_transient_to_detached(obj)
            session.add(obj)
            return obj

        world = factories.World(**{name: attach(*key) for name, key in self.objects.items()})
        world.users = {name: attach(User, uid) for name, uid in self.users.items()}
        return world


class StateSnapshot:
    """Every row of every table (and PostgreSQL's sequence positions) now, to come back to.

    For a test module whose tests each start from the same expensive state built on top of
    `world` (tests/documents/test_kinds.py: a complete draft of one kind). restore_over()
    replaces whatever the tables hold with these rows, timestamps moved forward by the time
    since the snapshot, inside the test's own session: the objects `world` handed out stay
    attached (re-read after the commit). It deletes and inserts plain rows, so it suits states
    without issued documents (PostgreSQL's freeze triggers refuse those rows' hazards).
    """

    def __init__(self):
        _import_app()
        session = _db.session
        session.commit()
        self.taken = time.monotonic()
        self.rows = []
        for table in _db.metadata.sorted_tables:  # parents before children
            if table.info.get("kept_by_triggers"):  # the venues' own triggers put these back
                continue
            rows = session.execute(select(table).order_by(*table.primary_key.columns)).mappings().all()
            times = [c.name for c in table.columns if c.type._type_affinity is DateTime]
            self.rows.append((table, [dict(r) for r in rows], times))
        self.sequences = []
        if session.get_bind().dialect.name == "postgresql":
            self.sequences = session.execute(text(
                "SELECT format('%I.%I', schemaname, sequencename), last_value FROM pg_sequences "
                "WHERE last_value IS NOT NULL")).all()
        session.rollback()

    def restore_over(self) -> None:
        session = _db.session
        session.commit()
        conn = session.connection()
        for table, _rows, _times in reversed(self.rows):  # children before parents
            conn.execute(table.delete())
        _put_back(conn, self.rows, self.sequences, timedelta(seconds=time.monotonic() - self.taken))
        session.commit()


def _put_back(conn, tables, sequences, shift: timedelta) -> None:
    """Insert snapshot rows, [(table, rows, DateTime column names)] parents first, with their
    times moved forward by `shift`, and set PostgreSQL's sequences where the snapshot saw them."""
    for table, rows, times in tables:
        if not rows:
            continue
        if times:
            rows = [{**r, **{c: r[c] + shift for c in times if r[c] is not None}} for r in rows]
        conn.execute(table.insert(), rows)
    if sequences:
        conn.execute(select(*(func.setval(name, value) for name, value in sequences)))


_world_snapshot: _WorldSnapshot | None = None


@pytest.fixture
def world(db):
    """A small district: two streets with a grid each, users per role, venues in each grid."""
    global _world_snapshot
    if _world_snapshot is None:
        built = factories.build_world()
        _world_snapshot = _WorldSnapshot(built)
        return built
    return _world_snapshot.restore()


@pytest.fixture(scope="session")
def built_file(request):
    """built_file(key, build) -> bytes: build() once, then from a cache keyed by content.

    For large generated inputs (a 10,000-row spreadsheet cost 3.6 s of CPU to write with
    openpyxl, on every run and in both passes of make test). `key` must determine the bytes
    completely (the rows, the header, the builder's source, the library version); its repr is
    hashed. The cache is pytest's (.pytest_cache, or none with -p no:cacheprovider), shared by
    xdist workers and later runs; a file is written under a temporary name and renamed, so a
    reader never sees half of one.
    """
    cache = getattr(request.config, "cache", None)

    def get(key, build) -> bytes:
        if cache is None:
            return build()
        path = cache.mkdir("built-files") / hashlib.sha256(repr(key).encode()).hexdigest()
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        data = build()
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return data
    return get


@pytest.fixture
def login(app, world):
    """login("inspector_a") → an ApiClient logged in as that user of `world`."""
    def _login(username):
        return ApiClient(app).login(username)
    return _login
