"""Between the HTTP routes and the orchestrator: validate, load context, run, store."""
