"""`python -m services.listener`: the listener service (started by `samantha run` or systemd)."""

from __future__ import annotations

import sys

from ..service import run_service
from .service import ListenerService


def run() -> None:
    sys.exit(run_service(ListenerService))


if __name__ == "__main__":
    run()
