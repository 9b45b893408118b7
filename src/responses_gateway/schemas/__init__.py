"""Pydantic models of the OpenAI Responses request body: the one place input is validated."""
