"""Fixtures for the PDF tests: rendered documents, cached per session (no database)."""

import pytest

from server.pdf import render
from tests.pdf import samples


@pytest.fixture(scope="session")
def rendered():
    """rendered(kind) → PDF bytes of the complete sample view model, rendered once."""
    cache = {}

    def _rendered(kind):
        if kind not in cache:
            cache[kind] = render(kind, samples.view_model(kind))
        return cache[kind]

    return _rendered
