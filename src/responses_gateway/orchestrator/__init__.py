"""The turn loop: call the model, run MCP tools, repeat; everything a response goes through."""
