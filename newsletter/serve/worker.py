"""The app of one of several ``serve`` workers, built in the worker's own process.

uvicorn spawns each worker and imports ``create`` by name, so nothing can be handed to it
but the environment: ``run`` puts the workspace and the number of workers in
``NEWSLETTER_SERVE_WORKER`` (JSON), and each worker loads its settings from there, exactly
as ``newsletter serve`` did before starting them.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from starlette.applications import Starlette

from newsletter.errors import ConfigError
from newsletter.serve.app import create_app
from newsletter.serve.settings import Settings

WORKER_ENV = "NEWSLETTER_SERVE_WORKER"


def create() -> Starlette:
    """The app of this worker (uvicorn's ``factory``)."""
    try:
        given = json.loads(os.environ[WORKER_ENV])
        root, workers = Path(given["root"]), int(given["workers"])
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"{WORKER_ENV} is not set by 'newsletter serve --workers'") from exc
    return create_app(replace(Settings.load(root), workers=workers))
