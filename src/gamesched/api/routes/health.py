"""Liveness, readiness (PostgreSQL answers) and Prometheus metrics; no token needed."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, exc, text

from gamesched.api import schemas

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=schemas.Health)
def healthz() -> schemas.Health:
    """The process runs."""
    return schemas.Health(status="ok")


@router.get(
    "/readyz",
    response_model=schemas.Health,
    responses={503: {"model": schemas.Health, "description": "PostgreSQL does not answer"}},
)
def readyz(request: Request) -> JSONResponse:
    """Ready when PostgreSQL answers a query."""
    engine: Engine = request.app.state.engine
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except exc.SQLAlchemyError:
        return JSONResponse(
            {"status": "database unavailable"}, status_code=503, headers={"Retry-After": "5"}
        )
    return JSONResponse({"status": "ok"})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(request: Request) -> Response:
    """Request counts and latency histograms in Prometheus' text format."""
    data = generate_latest(request.app.state.metrics.registry)
    return Response(data, media_type=CONTENT_TYPE_LATEST)
