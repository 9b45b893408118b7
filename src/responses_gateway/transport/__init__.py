"""WebSocket mode on ``/v1/responses``: connection state, lanes, frames and the bounded outbox.

The route (``api/websocket.py``) authenticates the handshake and hands the socket to
``connection.serve``; every ``response.create`` frame then goes through the same request model,
``ResponsesService.prepare`` / ``produce`` and event encoder as ``POST /v1/responses``.
"""
