"""Reference-data fixtures. Other domains can do the same: call `server.services.reference.load_all()`
after the `db` fixture (about 15 ms into an empty SQLite database, 5 ms when already loaded).
"""
from __future__ import annotations

import json
import shutil

import pytest

from server.services import reference


@pytest.fixture
def reference_data(db):
    """The files of server/data/ loaded into the clean test database; returns the load report."""
    return reference.load_all()


@pytest.fixture
def data_copy(tmp_path):
    """A private copy of server/data/ that a test may edit, with a helper to rewrite a JSON file."""
    root = tmp_path / "data"
    shutil.copytree(reference.DATA_DIR, root)

    class Copy:
        path = root

        def edit(self, relative: str, change) -> None:
            file = root / relative
            doc = json.loads(file.read_text(encoding="utf-8"))
            change(doc)
            file.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")

    return Copy()


@pytest.fixture
def no_overrides(app):
    """An app context with an empty calendar-override table: cheaper than the full `db` wipe for
    the many table-driven calendar cases, which read nothing else."""
    from sqlalchemy import delete

    from server.extensions import db as _db
    from server.models import CalendarOverride

    with app.app_context():
        _db.session.execute(delete(CalendarOverride))
        _db.session.commit()
        yield
        _db.session.remove()
