"""Noise suppression for what Whisper hears of a command.

WebRTC's noise suppressor (the one Home Assistant's voice satellites use, through the same
``webrtc-noise-gain`` package) takes a running tap, music or chatter down before Whisper tiny.en
reads the command. On the device's own phrases spoken in made noise (``bench/spoken_calibrate.py
--noise``), where its level is chosen, it gave more right actions and fewer wrong ones over all
conditions, clean speech included, so it always runs. On Home Assistant's test sentences
(bench/spoken.py, 4,096 clips) it measured as about a wash: 59.4 against 58.9 % right, 4.5 against
4.6 % wrong actions (better at 9 and 6 dB, a little worse on clean speech).

It runs over the whole utterance once it has ended (about 2 ms per second of audio here), so the
wake word and the end-of-speech detector keep hearing the microphone as it is.
"""

from __future__ import annotations

import numpy as np

CHUNK_SAMPLES = 160  # the suppressor takes 10 ms of 16 kHz audio at a time
# WebRTC's levels go from 1 (mild) to 4 (strongest), 0 is off. Measured with
# bench/spoken_calibrate.py --noise on 471 clips of the device's own phrases (never the tests), the
# whole chain as the service runs it, right / wrong actions: off 205 / 36, level 1 217 / 33,
# 2 215 / 28, 3 210 / 29, 4 215 / 21. 2 and 4 are as right; 4's fewer wrong actions (7 of 471) are
# within what a change of clips moves, and 4 alters clean speech more (a clean "set a timer" in
# tests/test_listener_cli.py is heard as "set the timer" at 4, rightly at 2). So the milder 2, which
# is also what Home Assistant's satellite suggests.
SUPPRESSION_LEVEL = 2


def suppress_noise(audio: np.ndarray) -> np.ndarray:
    """int16 audio through WebRTC's noise suppressor; a fresh one, which learns this room's noise
    from the moments before the command."""
    if not SUPPRESSION_LEVEL:
        return audio
    from webrtc_noise_gain import AudioProcessor

    processor = AudioProcessor(0, SUPPRESSION_LEVEL)  # 0: no automatic gain
    whole = len(audio) // CHUNK_SAMPLES * CHUNK_SAMPLES
    pcm = np.ascontiguousarray(audio[:whole], dtype=np.int16).tobytes()
    step = CHUNK_SAMPLES * 2
    cleaned = b"".join(processor.Process10ms(pcm[i:i + step]).audio for i in range(0, len(pcm), step))
    return np.concatenate([np.frombuffer(cleaned, np.int16), audio[whole:].astype(np.int16)])
