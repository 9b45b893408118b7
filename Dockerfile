# syntax=docker/dockerfile:1
# responses-gateway: the OpenAI Responses API in front of any chat-completions upstream.
#
#   docker build -t responses-gateway .
#   docker run --rm -p 8080:8080 -e GATEWAY_UPSTREAM_URL=http://host.docker.internal:8000/v1 \
#       --add-host=host.docker.internal:host-gateway -v gateway-data:/data responses-gateway
#
# Extra arguments go to `responses-gateway serve` (e.g. `--workers 2`, `--no-migrate`);
# `migrate` as the first argument only applies the migrations. See docker/compose.yaml.

# ---- build: a wheel (pyproject force-includes migrations/ and alembic.ini into it)
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY migrations ./migrations
COPY src ./src
RUN pip wheel --no-deps --wheel-dir /wheels .

# ---- runtime: the wheel and its dependencies, no source tree, non-root
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GATEWAY_DATABASE_URL=sqlite:////data/gateway.db \
    GATEWAY_LOG_LEVEL=warning
COPY --from=build /wheels /tmp/wheels
RUN pip install /tmp/wheels/*.whl && rm -rf /tmp/wheels
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /app --create-home gateway \
    && mkdir -p /data && chown gateway:gateway /data
COPY docker/entrypoint.sh /usr/local/bin/entrypoint.sh
RUN chmod 0755 /usr/local/bin/entrypoint.sh
USER gateway
WORKDIR /app
# SQLite (the default above) keeps its file here; with PostgreSQL the volume stays empty.
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD []
