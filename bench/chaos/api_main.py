"""The chaos suite's web app process: billflow's app factory under uvicorn, serving on the listening socket the
harness bound and passed down (CHAOS_API_FD), so no other process can take its port meanwhile."""

from __future__ import annotations

import asyncio
import os
import socket

import uvicorn

from billflow.config import Settings
from billflow.db import Database
from billflow.temporal import connect
from billflow.web.app import create_app

CONNECT_FOR = 60.0  # seconds: a dev server that listens may not answer yet on a loaded machine


async def _temporal(settings: Settings):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + CONNECT_FOR
    while True:
        try:
            return await connect(settings)
        except RuntimeError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def main() -> None:
    settings = Settings()
    assert settings.database_url, "the chaos web app needs DATABASE_URL"
    db = Database(settings.database_url)  # the pool `billflow api` uses
    client = await _temporal(settings)
    app = create_app(settings, db, client)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    listening = socket.socket(fileno=int(os.environ["CHAOS_API_FD"]))
    await uvicorn.Server(config).serve(sockets=[listening])
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
