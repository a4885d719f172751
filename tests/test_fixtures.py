"""The suite's own speed-ups give what the slow way gives."""
from __future__ import annotations

import uuid


def test_built_file_builds_once_and_then_returns_the_same_bytes(built_file):
    calls = []

    def build(payload):
        calls.append(payload)
        return payload

    key = ("test", uuid.uuid4().hex)
    assert built_file(key, lambda: build(b"first")) == b"first"
    # Same key: from the cache, not built again (a second builder giving other bytes is not called).
    assert built_file(key, lambda: build(b"other")) == b"first"
    assert calls == [b"first"]
    # Another key is another file.
    assert built_file(key + ("2",), lambda: build(b"second")) == b"second"
    assert calls == [b"first", b"second"]
