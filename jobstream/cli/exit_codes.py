"""The exit codes of `jobstream`: one meaning each, so a CI script can tell a failed job
from a typo, a busy file or a server that is down without reading the message.

| code | name             | meaning                                                         |
|------|------------------|-----------------------------------------------------------------|
| 0    | OK               | done; the job SUCCEEDED                                         |
| 1    | FAILED           | the job did not succeed, or a check said no (`status`,          |
|      |                  | `replay --verify`, `worker --check`)                            |
| 2    | USAGE            | a bad option, setting or data directory; no such job, or an     |
|      |                  | ambiguous prefix; a retry of a job that has not ended; an       |
|      |                  | unknown callback; a token name taken                            |
| 3    | VIEWS_BUSY       | another process holds the views and answers no API              |
| 4    | INVALID_DOCUMENT | a job document has errors (`lint`, `run`, `submit`)             |
| 5    | LOG_UNREACHABLE  | the event log (the Kafka broker) cannot be reached              |
| 6    | API_UNREACHABLE  | the jobstream API cannot be reached, or answered a server error |
| 7    | UNAUTHORIZED     | the API refused the token (401), or its scope (403)             |
| 8    | CANNOT_LISTEN    | `serve` / `project` cannot listen on the address (port in use)  |
| 10   | ERROR            | any other error jobstream reports (the message says which)      |
| 130  | INTERRUPTED      | Ctrl-C (SIGINT); `run` cancelled its job first                  |

docs/commands.md has the same table; tests/jobstream/test_cli_errors.py drives each.
"""

from __future__ import annotations

import enum

__all__ = ["ExitCode"]


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    VIEWS_BUSY = 3
    INVALID_DOCUMENT = 4
    LOG_UNREACHABLE = 5
    API_UNREACHABLE = 6
    UNAUTHORIZED = 7
    CANNOT_LISTEN = 8
    ERROR = 10
    INTERRUPTED = 130
