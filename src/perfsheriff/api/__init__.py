"""The HTTP API (FastAPI): routes, authentication, the error mapping."""
