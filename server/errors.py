"""One JSON error shape for every error: {code, status, message, errors, reason}.

`code`/`status`/`errors` follow flask-smorest; `message` is human text in the request's
locale (Chinese by default); `reason` is a stable machine key.
"""
from __future__ import annotations

import logging
from http import HTTPStatus

from flask import jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from server.i18n import translate
from server.services.errors import DomainError

log = logging.getLogger(__name__)

HTTP_REASONS = {
    400: "bad_request", 401: "login_required", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    422: "invalid_input", 429: "rate_limited", 500: "internal_error",
}


def error_response(status: int, reason: str, message: str, errors: dict | None = None, headers=None):
    body = {"code": status, "status": HTTPStatus(status).phrase, "message": message, "reason": reason}
    if errors:
        body["errors"] = errors
    resp = jsonify(body)
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def register_error_handlers(app):
    @app.errorhandler(DomainError)
    def domain_error(err: DomainError):
        return error_response(err.status, err.reason, err.message(), err.fields or None)

    @app.errorhandler(ValidationError)
    def validation_error(err: ValidationError):
        return error_response(422, "invalid_input", translate("errors.invalid_input"),
                              {"json": err.messages})

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        status = err.code or 500
        reason = HTTP_REASONS.get(status, "http_error")
        errors = None
        # flask-smorest/webargs attach validation messages to err.data
        data = getattr(err, "data", None) or {}
        if data.get("messages"):
            errors = data["messages"]
            if status == 422:
                reason = "invalid_input"
        headers = {}
        if isinstance(err, MethodNotAllowed) and err.valid_methods:
            headers["Allow"] = ", ".join(err.valid_methods)
        if status == 429:
            message = translate("errors.rate_limited")
        else:
            message = translate(f"errors.{reason}")
        return error_response(status, reason, message, errors, headers)

    @app.errorhandler(Exception)
    def unhandled(err: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", translate("errors.internal_error"))
