"""Running the app under uvicorn (``responses-gateway serve``)."""

from __future__ import annotations

import os
import tempfile

import uvicorn

from responses_gateway.config import Settings
from responses_gateway.http_server import uvicorn_options


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Set before the workers start (and import prometheus_client): each one writes its
        # samples here, and any one answers /metrics for all.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gateway-metrics-")
    uvicorn.run(
        "responses_gateway.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        log_config=None,  # uvicorn's own lines through our handler and GATEWAY_LOG_FORMAT
        access_log=False,  # the gateway writes its own request line (responses_gateway.access)
        timeout_graceful_shutdown=1,  # the drain (lifecycle.py) has already waited
        ws="websockets-sansio",  # WebSocket mode; uvicorn's legacy "websockets" is deprecated
        **uvicorn_options(settings),
    )
