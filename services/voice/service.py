"""The voice service: Samantha's speaker. It speaks Say texts, plays chimes, keeps the volume.

In: Say, PlayChime, StopSpeaking, SetVolume, SetWakeSound. Out: SpeakingStarted / SpeakingFinished
around every text and chime; VolumeState and WakeSoundState (retained) on connect and on every change.
The volume and the wake-sound switch are kept across restarts in the state folder.

Audio is played on the speaker's own thread (see player.py); the event loop only queues work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

from device.chimes import make_chimes
from services.messages import (
    ListeningStarted, Message, PlayChime, Say, SetVolume, SetWakeSound, StopSpeaking, VolumeState,
    WakeDetected, WakeSoundState,
)
from services.service import Service

from .player import SpeechPlayer
from .tts import Synthesizer

_LOGGER = logging.getLogger(__name__)

CHIME_RATE = 22050  # Hz: the rate Piper's medium voices and espeak-ng speak at, so no reopening
OPTIONAL_CHIMES = ("wake", "done")  # the wake-sound switch silences these; error and timer always play
STATE_FILE = "voice.json"
REST_CHECK_S = 5.0


class VoiceService(Service):
    """Speaks, chimes and keeps the volume; one Piper child process, one speaker thread."""

    name = "voice"
    subscriptions = (Say, PlayChime, StopSpeaking, SetVolume, SetWakeSound, WakeDetected, ListeningStarted)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.last_activity = time.monotonic()
        kept = self._load_state()
        self.volume = kept["volume"]
        self.wake_sound = kept["wake_sound"]
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
        self.bus.publish(WakeSoundState(enabled=self.wake_sound))

    async def run(self) -> None:
        """Put Piper to rest when nothing has been said or heard for piper_rest_s (it is ~140 MB of
        the device's 1 GB); the next wake word loads it again while the user is still speaking."""
        rest_after = self.settings.voice.piper_rest_s
        if not rest_after:
            return await super().run()
        while True:
            await asyncio.sleep(min(REST_CHECK_S, rest_after))
            idle_for = time.monotonic() - self.last_activity
            if idle_for >= rest_after and not self.player.busy and not self.synthesizer.resting:
                await asyncio.to_thread(self.synthesizer.rest)

    async def handle(self, message: Message) -> None:
        self.last_activity = time.monotonic()
        if isinstance(message, (WakeDetected, ListeningStarted)):
            self.synthesizer.wake()
        elif isinstance(message, Say):
            self.player.say(message.text, message.id, message.expect_reply)
        elif isinstance(message, StopSpeaking):
            self.player.stop()
        elif isinstance(message, PlayChime):
            if message.name in OPTIONAL_CHIMES and not self.wake_sound:
                return
            self.player.play(self.chimes[message.name], CHIME_RATE, f"chime:{message.name}")
        elif isinstance(message, SetVolume):
            await self._set_volume(message.volume)
        elif isinstance(message, SetWakeSound):
            changed = message.enabled != self.wake_sound
            self.wake_sound = message.enabled
            self.bus.publish(WakeSoundState(enabled=self.wake_sound))
            if changed:
                await asyncio.to_thread(self._save_state)

    async def _set_volume(self, volume: int) -> None:
        if volume == self.volume:
            self.bus.publish(VolumeState(volume=volume))
            return
        self.volume = volume
        self.player.volume = volume
        self.bus.publish(VolumeState(volume=volume))
        await asyncio.to_thread(self._save_state)

    @property
    def _state_path(self) -> Path:
        return self.settings.state_dir / STATE_FILE

    def _load_state(self) -> dict:
        """The last volume and wake-sound switch set (kept across restarts), else the configured ones."""
        state = {"volume": self.settings.voice.volume, "wake_sound": self.settings.voice.chimes}
        try:
            kept = json.loads(self._state_path.read_text())
            if isinstance(kept.get("volume"), int) and 0 <= kept["volume"] <= 100:
                state["volume"] = kept["volume"]
            if isinstance(kept.get("wake_sound"), bool):
                state["wake_sound"] = kept["wake_sound"]
        except FileNotFoundError:
            pass
        except (OSError, ValueError, AttributeError) as err:
            _LOGGER.warning("Ignoring %s (%s); using the settings", self._state_path, err)
        return state

    def _save_state(self) -> None:
        try:
            self._state_path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self._state_path.with_suffix(".tmp")
            temporary.write_text(json.dumps({"volume": self.volume, "wake_sound": self.wake_sound}))
            temporary.replace(self._state_path)
        except OSError as err:
            _LOGGER.warning("Cannot keep the volume and wake sound in %s: %s", self._state_path, err)

    async def stop(self) -> None:
        await asyncio.to_thread(self.player.close)
        await asyncio.to_thread(self.synthesizer.close)
