# One image for every gamesched process: choose the command at run time
# (gamesched migrate | api | scheduler | bot | run).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 gamesched
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
USER gamesched
ENV LOG_FORMAT=json
EXPOSE 8000 9101 9102
ENTRYPOINT ["gamesched"]
CMD ["run"]
