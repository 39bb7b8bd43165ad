"""The container's health probe: exit status 0 when the app answers, 1 when it does not.

Docker runs this file inside the image, every `--interval`, as the HEALTHCHECK command:

    HEALTHCHECK CMD ["python", "healthcheck.py", "http://127.0.0.1:8000/health"]

Use only the standard library (`urllib.request`): a slim image has no curl or wget, and the
probe must keep working when the app's own packages are broken.
"""

from __future__ import annotations

import sys

DEFAULT_URL = "http://127.0.0.1:8000/health"


def probe(url: str, timeout: float = 2.0) -> bool:
    """True when GET `url` answers with a 2xx status within `timeout` seconds, else False.

    It never raises and never waits longer than `timeout`: a refused connection, a 503, a
    404, a server that accepts the connection and says nothing, a malformed URL — all False.

    >>> probe("http://127.0.0.1:8000/health")   # the app is up
    True
    >>> probe("http://127.0.0.1:9/health")      # nothing listens on port 9
    False
    """
    raise NotImplementedError  # TODO: urllib.request.urlopen(url, timeout=timeout), catch errors


def main(argv: list[str] | None = None) -> int:
    """The exit status Docker reads: 0 healthy, 1 unhealthy (never 2: Docker reserves it).

    `argv` is the command line after the script name (sys.argv[1:] when None); its first item,
    if any, is the URL to probe, else DEFAULT_URL.

    >>> main(["http://127.0.0.1:8000/health"])   # the app is up
    0
    """
    raise NotImplementedError  # TODO


if __name__ == "__main__":
    sys.exit(main())
