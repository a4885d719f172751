"""Named domain errors. Services raise these; server/errors.py maps them to HTTP.

Each error carries a `reason` (a stable machine key, also the i18n message key under
`errors.`) and optional `params` for the message and `fields` for per-field details.
"""
from __future__ import annotations


class DomainError(Exception):
    status = 422
    default_reason = "rule_violation"

    def __init__(self, reason: str | None = None, *, fields: dict | None = None, **params):
        self.reason = reason or self.default_reason
        self.params = params
        self.fields = fields or {}
        super().__init__(self.reason)

    def message(self, locale: str | None = None) -> str:
        from server.i18n import translate

        return translate(f"errors.{self.reason}", locale, **self.params)


class BadInput(DomainError):
    status = 400
    default_reason = "bad_input"


class Unauthorized(DomainError):
    status = 401
    default_reason = "login_required"


class Forbidden(DomainError):
    status = 403
    default_reason = "forbidden"


class NotFound(DomainError):
    status = 404
    default_reason = "not_found"


class Conflict(DomainError):
    status = 409
    default_reason = "conflict"


class RuleViolation(DomainError):
    status = 422
    default_reason = "rule_violation"
