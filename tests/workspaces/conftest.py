"""The API tests' app, client and worker (tests/api/conftest.py)."""

from tests.api.conftest import api_settings, app, http, worker  # noqa: F401
