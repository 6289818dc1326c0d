"""The voice service: Samantha's speaker. It speaks Say texts, plays chimes, keeps the volume.

In: Say, PlayChime, StopSpeaking, SetVolume. Out: SpeakingStarted / SpeakingFinished around every
text and chime, VolumeState (retained) on connect and on every change.

Audio is played on the speaker's own thread (see player.py); the event loop only queues work.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from device.chimes import make_chimes
from services.messages import Message, PlayChime, Say, SetVolume, StopSpeaking, VolumeState
from services.service import Service

from .player import SpeechPlayer
from .tts import Synthesizer

_LOGGER = logging.getLogger(__name__)

CHIME_RATE = 22050  # Hz: the rate Piper's medium voices and espeak-ng speak at, so no reopening
OPTIONAL_CHIMES = ("wake", "done")  # [voice] chimes = false silences these; error and timer always play
STATE_FILE = "voice.json"


class VoiceService(Service):
    """Speaks, chimes and keeps the volume; one Piper child process, one speaker thread."""

    name = "voice"
    subscriptions = (Say, PlayChime, StopSpeaking, SetVolume)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.volume = self._load_volume()
        self.synthesizer = Synthesizer(self.settings.voice)
        self.synthesizer.start()
        self.chimes = make_chimes(CHIME_RATE)
        self.player = SpeechPlayer(self.settings.audio, self.synthesizer, self.bus.publish_threadsafe,
                                   self._report_error_threadsafe, self.volume)
        await asyncio.to_thread(self.player.start)  # opening a sound card can take a moment

    def _report_error_threadsafe(self, text: str) -> None:
        """report_error() for the speaker thread."""
        self._loop.call_soon_threadsafe(self.report_error, text)

    async def connected(self) -> None:
        self.bus.publish(VolumeState(volume=self.volume))

    async def handle(self, message: Message) -> None:
        if isinstance(message, Say):
            self.player.say(message.text, message.id, message.expect_reply)
        elif isinstance(message, StopSpeaking):
            self.player.stop()
        elif isinstance(message, PlayChime):
            if message.name in OPTIONAL_CHIMES and not self.settings.voice.chimes:
                return
            self.player.play(self.chimes[message.name], CHIME_RATE, f"chime:{message.name}")
        elif isinstance(message, SetVolume):
            await self._set_volume(message.volume)

    async def _set_volume(self, volume: int) -> None:
        if volume == self.volume:
            self.bus.publish(VolumeState(volume=volume))
            return
        self.volume = volume
        self.player.volume = volume
        self.bus.publish(VolumeState(volume=volume))
        await asyncio.to_thread(self._save_volume, volume)

    @property
    def _state_path(self) -> Path:
        return self.settings.state_dir / STATE_FILE

    def _load_volume(self) -> int:
        """The last volume set (kept across restarts), else the configured one."""
        try:
            volume = json.loads(self._state_path.read_text())["volume"]
            if isinstance(volume, int) and 0 <= volume <= 100:
                return volume
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as err:
            _LOGGER.warning("Ignoring %s (%s); volume %d", self._state_path, err, self.settings.voice.volume)
        return self.settings.voice.volume

    def _save_volume(self, volume: int) -> None:
        try:
            self._state_path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self._state_path.with_suffix(".tmp")
            temporary.write_text(json.dumps({"volume": volume}))
            temporary.replace(self._state_path)
        except OSError as err:
            _LOGGER.warning("Cannot keep the volume in %s: %s", self._state_path, err)

    async def stop(self) -> None:
        await asyncio.to_thread(self.player.close)
        await asyncio.to_thread(self.synthesizer.close)
