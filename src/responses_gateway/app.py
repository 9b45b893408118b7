"""The composition root: builds every part from ``Settings`` and wires them into one FastAPI app."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
from fastapi import FastAPI

from responses_gateway import __version__
from responses_gateway.api import (
    compaction,
    conversations,
    health,
    input_tokens,
    metrics,
    passthrough,
    responses,
    websocket,
)
from responses_gateway.api.deps import Gateway
from responses_gateway.api.errors import install_error_handlers
from responses_gateway.api.hot_routes import GatewayApp
from responses_gateway.api.limits import Limits, RequestBodies
from responses_gateway.api.openapi import install_openapi
from responses_gateway.chat.reasoning import ReasoningReplay
from responses_gateway.chat.shaping import ChatStyle
from responses_gateway.config import Settings
from responses_gateway.lifecycle import Lifecycle, process_lifecycle
from responses_gateway.mcp import EgressPolicy, open_sessions
from responses_gateway.observability import tracing
from responses_gateway.observability.access import AccessLayer
from responses_gateway.observability.observed_upstream import ObservedUpstream
from responses_gateway.orchestrator.compaction_step import Compactor
from responses_gateway.orchestrator.turn_loop import Orchestrator
from responses_gateway.sealing import sealer_from_settings
from responses_gateway.service.background import BackgroundService
from responses_gateway.service.background_worker import Worker
from responses_gateway.service.compaction import CompactionService
from responses_gateway.service.context_window import ContextWindow
from responses_gateway.service.conversation_turns import ConversationTurns
from responses_gateway.service.conversations import ConversationsService
from responses_gateway.service.history import HistoryCache
from responses_gateway.service.input_tokens import InputTokensService
from responses_gateway.service.responses_service import ResponsesService
from responses_gateway.service.retention import purge_periodically
from responses_gateway.service.tool_shapes import HostedToolPolicy
from responses_gateway.store.conversations import ConversationStore
from responses_gateway.store.database import Database, open_database
from responses_gateway.store.jobs import JobStore
from responses_gateway.store.responses import ResponseStore
from responses_gateway.store.retention import RetentionStore
from responses_gateway.tokenizer import TokenCounter
from responses_gateway.transport.connection import ConnectionLimits
from responses_gateway.upstream import UpstreamClient
from responses_gateway.web_search import web_searcher


def create_app(settings: Settings, lifecycle: Lifecycle | None = None) -> FastAPI:
    life = lifecycle or Lifecycle()
    logging.getLogger("responses_gateway").setLevel(settings.log_level.upper())
    # Both HTTP stacks log every request URL at INFO; MCP URLs and paths can carry secrets.
    for noisy in ("httpx", "httpx2", "httpcore", "httpcore2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    app = GatewayApp(
        title="responses-gateway",
        version=__version__,
        lifespan=_lifespan(settings, life),
        docs_url=None,
        redoc_url=None,
        # The gateway's own spans, metrics and request log (observability/) say what an operator
        # needs; FastAPI's native telemetry would add a second HTTP span and metric set through
        # the same global providers, and its check cost ~3% of a request's CPU (cProfile).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    app.state.limits = Limits.from_settings(settings)
    app.add_middleware(RequestBodies, limits=app.state.limits)
    install_openapi(app)
    app.state.lifecycle = life
    app.add_middleware(AccessLayer, lifecycle=life)  # outermost: it sees refusals too
    # The one route nearly every call takes skips FastAPI's router and outer middleware, through
    # the same two layers as above.
    app.serve_hot(
        {("POST", "/v1/responses"): responses.create_response},
        lambda hot: AccessLayer(RequestBodies(hot, app.state.limits), life),
    )
    # Before /responses/{id} can match /responses/compact or /responses/input_tokens.
    app.include_router(compaction.router)
    app.include_router(input_tokens.router)
    app.include_router(responses.router)
    app.include_router(websocket.router)
    app.include_router(conversations.router)
    app.include_router(passthrough.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app


def _lifespan(
    settings: Settings, life: Lifecycle
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Opens the database and the upstream client, runs the background worker and retention
    purge beside the app, and closes all of it in reverse."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = await open_database(settings.database_url, pool_size=settings.database_pool_size)
        tracing.configure(content=settings.otel_capture_content)
        upstream = UpstreamClient(settings)
        app.state.gateway = gateway = _gateway(settings, database, upstream, life)
        worker = gateway.background.worker
        # Measured: a full garbage collection walked the ~180,000 objects of the imported
        # libraries in ~100 ms, a stall every few thousand requests (the p99 at c=16). Frozen,
        # they are never walked again; collections see only what requests create.
        gc.collect()
        gc.freeze()
        life.drain_on_signals(settings.shutdown_grace)
        try:
            async with anyio.create_task_group() as tasks:
                if settings.retention_days > 0:
                    tasks.start_soon(
                        purge_periodically,
                        RetentionStore(database),
                        settings.retention_days,
                        settings.retention_interval,
                    )
                tasks.start_soon(worker.serve, tasks)
                try:
                    yield
                finally:
                    await worker.close()
                    tasks.cancel_scope.cancel()
        finally:
            await upstream.aclose()
            tracing.shutdown()
            await database.close()

    return lifespan


def _gateway(
    settings: Settings, database: Database, upstream: UpstreamClient, life: Lifecycle
) -> Gateway:
    sealer = sealer_from_settings(
        [key.get_secret_value() for key in settings.sealing_keys], settings.sealing_key_file
    )
    observed = ObservedUpstream(upstream)
    orchestrator = Orchestrator(
        observed,
        lambda: open_sessions(settings),
        max_tool_rounds=settings.max_tool_rounds,
        max_tokens_param=settings.upstream_max_tokens_param,
        compactor=Compactor(observed, sealer),
        replay=ReasoningReplay(sealer),
        style=ChatStyle(settings.upstream_reasoning_replay, settings.upstream_late_system),
        web_search=web_searcher(settings),
    )
    counter = TokenCounter(upstream, settings.tokenizer)
    histories = HistoryCache(settings.history_cache_mb * 1024 * 1024)
    conversation_store = ConversationStore(database)
    jobs = JobStore(database)
    service = ResponsesService(
        ResponseStore(database),
        orchestrator,
        policy=EgressPolicy.from_settings(settings),
        default_approval=settings.mcp_default_approval,
        history_cache=histories,
        conversations=ConversationTurns(conversation_store, histories, sealer),
        sealer=sealer,
        window=ContextWindow(orchestrator, counter, upstream, settings.context_window),
        hosted=HostedToolPolicy(settings.hosted_tools, bool(settings.web_search_url)),
    )
    return Gateway(
        service,
        upstream,
        tuple(settings.api_keys),
        sealer,
        ConversationsService(conversation_store),
        CompactionService(service, upstream, sealer),
        InputTokensService(service, orchestrator, counter),
        BackgroundService(
            service,
            jobs,
            Worker(service, jobs, settings, draining=lambda: life.draining),
            settings,
        ),
        websocket=ConnectionLimits.from_settings(settings),
    )


def app_from_environment() -> FastAPI:
    """Factory for uvicorn (``--workers`` needs an importable one)."""
    return create_app(Settings(), process_lifecycle())
