"""The local web dashboard: FastAPI pages and a JSON API over the same services as the CLI.

``aipath serve`` (and ``aipath up``) run it with :func:`aipath.web.server.serve_dashboard`;
tests and benchmarks build the app with :func:`aipath.web.app.create_app`.
"""
