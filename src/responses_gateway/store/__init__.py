"""Stored responses: tables (schema), engine (engines, migrations), responses (queries)."""
