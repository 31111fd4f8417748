"""The FastAPI application factory. The engine is created in the lifespan, never at import."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import orm

from gamesched.api import deps, docs, errors, interactions, observability
from gamesched.api.routes import channels, games, guilds, health, roster
from gamesched.db import engine as db_engine
from gamesched.settings import Settings

DESCRIPTION = """Games, rosters and their schedules for a Discord game-night community.

Every route under `/api/v1` needs `Authorization: Bearer <token>` (`gamesched token create`).
A guild-scoped token sees only its own guild; anything else is a 404."""


#: Largest request body for the API's JSON routes and for Discord's interactions (a few KB each);
#: anything larger is answered 413 before more of it is read.
MAX_BODY_BYTES = 128 * 1024
MAX_INTERACTION_BODY_BYTES = 64 * 1024

#: Every database exchange of a request (ping, query, commit) must finish within this many
#: seconds (plus one on the client side), pool checkout within POOL_TIMEOUT, a new connection
#: within CONNECT_TIMEOUT: a stalled database answers 503 in well under ten seconds.
QUERY_DEADLINE = 2.0
POOL_TIMEOUT = 3
CONNECT_TIMEOUT = 3


def create_app(settings: Settings) -> FastAPI:
    metrics = observability.Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = db_engine.make_engine(
            settings,
            query_deadline=QUERY_DEADLINE,
            pool_size=10,
            max_overflow=10,
            pool_timeout=POOL_TIMEOUT,
            connect_args={"connect_timeout": CONNECT_TIMEOUT},
        )
        app.state.engine = engine
        app.state.sessionmaker = orm.sessionmaker(engine, expire_on_commit=False)
        pool = interactions.worker_pool()
        app.state.interaction_pool = pool
        try:
            yield
        finally:
            # the commands' work still in hand (deferred answers) finishes and is sent first; in
            # a thread, not to stall the loop (`gamesched run` shares it with the scheduler and
            # the bot); the exit deadline bounds a worker stuck in a database call
            await asyncio.to_thread(pool.shutdown, wait=True)
            engine.dispose()

    app = FastAPI(
        title="gamesched",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's pages load their assets from a CDN; docs.install serves them from here.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    errors.install(app)
    # Outermost last: request id and metrics, then the token's presence, then the body's size,
    # all before a route reads the body.
    app.add_middleware(
        deps.BodyLimit,
        default=MAX_BODY_BYTES,
        caps={"/discord/interactions": MAX_INTERACTION_BODY_BYTES},
    )
    app.add_middleware(deps.BearerGate, prefix="/api/")
    app.add_middleware(observability.ObservabilityMiddleware, metrics=metrics)
    routers = [m.router for m in (health, guilds, channels, games, roster, interactions)]
    for router in routers:
        app.include_router(router)
    docs.install(app)
    api_routes = [r for router in routers for r in router.routes if isinstance(r, APIRoute)]
    metrics.prepare(app, api_routes)
    return app
