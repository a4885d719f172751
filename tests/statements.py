"""Count the SQL statements a piece of code sends (tests of how many queries a request costs)."""
from __future__ import annotations

from sqlalchemy import event

from server.extensions import db


class Statements:
    """`with Statements() as st: ...` → `st.seen`, each statement on one line."""

    def __init__(self):
        self.seen: list[str] = []

    def __call__(self, conn, cursor, statement, *args):
        self.seen.append(" ".join(statement.split()))

    def __enter__(self):
        self.engine = db.engine
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self)

    def matching(self, *words: str) -> list[str]:
        """The statements containing any of `words`."""
        return [s for s in self.seen if any(w in s for w in words)]
