"""Persistence of stored responses: the tables (``tables``), the engine (``engine``), the queries (``responses``)."""
