"""responses-gateway: the OpenAI Responses API in front of any chat-completions backend."""

__version__ = "0.1.0"
