"""Exit 0 when URL answers 2xx within 5 s, else 1: a container health check.

    python docker/healthcheck.py http://127.0.0.1:5000/health

The images have Python but no curl, so compose.yaml's health checks call this.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

TIMEOUT_S = 5.0


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(argv[1], timeout=TIMEOUT_S) as response:
            return 0 if 200 <= response.status < 300 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"{argv[1]}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
