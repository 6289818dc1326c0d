"""The listener's noise suppression: a noisy room's noise comes down, the voice stays."""

from __future__ import annotations

import numpy as np
import pytest

from services.listener import noise
from tests.test_listener_support import background, silence, speech

RATE = 16000


def level_db(samples: np.ndarray) -> float:
    return 10 * np.log10(np.mean(samples.astype(np.float64) ** 2) + 1e-9)


def mixed(voice: np.ndarray, room: np.ndarray, snr_db: float) -> np.ndarray:
    """voice over room noise at snr_db (levels measured over the whole of both, silences included)."""
    gain = 10 ** ((level_db(voice) - level_db(room[:len(voice)]) - snr_db) / 20)
    mix = voice.astype(np.float64) + gain * room[:len(voice)].astype(np.float64)
    return np.clip(np.round(mix), -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def kitchen():
    """One second of room before the command, the command, half a second after, with room noise 6 dB
    below the whole clip (about 9 dB below the command itself); and that through the suppressor."""
    command = speech("turn on the kitchen light", "en-us")
    voice = np.concatenate([silence(1.0), command, silence(0.5)])
    room = background(len(voice) / RATE + 0.1, level=0.3, seed=3)
    noisy = mixed(voice, room, 6.0)
    return voice, noisy, noise.suppress_noise(noisy)


def test_the_room_noise_before_the_command_comes_down_by_more_than_ten_db(kitchen):
    _voice, noisy, cleaned = kitchen
    assert len(cleaned) == len(noisy) and cleaned.dtype == np.int16
    # The last half of the lead-in: the suppressor has learnt the room's noise by then.
    lead = slice(RATE // 2, RATE)
    assert level_db(noisy[lead]) - level_db(cleaned[lead]) > 10


def test_the_voice_keeps_its_level(kitchen):
    voice, _noisy, cleaned = kitchen
    said = slice(RATE, len(voice) - RATE // 2)
    # The room took 10+ dB off above; the command's stretch loses at most a little of the voice.
    assert level_db(cleaned[said]) > level_db(voice[said]) - 3


def test_level_zero_leaves_the_audio_as_it_is(kitchen, monkeypatch):
    _voice, noisy, _cleaned = kitchen
    monkeypatch.setattr(noise, "SUPPRESSION_LEVEL", 0)
    assert np.array_equal(noise.suppress_noise(noisy), noisy)


def test_odd_lengths_keep_every_sample():
    audio = (np.random.default_rng(1).standard_normal(1234) * 1000).astype(np.int16)
    assert len(noise.suppress_noise(audio)) == 1234
    assert len(noise.suppress_noise(audio[:100])) == 100
