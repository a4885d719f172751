"""Throw-away PostgreSQL databases for `make test`.

    python scripts/pgtestdb.py create   -> prints postgresql+psycopg://.../firesweep_test_<hex>
                                           exit 3 (one line on stderr) when PostgreSQL
                                           does not answer
    python scripts/pgtestdb.py drop URL -> drops that database (only firesweep_test_* names) and
                                           the per-worker copies a parallel run made of it
                                           (<name>_gw0, <name>_gw1, ... — see tests/conftest.py)

The server is taken from DATABASE_URL when it is a PostgreSQL URL, else 127.0.0.1:5432 as
$PGUSER (default postgres) with trust authentication. Runs with the project venv's python
(psycopg is a runtime dependency).
"""

import os
import re
import secrets
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

UNREACHABLE = 3


def admin_url() -> str:
    """libpq URL of the maintenance database on the server to use."""
    env = os.environ.get("DATABASE_URL", "")
    if re.match(r"^postgres(ql)?(\+\w+)?://", env):
        parts = urlsplit(env)
        return urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    user = os.environ.get("PGUSER") or "postgres"
    return f"postgresql://{user}@127.0.0.1:5432/postgres"


def connect(url: str):
    return psycopg.connect(url, autocommit=True, connect_timeout=3)


def create() -> int:
    url = admin_url()
    parts = urlsplit(url)
    where = parts.hostname or "localhost"
    if parts.port:
        where += f":{parts.port}"
    name = "firesweep_test_" + secrets.token_hex(4)
    try:
        with connect(url) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"firesweep: PostgreSQL at {where} did not accept a connection ({reason})", file=sys.stderr)
        return UNREACHABLE
    except psycopg.Error as exc:
        print(f"firesweep: cannot create a test database on {where}: {exc}".strip(), file=sys.stderr)
        return 1
    print(urlunsplit(("postgresql+psycopg", parts.netloc, "/" + name, parts.query, "")))
    return 0


def drop(test_url: str) -> int:
    parts = urlsplit(test_url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"firesweep_test_[0-9a-f]+", name):
        print(f"firesweep: refusing to drop {name!r}", file=sys.stderr)
        return 2
    url = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    try:
        with connect(url) as conn:
            # A pytest-xdist worker drops its own database when it exits; one that was killed
            # leaves it behind, so the run's cleanup takes those too.
            workers = conn.execute("SELECT datname FROM pg_database WHERE datname ~ %s",
                                   [f"^{name}_gw[0-9]+$"]).fetchall()
            for db_name in [name] + [row[0] for row in workers]:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db_name)))
    except psycopg.Error as exc:
        print(f"firesweep: could not drop test database {name}: {exc}".strip(), file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["create"] and len(argv) == 1:
        return create()
    if argv[:1] == ["drop"] and len(argv) == 2:
        return drop(argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
