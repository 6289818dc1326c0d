"""python -m services.voice: run the voice service."""

import sys

from services.service import run_service
from services.voice.service import VoiceService


def run() -> None:
    sys.exit(run_service(VoiceService))


if __name__ == "__main__":
    run()
