"""The chaos suite's web app process: billflow's app factory under uvicorn on CHAOS_API_PORT (loopback)."""

from __future__ import annotations

import asyncio
import os

import uvicorn

from billflow.config import Settings
from billflow.db import Database
from billflow.temporal import connect
from billflow.web.app import create_app


async def main() -> None:
    settings = Settings()
    assert settings.database_url, "the chaos web app needs DATABASE_URL"
    db = Database(settings.database_url)  # the pool `billflow api` uses
    client = await connect(settings)
    app = create_app(settings, db, client)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=int(os.environ["CHAOS_API_PORT"]), log_level="warning", access_log=False
    )
    await uvicorn.Server(config).serve()
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
