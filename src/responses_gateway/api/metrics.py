"""``GET /metrics``: Prometheus' text format (no auth: expose it on an operator network only)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from responses_gateway.observability.metrics import exposition

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)
