"""wsgi.py, what gunicorn imports: the app, and the start-up objects frozen out of the
garbage collector's generations so a full collection does not walk them."""
from __future__ import annotations

import os
import subprocess
import sys

from server.config import ROOT


def test_wsgi_builds_the_app_and_freezes_start_up_objects(tmp_path):
    env = dict(os.environ, FIRESWEEP_ENV="development", FIRESWEEP_INSTANCE_DIR=str(tmp_path))
    env.pop("DATABASE_URL", None)
    code = ("import gc, wsgi; from flask import Flask; "
            "assert isinstance(wsgi.app, Flask); print(gc.get_freeze_count())")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert int(out.strip()) > 10_000  # the app's modules, mappers and schemas
