"""The push's one lookup (stored answers and already-created ids) reaches every table through its
key's index. On PostgreSQL with `key = ANY(array)` the planner scanned a table of a thousand
rows from end to end (by its cost model cheaper than 25 index probes, in practice several times
slower, and growing with the table): a new deployment paid that on every push for weeks."""
from __future__ import annotations

import uuid

from sqlalchemy import text

from server.extensions import db as _db
from server.models import Hazard, Inspection, ItemResult
from server.services import sync
from tests.sync.helpers import inspection_batch, push

MODELS = (Inspection, ItemResult, Hazard)
TABLES = {"processed_mutations", "inspections", "item_results", "hazards"}


def lookup_params(batch) -> dict:
    return {"mutation_ids": [m["mutation_id"] for m in batch] + [str(uuid.uuid4()) for _ in range(40)],
            "ids_0": [batch[0]["entity_id"]],
            "ids_1": [str(uuid.uuid4()) for _ in range(24)],
            "ids_2": [m["entity_id"] for m in batch if m["entity"] == "hazard"] + [str(uuid.uuid4()) for _ in range(20)]}


def multiply(connection, table: str, key: str, times: int) -> None:
    """`times` copies of the table's rows with new keys (and new server_seq numbers)."""
    columns = [c.name for c in _db.metadata.tables[table].columns if c.name != "id" or key == "id"]
    values = {c: c for c in columns}
    values[key] = f"md5({key} || g::text)"
    if "server_seq" in values:
        values["server_seq"] = "server_seq * 100000 + g"
    connection.execute(text(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values[c] for c in columns)} "
                            f"FROM {table} CROSS JOIN generate_series(1, {times}) AS g"))


def plan_nodes(node):
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)


def test_lookup_probes_each_key_index(login, world, db):
    batch = inspection_batch(world, n_hazards=3)
    push(login("inspector_a"), batch)
    connection = db.session.connection()
    postgresql = connection.dialect.name == "postgresql"
    statement = sync._lookup_query(MODELS, postgresql)
    if postgresql:
        # Tables of a few thousand rows, as the planner knows them (analysed).
        multiply(connection, "hazards", "id", 700)
        multiply(connection, "processed_mutations", "mutation_id", 700)
        connection.execute(text("ANALYZE hazards, processed_mutations, inspections, item_results"))
        compiled = statement.compile(dialect=connection.dialect)
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.execute("EXPLAIN (FORMAT JSON) " + str(compiled), dict(compiled.params, **lookup_params(batch)))
        scans = {n["Relation Name"]: n["Node Type"] for n in plan_nodes(cursor.fetchone()[0][0]["Plan"])
                 if "Relation Name" in n}
        assert scans.keys() == TABLES, scans
        # (a table of one page, like inspections here, is read whole: that is cheaper)
        assert scans["hazards"] in ("Index Scan", "Index Only Scan"), scans
        assert scans["processed_mutations"] in ("Index Scan", "Index Only Scan"), scans
    else:
        compiled = statement.params(**lookup_params(batch)).compile(dialect=connection.dialect,
                                                                      compile_kwargs={"literal_binds": True})
        plan = [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled))]
        searched = {line.split()[1] for line in plan if line.startswith("SEARCH ")}
        assert searched == TABLES, plan
        assert all("INDEX" in line or "PRIMARY KEY" in line for line in plan if line.startswith("SEARCH ")), plan
        assert not [line for line in plan if line.startswith("SCAN ")], plan
    # and the push still answers a replay from what the lookup found
    again = push(login("inspector_a"), batch)
    assert {r["status"] for r in again["results"]} == {"applied"}
