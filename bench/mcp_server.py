"""A real MCP server (the ``mcp`` SDK's MCPServer, Streamable HTTP at ``/mcp``) with an ``add``
tool, for the benchmark's MCP round trip.

Run: ``python bench/mcp_server.py PORT`` (prints ``ready`` once listening).
"""

from __future__ import annotations

import socket
import sys
import threading
import time

import uvicorn
from mcp.server.mcpserver import MCPServer


def build_server() -> MCPServer:
    server = MCPServer("bench-calc", instructions="Adds numbers.", log_level="WARNING")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    return server


def main(port: int) -> None:
    app = build_server().streamable_http_app(streamable_http_path="/mcp")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))

    def announce() -> None:
        while not server.started:
            time.sleep(0.01)
        print("ready", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    server.run(sockets=[sock])


if __name__ == "__main__":
    main(int(sys.argv[1]))
