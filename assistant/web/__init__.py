"""Web: the FastAPI application, its JSON API, the web chat and the source view."""
