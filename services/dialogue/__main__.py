"""`python -m services.dialogue`: the dialogue service (run by systemd or `samantha run`)."""

from __future__ import annotations

import sys

from ..service import run_service
from .service import DialogueService


def run() -> None:
    sys.exit(run_service(DialogueService))


if __name__ == "__main__":
    run()
