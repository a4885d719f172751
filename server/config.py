"""Configuration: safe defaults, overridden by environment variables.

Every variable is listed in README.md (Configuration). Nothing here reads the environment at
import time; `load_config()` is called by `create_app()`.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The configuration cannot run (e.g. no SECRET_KEY in production)."""


class Config:
    ENV_NAME = "production"
    DEBUG = False
    TESTING = False
    SECRET_KEY: str | None = None
    INSTANCE_DIR = str(ROOT / "instance")
    SQLALCHEMY_DATABASE_URI: str | None = None  # filled in by load_config
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    BLOB_DIR: str | None = None
    MAX_CONTENT_LENGTH = 32 * 1024 * 1024
    BLOB_MAX_BYTES = 15 * 1024 * 1024
    PHOTO_MAX_EDGE = 2048

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "firesweep_session"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = True

    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_LOGIN = "10 per minute"
    RATELIMIT_HEADERS_ENABLED = True

    API_TITLE = "Firesweep API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_REDOC_PATH = None
    OPENAPI_SWAGGER_UI_PATH = None  # offline docs page is served by server/api/docs.py

    AGENCY_NAME = "宁波市北仑区消防救援大队"
    AGENCY_SHORT_NAME = "北仑消"
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"
    DEFAULT_LOCALE = "zh-CN"
    SYNC_PULL_MAX = 1000


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False
    SECRET_KEY = "dev-only-not-secret"  # only ever used when FIRESWEEP_ENV=development
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-only-not-secret"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    RATELIMIT_LOGIN = "1000 per minute"
    # Real argon2id, minimal cost: fixtures create many users.
    ARGON2_PARAMS = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


CONFIGS = {"production": Config, "development": DevelopmentConfig, "test": TestConfig}

# Environment variable -> config key. README.md documents each one.
ENV_OVERRIDES = {
    "SECRET_KEY": "SECRET_KEY",
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "FIRESWEEP_INSTANCE_DIR": "INSTANCE_DIR",
    "FIRESWEEP_BLOB_DIR": "BLOB_DIR",
    "FIRESWEEP_REDIS_URL": "RATELIMIT_STORAGE_URI",
    "FIRESWEEP_LOGIN_RATE": "RATELIMIT_LOGIN",
    "FIRESWEEP_AGENCY_NAME": "AGENCY_NAME",
    "FIRESWEEP_AGENCY_SHORT_NAME": "AGENCY_SHORT_NAME",
    "FIRESWEEP_PUBLIC_BASE_URL": "PUBLIC_BASE_URL",
}


def normalise_database_url(url: str) -> str:
    """Accept plain postgres:// URLs and route them to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_config(overrides: dict | None = None, environ: dict | None = None) -> dict:
    """Build the config dict for one app: class defaults, then environment, then overrides."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    env_name = overrides.pop("ENV_NAME", None) or environ.get("FIRESWEEP_ENV", "production")
    if env_name not in CONFIGS:
        raise ConfigError(f"FIRESWEEP_ENV must be one of {sorted(CONFIGS)}, not {env_name!r}")
    cls = CONFIGS[env_name]
    cfg = {k: getattr(cls, k) for k in dir(cls) if k.isupper()}
    for var, key in ENV_OVERRIDES.items():
        if environ.get(var):
            cfg[key] = environ[var]
    cfg.update(overrides)

    Path(cfg["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)
    if not cfg.get("SQLALCHEMY_DATABASE_URI"):
        cfg["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(Path(cfg["INSTANCE_DIR"]) / "firesweep.db")
    cfg["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(cfg["SQLALCHEMY_DATABASE_URI"])
    if not cfg.get("BLOB_DIR"):
        cfg["BLOB_DIR"] = str(Path(cfg["INSTANCE_DIR"]) / "blobs")
    from server.models.base import json_dumps, json_loads

    json_options = {"json_serializer": json_dumps, "json_deserializer": json_loads}
    if cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30, "check_same_thread": False},
                                            **json_options}
    else:
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, **json_options}
    if not cfg.get("SECRET_KEY"):
        raise ConfigError(
            "SECRET_KEY is not set: export SECRET_KEY (a long random string) "
            "or run with FIRESWEEP_ENV=development for a local demo"
        )
    cfg["ENV_NAME"] = env_name
    return cfg
