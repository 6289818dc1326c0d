"""WAV files (or WAV on stdin) as the pipeline's 16 kHz mono int16 frames, whatever their format.

Any PCM WAV is taken: other rates are resampled with soxr (high quality), channels are averaged to
mono, 8/24/32-bit samples are converted. What cannot be used raises :class:`AudioFileError` with
one clear sentence: not a WAV file, a compressed WAV, or a file cut short (its header promises more
audio than it holds).
"""

from __future__ import annotations

import io
import struct
import sys
import wave
from pathlib import Path
from typing import Iterator

import numpy as np

SAMPLE_RATE = 16000
FRAME_SAMPLES = 1280
# Streaming writers cannot know the length and put one of these in the header (sox writing to a
# pipe: 0x7FFFF000; ffmpeg: 0xFFFFFFFF or 0).
UNKNOWN_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000)
WAVE_FORMAT_PCM = 1
WAVE_FORMAT_EXTENSIBLE = 0xFFFE


class AudioFileError(ValueError):
    """An audio file that cannot be used, with the reason in one sentence."""


def _declared_data_size(data: bytes) -> int | None:
    """The size the 'data' chunk header declares, or None if there is no data chunk."""
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset:offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        if chunk_id == b"data":
            return size
        offset += 8 + size + (size & 1)
    return None


def decode_wav(data: bytes, name: str) -> np.ndarray:
    """16 kHz mono int16 samples from the bytes of a WAV file; AudioFileError if that is not possible."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFileError(f"{name}: not a WAV file")
    declared = _declared_data_size(data)
    if declared is None:
        raise AudioFileError(f"{name}: WAV file has no audio data (no data chunk); is it truncated?")
    try:
        with wave.open(io.BytesIO(data)) as reader:
            channels = reader.getnchannels()
            width = reader.getsampwidth()
            rate = reader.getframerate()
            raw = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError, struct.error) as err:
        raise AudioFileError(f"{name}: unusable WAV file ({err})") from None
    if declared not in UNKNOWN_SIZES:
        held = len(raw)
        if held < declared - channels * width:
            raise AudioFileError(
                f"{name}: truncated WAV file: the header promises {declared / (rate * channels * width):.2f} s "
                f"of audio but it holds {held / (rate * channels * width):.2f} s")
    if rate <= 0 or channels <= 0:
        raise AudioFileError(f"{name}: WAV header says {rate} Hz and {channels} channels")
    usable = len(raw) // (channels * width) * channels * width
    samples = _to_float(raw[:usable], width, name).reshape(-1, channels).mean(axis=1)
    if rate != SAMPLE_RATE:
        import soxr

        samples = soxr.resample(samples, rate, SAMPLE_RATE, quality="HQ")
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)


def _to_float(raw: bytes, width: int, name: str) -> np.ndarray:
    """PCM bytes as float64 in [-1, 1)."""
    if width == 1:
        return (np.frombuffer(raw, np.uint8).astype(np.float64) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(raw, "<i2").astype(np.float64) / 32768.0
    if width == 3:
        bytes3 = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        values = bytes3[:, 0] | (bytes3[:, 1] << 8) | (bytes3[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
        return values.astype(np.float64) / float(1 << 23)
    if width == 4:
        return np.frombuffer(raw, "<i4").astype(np.float64) / float(1 << 31)
    raise AudioFileError(f"{name}: {width * 8}-bit samples are not supported")


def read_audio(path: str) -> np.ndarray:
    """A WAV file ('-' = stdin) as 16 kHz mono int16."""
    if path == "-":
        return decode_wav(sys.stdin.buffer.read(), "stdin")
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise AudioFileError(f"{path}: cannot be read ({err.strerror})") from None
    return decode_wav(data, path)


def frames(samples: np.ndarray, frame_samples: int = FRAME_SAMPLES) -> Iterator[np.ndarray]:
    """The samples in frames of frame_samples; the last one padded with silence."""
    for start in range(0, len(samples), frame_samples):
        frame = samples[start:start + frame_samples]
        if len(frame) < frame_samples:
            frame = np.concatenate([frame, np.zeros(frame_samples - len(frame), np.int16)])
        yield frame
