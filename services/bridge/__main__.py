"""`python -m services.bridge`: the bridge service (systemd: samantha-bridge.service)."""

from __future__ import annotations

import sys

from ..service import run_service
from .service import BridgeService


def run() -> None:
    sys.exit(run_service(BridgeService))


if __name__ == "__main__":
    run()
