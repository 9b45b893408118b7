"""The chat-completions wire format: Responses items in, chat messages and payloads out, replies back."""
