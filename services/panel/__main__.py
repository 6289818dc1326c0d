"""``python -m services.panel``: the panel service (button and LEDs)."""

import sys

from ..service import run_service
from .service import PanelService


def run() -> None:
    sys.exit(run_service(PanelService))


if __name__ == "__main__":
    run()
