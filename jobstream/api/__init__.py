"""The HTTP API of the process that holds the views: jobs, logs (and their SSE stream), stats,
health, bearer tokens and the web page."""

from jobstream.api.app import create_app
from jobstream.api.server import ApiServer
from jobstream.api.tokens import TokenStore

__all__ = ["ApiServer", "TokenStore", "create_app"]
