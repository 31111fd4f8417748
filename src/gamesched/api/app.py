"""The FastAPI application factory. The engine is created in the lifespan, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import orm

from gamesched.api import errors, interactions, observability
from gamesched.api.routes import channels, games, guilds, health, roster
from gamesched.db import engine as db_engine
from gamesched.settings import Settings

DESCRIPTION = """Games, rosters and their schedules for a Discord game-night community.

Every route under `/api/v1` needs `Authorization: Bearer <token>` (`gamesched token create`).
A guild-scoped token sees only its own guild; anything else is a 404."""


def create_app(settings: Settings) -> FastAPI:
    metrics = observability.Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = db_engine.make_engine(settings, pool_size=10, max_overflow=10, pool_timeout=10)
        app.state.engine = engine
        app.state.sessionmaker = orm.sessionmaker(engine, expire_on_commit=False)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="gamesched",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    errors.install(app)
    app.add_middleware(observability.ObservabilityMiddleware, metrics=metrics)
    for module in (health, guilds, channels, games, roster, interactions):
        app.include_router(module.router)
    return app
