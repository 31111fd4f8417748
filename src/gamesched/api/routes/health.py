"""Liveness, readiness (PostgreSQL answers, schema migrated) and Prometheus metrics; no token
needed."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, exc

from gamesched.api import schemas
from gamesched.db import migrate

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=schemas.Health,
    summary="Liveness",
    response_description="the process runs",
)
def healthz() -> schemas.Health:
    """The process runs."""
    return schemas.Health(status="ok")


@router.get(
    "/readyz",
    response_model=schemas.Health,
    summary="Readiness",
    response_description="ready to serve",
    responses={
        503: {
            "model": schemas.Health,
            "description": "PostgreSQL does not answer, or its schema needs `gamesched migrate`",
        }
    },
)
def readyz(request: Request) -> JSONResponse:
    """Ready when PostgreSQL answers and its schema is not behind this release's migrations."""
    engine: Engine = request.app.state.engine
    try:
        with engine.connect() as conn:
            behind = migrate.schema_behind(conn)
    except exc.SQLAlchemyError:
        return JSONResponse(
            {"status": "database unavailable"}, status_code=503, headers={"Retry-After": "5"}
        )
    if behind:
        return JSONResponse(
            {"status": f"database schema {behind}: run `gamesched migrate`"}, status_code=503
        )
    return JSONResponse({"status": "ok"})


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(request: Request) -> Response:
    """Request counts by route and status, latency histograms and the requests in progress,
    in Prometheus' text format. Every route's series exist from the start, at 0."""
    data = generate_latest(request.app.state.metrics.registry)
    return Response(data, media_type=CONTENT_TYPE_LATEST)
