"""The device's short sounds (wake, done, error, timer), made with numpy at start: no sound files.

Each is a few soft bell-like notes (a sine with two quiet overtones, a quick attack and an
exponential decay), so they sound friendly at any volume.

>>> clips = make_chimes(22050)
>>> sorted(clips)
['done', 'error', 'timer', 'wake']
>>> clips["wake"].dtype.name
'int16'
"""

from __future__ import annotations

import numpy as np

CHIME_PEAK = 0.45  # of full scale: leaves headroom, about as loud as speech
ATTACK_S = 0.006  # fast enough to sound like a strike, slow enough not to click
OVERTONES = ((2.0, 0.25), (3.0, 0.08))  # (multiple of the note, relative level): a soft bell

# (frequency Hz, start s, length s, decay time constant s) for each note
A5, C6, D6, E6, G6, A6 = 880.0, 1046.5, 1174.7, 1318.5, 1568.0, 1760.0
F4, A4 = 349.2, 440.0
CHIME_NOTES: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    # rising fourth: "I'm listening"
    "wake": ((A5, 0.0, 0.25, 0.10), (D6, 0.09, 0.30, 0.12)),
    # falling: "got it, done"
    "done": ((E6, 0.0, 0.25, 0.10), (A5, 0.10, 0.35, 0.14)),
    # low falling third, duller: "that did not work"
    "error": ((A4, 0.0, 0.30, 0.12), (F4, 0.16, 0.45, 0.16)),
    # a bright arpeggio, twice: a timer or alarm ringing
    "timer": tuple(
        (note, repeat * 0.7 + step * 0.12, 0.4, 0.14)
        for repeat in range(2)
        for step, note in enumerate((C6, E6, G6, A6))
    ),
}


def _note(rate: int, frequency: float, length_s: float, decay_s: float) -> np.ndarray:
    t = np.arange(int(rate * length_s)) / rate
    wave = np.sin(2 * np.pi * frequency * t)
    for multiple, level in OVERTONES:
        if frequency * multiple < rate / 2:
            wave += level * np.sin(2 * np.pi * frequency * multiple * t)
    envelope = np.minimum(t / ATTACK_S, 1.0) * np.exp(-t / decay_s)
    return wave * envelope


def make_chime(name: str, rate: int) -> np.ndarray:
    """One chime as int16 mono samples at rate."""
    notes = CHIME_NOTES[name]
    total_s = max(start + length for _, start, length, _ in notes)
    mix = np.zeros(int(rate * total_s) + 1)
    for frequency, start_s, length_s, decay_s in notes:
        note = _note(rate, frequency, length_s, decay_s)
        begin = int(rate * start_s)
        mix[begin:begin + len(note)] += note
    mix *= CHIME_PEAK / max(np.abs(mix).max(), 1e-9)
    return np.round(mix * 32767).astype(np.int16)


def make_chimes(rate: int) -> dict[str, np.ndarray]:
    """Every chime, by name, as int16 mono samples at rate."""
    return {name: make_chime(name, rate) for name in CHIME_NOTES}
