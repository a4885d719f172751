"""Where each domain module registers what sync may replay through it.

A sync mutation `{entity, op, entity_id, fields}` is replayed by calling the handler
registered for `(entity, op)` — the same service function the REST endpoint calls — so a rule
can never differ between online and synced-later.

Handler signatures (all run inside the push transaction; they must not commit):
  create:   fn(actor, entity_id: str, fields: dict) -> row
  update:   fn(actor, row, changes: dict) -> row        # sync has already checked versions
  delete:   fn(actor, row) -> row                        # sets the tombstone
  other op: fn(actor, entity_id: str, fields: dict) -> row   (e.g. inspection "finish",
            hazard "transition", document "issue")
Also per entity: `scope(actor, row) -> None` raising Forbidden, used before any update/delete
(create handlers check scope themselves), and `venue_id_of(row)`.
"""
from __future__ import annotations

import importlib
from typing import Callable

HANDLERS: dict[tuple[str, str], Callable] = {}

# Service modules that register handlers; imported once by load_handlers().
HANDLER_MODULES: list[str] = [
    "server.services.inspections",
    "server.services.hazards",
    "server.services.campaigns",
    "server.services.documents",
    "server.services.venues",
]


def sync_handler(entity: str, op: str):
    def deco(fn):
        key = (entity, op)
        if key in HANDLERS and HANDLERS[key] is not fn:
            raise RuntimeError(f"two sync handlers for {key}")
        HANDLERS[key] = fn
        return fn
    return deco


def load_handlers() -> dict:
    for name in HANDLER_MODULES:
        importlib.import_module(name)
    return HANDLERS
