"""The staff API's fixtures (app on real PostgreSQL, time-skipping Temporal, the real worker, API keys)."""

from tests.api.conftest import (  # noqa: F401  (re-exported fixtures)
    api_settings,
    app,
    http,
    integration,
    make_key,
    staff_headers,
    temporal_env,
    viewer_headers,
    worker,
)
