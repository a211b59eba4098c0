"""Every router of the app, in one list: add a module's router here to serve it."""

from fastapi import APIRouter

from billflow.web.routes import health, public


def all_routers() -> list[APIRouter]:
    return [health.router, public.router]
