"""The API tests' app, client and worker (tests/api/conftest.py)."""

from tests.api.conftest import api_settings, app, http, integration, temporal_env, worker  # noqa: F401
