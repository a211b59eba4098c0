"""The API tests' app and client (tests/api/conftest.py)."""

from tests.api.conftest import api_settings, app, http  # noqa: F401
