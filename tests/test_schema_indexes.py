"""No plain index repeats the leading columns of another index on the same table.

A lookup by those columns is answered by the longer index on both databases, so the shorter
one only costs a write per row (ix_item_results_inspection_id did, on every item result a push
created, until migration 0005). Checked on the schema the suite's database really has.
"""
from sqlalchemy import inspect


def _btree_column_lists(inspector, table):
    """(name, columns, unique) of the table's plain column indexes and unique constraints.

    Expression and non-B-tree indexes (PostgreSQL's trigram and gram GIN indexes) are left out:
    they answer other questions than a column lookup. Partial indexes are left out too."""
    out = []
    for ix in inspector.get_indexes(table):
        options = ix.get("dialect_options", {})
        if None in ix["column_names"] or ix.get("expressions"):
            continue
        if options.get("postgresql_using") not in (None, "btree") \
                or options.get("postgresql_where") is not None or options.get("sqlite_where") is not None:
            continue
        out.append((ix["name"], ix["column_names"], bool(ix["unique"])))
    for uc in inspector.get_unique_constraints(table):
        out.append((uc["name"], uc["column_names"], True))
    return out


def test_no_index_is_a_leading_prefix_of_another(app, db):
    inspector = inspect(db.engine)
    repeats = []
    for table in inspector.get_table_names():
        indexes = _btree_column_lists(inspector, table)
        for name, columns, unique in indexes:
            if unique:
                continue  # a unique index on fewer columns is a rule, not a lookup aid
            for other, longer, _ in indexes:
                if other != name and len(longer) >= len(columns) and longer[:len(columns)] == columns:
                    repeats.append(f"{table}.{name} {columns} ⊆ {other} {longer}")
    assert repeats == []
