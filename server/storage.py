"""Content-addressed blob storage behind a small interface.

`LocalStorage` keeps bytes under instance/blobs/ab/cdef…; an S3-compatible backend only needs
the same four methods. Keys are SHA-256 hex digests of the stored bytes.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from flask import current_app


class Storage(Protocol):
    def put(self, data: bytes) -> str: ...
    def put_as(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def exists(self, key: str) -> bool: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def valid_key(key: str) -> bool:
    return len(key) == 64 and all(c in "0123456789abcdef" for c in key)


class LocalStorage:
    """Files under one folder, written atomically (temp file + rename)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not (valid_key(key) or (valid_key(key[:64]) and key[64:] in ("", ".thumb"))):
            raise ValueError("bad blob key")
        return self.root / key[:2] / key

    def put(self, data: bytes) -> str:
        key = sha256_hex(data)
        self.put_as(key, data)
        return key

    def put_as(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def exists(self, key: str) -> bool:
        return self._path(key).exists()


def get_storage(app=None) -> Storage:
    app = app or current_app
    storage = app.extensions.get("firesweep_storage")
    if storage is None:
        storage = app.extensions["firesweep_storage"] = LocalStorage(app.config["BLOB_DIR"])
    return storage
