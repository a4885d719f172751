"""Fixtures of the document tests."""
from __future__ import annotations

import pytest

from server.services import numbering
from tests.documents import helpers


@pytest.fixture
def on_issue_day(monkeypatch):
    """The server's date in China is helpers.ISSUE_DAY: numbers leased or taken without an
    explicit day are of that year, whatever year the suite runs in."""
    monkeypatch.setattr(numbering, "local_today", lambda now=None: helpers.ISSUE_DAY)
    return helpers.ISSUE_DAY
