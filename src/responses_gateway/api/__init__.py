"""HTTP routes: thin; parsing, auth and the choice of JSON or event stream, nothing else."""
