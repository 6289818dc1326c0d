"""Samantha's sound card: speaker output and microphone input behind one small interface.

Every service that makes or takes sound goes through here, so each can run on a Raspberry Pi with a
real sound card (PyAudio), on a headless machine (null output) and in tests (WAV files, stdin):

* :class:`AudioInput` gives 16 kHz mono int16 frames of a fixed size, whatever the hardware does
  (a 48 kHz-only USB microphone is downmixed and resampled with soxr). When the microphone is
  gone, ``read()`` raises :class:`AudioDeviceError`; close it and open it again later.
* :class:`AudioOutput` plays int16 mono audio at the rate you open it with, applies the volume
  (0-100, in software), and can be cut off at once with ``stop()``.

Which backend is used comes from the ``[audio]`` settings: ``open_input(settings.audio, 1280)``
and ``open_output(settings.audio)``. ``auto`` takes PyAudio when PortAudio finds a device and
otherwise falls back (the speaker to null, with one warning line; the microphone raises
:class:`NoMicrophoneError`).

Reading the microphone, e.g. in the listener::

    from device.audio import AudioDeviceError, open_input
    FRAME_SAMPLES = 1280  # 80 ms at 16 kHz
    try:
        with open_input(settings.audio, FRAME_SAMPLES) as mic:
            while True:
                frame = mic.read()  # numpy int16, shape (1280,), 16 kHz mono
                ...
    except AudioDeviceError as err:
        ...  # report it, wait, open again
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import re
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator, Literal

import numpy as np

if TYPE_CHECKING:
    from services.settings import AudioSettings

_LOGGER = logging.getLogger(__name__)

INPUT_RATE = 16000  # Hz: every consumer of the microphone (wake word, VAD, STT) wants this
SAMPLE_BYTES = 2  # int16
INT16_MAX = 32767
OUTPUT_CHUNK_S = 0.02  # PortAudio buffer of the speaker; small so that stop() is quick
MIXER_TIMEOUT_S = 2.0
OUTPUT_LEAD_S = 0.05  # how far paced (file/null) outputs run ahead of the clock, like a device buffer

AtEnd = Literal["silence", "eof"]


class AudioError(Exception):
    """Base of the errors raised by this module."""


class AudioDeviceError(AudioError, OSError):
    """The sound device is missing, busy or went away; close it and try again later."""


class NoMicrophoneError(AudioDeviceError):
    """There is no microphone at all (no sound card, nothing configured)."""


class EndOfInput(AudioError, EOFError):
    """A file or stdin input has no more audio (only with ``at_end="eof"``)."""


# --- input ----------------------------------------------------------------------------------------


class AudioInput(abc.ABC):
    """A microphone: ``read()`` returns the next frame, ``frame_samples`` int16 samples at 16 kHz mono.

    >>> mic = WavInput("speech.wav", frame_samples=1280, realtime=False, at_end="eof")  # doctest: +SKIP
    >>> frame = mic.read()                                                              # doctest: +SKIP
    >>> frame.dtype, frame.shape                                                        # doctest: +SKIP
    (dtype('int16'), (1280,))
    >>> mic.close()                                                                     # doctest: +SKIP

    Also an iterator over frames (ending at :class:`EndOfInput`) and a context manager.
    """

    rate: int = INPUT_RATE

    def __init__(self, frame_samples: int) -> None:
        if frame_samples <= 0:
            raise ValueError(f"frame_samples must be positive, not {frame_samples}")
        self.frame_samples = frame_samples
        self.closed = False

    @abc.abstractmethod
    def read(self) -> np.ndarray:
        """The next frame; blocks until it is there. AudioDeviceError when the device is gone."""

    @property
    def description(self) -> str:
        """What this input is, for log lines."""
        return type(self).__name__

    def close(self) -> None:
        """Release the device; safe to call twice."""
        self.closed = True

    def __enter__(self) -> "AudioInput":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            try:
                yield self.read()
            except EndOfInput:
                return


class _Pacer:
    """Keeps a sample stream to real time: wait() sleeps until the next chunk is due."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.reset()

    def reset(self) -> None:
        self.start = time.monotonic()
        self.samples = 0

    def due_in(self) -> float:
        return self.start + self.samples / self.rate - time.monotonic()

    def advance(self, samples: int, lead_s: float = 0.0) -> None:
        """Count samples as played; sleep while more than lead_s of audio is ahead of the clock."""
        if self.due_in() < -OUTPUT_LEAD_S:  # we fell behind (idle): start a new timeline from now
            self.reset()
        self.samples += samples
        wait = self.due_in() - lead_s
        if wait > 0:
            time.sleep(wait)


class NullInput(AudioInput):
    """Silence at real-time pace: a machine with no microphone that should still run."""

    def __init__(self, frame_samples: int) -> None:
        super().__init__(frame_samples)
        self._pacer = _Pacer(INPUT_RATE)

    def read(self) -> np.ndarray:
        self._pacer.advance(self.frame_samples)
        return np.zeros(self.frame_samples, dtype=np.int16)


def load_wav_16k_mono(path: str | Path) -> np.ndarray:
    """A WAV file of any rate, channel count and sample format as 16 kHz mono int16."""
    from scipy.io import wavfile

    try:
        rate, data = wavfile.read(str(path))
    except FileNotFoundError:
        raise AudioDeviceError(f"{path}: no such WAV file") from None
    except (ValueError, OSError) as err:
        raise AudioDeviceError(f"{path}: not a readable WAV file ({err})") from None
    samples = _to_float(data)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if rate != INPUT_RATE and len(samples):
        import soxr

        samples = soxr.resample(samples.astype(np.float32), rate, INPUT_RATE, quality="HQ")
    return _float_to_int16(samples)


class WavInput(AudioInput):
    """A WAV file as the microphone (any rate, channels, format; resampled to 16 kHz mono).

    ``realtime`` paces reads like a live microphone; after the file, ``at_end="silence"`` goes on
    with silence for ever (a microphone never ends) and ``at_end="eof"`` raises EndOfInput.
    """

    def __init__(
        self, path: str | Path, frame_samples: int, *, realtime: bool = True, at_end: AtEnd = "silence"
    ) -> None:
        super().__init__(frame_samples)
        self.path = Path(path)
        self.samples = load_wav_16k_mono(self.path)
        self.position = 0
        self.realtime = realtime
        self.at_end = at_end
        self._pacer = _Pacer(INPUT_RATE)

    @property
    def description(self) -> str:
        return f"WAV file {self.path}"

    def read(self) -> np.ndarray:
        if self.position >= len(self.samples) and self.at_end == "eof":
            raise EndOfInput(f"{self.path}: end of file")
        frame = self.samples[self.position:self.position + self.frame_samples]
        self.position += self.frame_samples
        if len(frame) < self.frame_samples:
            frame = np.concatenate([frame, np.zeros(self.frame_samples - len(frame), dtype=np.int16)])
        if self.realtime:
            self._pacer.advance(self.frame_samples)
        return frame


class StreamInput(AudioInput):
    """Raw 16 kHz mono int16 (little-endian) from a binary stream, stdin by default.

    Not paced: whoever writes the stream sets the pace (``arecord -r 16000 -f S16_LE -c 1 | ...``).
    At the end of the stream: ``at_end="eof"`` raises EndOfInput, ``"silence"`` goes on paced silence.
    """

    def __init__(self, frame_samples: int, stream: BinaryIO | None = None, *, at_end: AtEnd = "eof") -> None:
        super().__init__(frame_samples)
        self.stream = stream if stream is not None else sys.stdin.buffer
        self.at_end = at_end
        self._ended = False
        self._silence = NullInput(frame_samples)

    @property
    def description(self) -> str:
        return "raw 16 kHz audio on stdin"

    def read(self) -> np.ndarray:
        if not self._ended:
            wanted = self.frame_samples * SAMPLE_BYTES
            data = b""
            while len(data) < wanted:
                chunk = self.stream.read(wanted - len(data))
                if not chunk:
                    self._ended = True
                    break
                data += chunk
            if data:
                data = data[: len(data) // SAMPLE_BYTES * SAMPLE_BYTES]
                frame = np.frombuffer(data, dtype="<i2").astype(np.int16)
                return np.pad(frame, (0, self.frame_samples - len(frame)))
        if self.at_end == "eof":
            raise EndOfInput("end of the input stream")
        return self._silence.read()


# --- PortAudio ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Hide the ALSA/JACK chatter PortAudio prints on stderr while it scans for devices."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            sys.stderr.flush()
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _portaudio():
    """A fresh PyAudio instance (it rescans the devices), or AudioDeviceError without PortAudio."""
    try:
        import pyaudio
    except ImportError as err:
        raise AudioDeviceError(f"PyAudio is not installed ({err}); script/setup installs it") from None
    with _quiet_stderr():
        return pyaudio.PyAudio()


Direction = Literal["input", "output"]


def list_devices(direction: Direction) -> list[tuple[int, str]]:
    """(index, name) of every PortAudio device that can record (input) or play (output)."""
    try:
        pa = _portaudio()
    except AudioDeviceError:
        return []
    try:
        return [(index, str(info["name"])) for index, info in _devices(pa, direction)]
    finally:
        pa.terminate()


def _devices(pa, direction: Direction) -> list[tuple[int, dict]]:
    key = "maxInputChannels" if direction == "input" else "maxOutputChannels"
    found = []
    for index in range(pa.get_device_count()):
        try:
            info = pa.get_device_info_by_index(index)
        except OSError:
            continue
        if int(info.get(key, 0)) > 0:
            found.append((index, info))
    return found


def alsa_card(device_name: str) -> str:
    """The ALSA card number in a PortAudio device name ("USB Audio: - (hw:1,0)" -> "1"), or ''."""
    match = re.search(r"\(hw:(\d+)", device_name)
    return match.group(1) if match else ""


def find_device(pa, wanted: str, direction: Direction) -> tuple[int, dict]:
    """The device named by index ("2") or name substring ("USB"); '' = PortAudio's default."""
    devices = _devices(pa, direction)
    what = "microphone" if direction == "input" else "speaker"
    if not devices:
        error = NoMicrophoneError if direction == "input" else AudioDeviceError
        raise error(f"no {what} found: PortAudio sees no sound card that can "
                    f"{'record' if direction == 'input' else 'play'}")
    wanted = wanted.strip()
    if not wanted:
        try:
            info = pa.get_default_input_device_info() if direction == "input" else pa.get_default_output_device_info()
            return int(info["index"]), info
        except OSError:
            return devices[0]
    if wanted.isdigit():
        for index, info in devices:
            if index == int(wanted):
                return index, info
    else:
        for index, info in devices:
            if wanted.lower() in str(info["name"]).lower():
                return index, info
    names = ", ".join(f"{index}: {info['name']}" for index, info in devices)
    raise AudioDeviceError(f"no {what} matches {wanted!r}; there are: {names}")


def sound_card_present(direction: Direction) -> bool:
    """Whether PortAudio finds any device that can record (input) or play (output)."""
    return bool(list_devices(direction))


def _supported(pa, rate: int, channels: int, index: int, direction: Direction) -> bool:
    import pyaudio

    try:
        if direction == "input":
            return bool(pa.is_format_supported(rate, input_device=index, input_channels=channels,
                                               input_format=pyaudio.paInt16))
        return bool(pa.is_format_supported(rate, output_device=index, output_channels=channels,
                                           output_format=pyaudio.paInt16))
    except ValueError:  # PyAudio reports "unsupported" by raising
        return False


def _hardware_format(pa, rate: int, index: int, info: dict, direction: Direction) -> tuple[int, int]:
    """(rate, channels) to open the device with: the wanted rate in mono where it can do that."""
    key = "maxInputChannels" if direction == "input" else "maxOutputChannels"
    max_channels = int(info.get(key, 1))
    channel_choices = [1] + ([2] if max_channels >= 2 else [])
    rate_choices = [rate, int(info.get("defaultSampleRate") or 48000), 48000, 44100]
    for hw_rate in dict.fromkeys(rate_choices):
        for channels in channel_choices:
            if _supported(pa, hw_rate, channels, index, direction):
                return hw_rate, channels
    return int(info.get("defaultSampleRate") or rate), channel_choices[-1]


class PyAudioInput(AudioInput):
    """A real microphone through PortAudio, downmixed and resampled to 16 kHz mono."""

    def __init__(self, frame_samples: int, device: str = "") -> None:
        super().__init__(frame_samples)
        import pyaudio

        self._pa = _portaudio()
        try:
            self.index, info = find_device(self._pa, device, "input")
            self.name = str(info["name"])
            self.hw_rate, self.channels = _hardware_format(self._pa, INPUT_RATE, self.index, info, "input")
            self._hw_frames = max(1, round(frame_samples * self.hw_rate / INPUT_RATE))
            self._resampler = None
            if self.hw_rate != INPUT_RATE:
                import soxr

                self._resampler = soxr.ResampleStream(self.hw_rate, INPUT_RATE, 1, dtype="int16")
            with _quiet_stderr():
                self._stream = self._pa.open(
                    format=pyaudio.paInt16, channels=self.channels, rate=self.hw_rate, input=True,
                    input_device_index=self.index, frames_per_buffer=self._hw_frames)
        except OSError as err:
            self._pa.terminate()
            if isinstance(err, AudioDeviceError):
                raise
            raise AudioDeviceError(f"cannot open the microphone: {err}") from None
        except BaseException:
            self._pa.terminate()
            raise
        self._pending = np.zeros(0, dtype=np.int16)
        _LOGGER.info("Microphone: %s (%d Hz, %d channel(s))", self.name, self.hw_rate, self.channels)

    @property
    def description(self) -> str:
        return f"microphone {self.name!r}"

    def read(self) -> np.ndarray:
        if self.closed:
            raise AudioDeviceError("the microphone is closed")
        while len(self._pending) < self.frame_samples:
            try:
                data = self._stream.read(self._hw_frames, exception_on_overflow=False)
            except OSError as err:
                raise AudioDeviceError(f"microphone {self.name!r} stopped: {err}") from None
            samples = np.frombuffer(data, dtype=np.int16)
            if self.channels > 1:
                samples = samples.reshape(-1, self.channels).mean(axis=1).astype(np.int16)
            if self._resampler is not None:
                samples = self._resampler.resample_chunk(samples)
            self._pending = np.concatenate([self._pending, samples])
        frame, self._pending = self._pending[: self.frame_samples], self._pending[self.frame_samples:]
        return frame

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            self._stream.close()
        self._pa.terminate()


# --- output ---------------------------------------------------------------------------------------


def _to_float(data: np.ndarray) -> np.ndarray:
    """Samples of any PCM dtype as float32 in -1..1."""
    if data.dtype.kind == "f":
        return data.astype(np.float32)
    if data.dtype == np.uint8:
        return (data.astype(np.float32) - 128.0) / 128.0
    return data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)


def _float_to_int16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.round(samples * INT16_MAX), -INT16_MAX - 1, INT16_MAX).astype(np.int16)


def as_int16(audio: np.ndarray | bytes | bytearray | memoryview) -> np.ndarray:
    """Mono audio as int16 samples: bytes are raw int16, float arrays are -1..1."""
    if isinstance(audio, (bytes, bytearray, memoryview)):
        data = bytes(audio)
        return np.frombuffer(data[: len(data) // SAMPLE_BYTES * SAMPLE_BYTES], dtype=np.int16)
    audio = np.asarray(audio)
    if audio.dtype == np.int16:
        return audio.reshape(-1)
    return _float_to_int16(_to_float(audio).reshape(-1))


def volume_gain(volume: int) -> float:
    """Amplitude factor for a volume of 0-100; squared so that the steps sound even-ish to the ear."""
    return (max(0, min(100, volume)) / 100.0) ** 2


class AudioOutput(abc.ABC):
    """A speaker: ``open(rate)``, then ``write()`` int16 mono audio at that rate; it blocks while
    the device plays, like a sound card.

    >>> speaker = open_output(AudioSettings(output="wav", output_file="/tmp/out.wav"))  # doctest: +SKIP
    >>> speaker.volume = 60                    # 0-100, applied in software       # doctest: +SKIP
    >>> speaker.open(22050)                                                        # doctest: +SKIP
    >>> speaker.write(np.zeros(2205, dtype=np.int16))                              # doctest: +SKIP
    >>> speaker.drain()                        # let it play out, then go quiet   # doctest: +SKIP
    >>> speaker.close()                                                            # doctest: +SKIP

    ``stop()`` cuts off what is still queued at once. One thread writes; call ``stop()`` from
    that thread too (between small writes), which is what the voice service does.
    """

    def __init__(self) -> None:
        self.rate = 0
        self._volume = 100
        self._gain = 1.0  # what write() multiplies by: the volume, unless a mixer applies it
        self.closed = False

    @property
    def description(self) -> str:
        """What this output is, for log lines."""
        return type(self).__name__

    @property
    def volume(self) -> int:
        """Speaker volume 0-100; set it from the thread that writes (a mixer may be called)."""
        return self._volume

    @volume.setter
    def volume(self, value: int) -> None:
        self._volume = max(0, min(100, int(value)))
        self._gain = self._apply_volume(self._volume)

    def _apply_volume(self, volume: int) -> float:
        """Backends with a hardware mixer set it here and return 1.0; else the software gain."""
        return volume_gain(volume)

    def open(self, rate: int) -> None:
        """Get ready for audio at this sample rate (opening again with another rate is fine)."""
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        if rate != self.rate:
            self._open(rate)
            self.rate = rate

    def write(self, audio: np.ndarray | bytes) -> None:
        """Play int16 mono samples (or raw int16 bytes) at the open rate; blocks while they play."""
        if self.closed:
            raise AudioDeviceError("the speaker is closed")
        if not self.rate:
            raise AudioError("open(rate) the speaker before writing to it")
        samples = as_int16(audio)
        if not len(samples):
            return
        if self._gain != 1.0:
            samples = (samples.astype(np.float32) * self._gain).astype(np.int16)
        self._write(samples)

    def stop(self) -> None:
        """Throw away whatever is still queued and go quiet now."""

    def drain(self) -> None:
        """Wait until everything written has played, then let the device go idle."""

    def close(self) -> None:
        """Release the device; safe to call twice."""
        self.closed = True

    def __enter__(self) -> "AudioOutput":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, rate: int) -> None:
        """Backends prepare for the rate here."""

    @abc.abstractmethod
    def _write(self, samples: np.ndarray) -> None:
        """Backends play int16 samples at self.rate (volume already applied)."""


class _PacedOutput(AudioOutput):
    """An output that takes as long as a speaker would (unless realtime=False)."""

    def __init__(self, realtime: bool = True) -> None:
        super().__init__()
        self.realtime = realtime
        self._pacer = _Pacer(1)

    def _open(self, rate: int) -> None:
        self._pacer = _Pacer(rate)

    def _pace(self, samples: int) -> None:
        if self.realtime:
            self._pacer.advance(samples, lead_s=OUTPUT_LEAD_S)

    def stop(self) -> None:
        self._pacer.reset()

    def drain(self) -> None:
        if self.realtime and (left := self._pacer.due_in()) > 0:
            time.sleep(left)


class NullOutput(_PacedOutput):
    """A speaker that plays nothing, at real-time pace (so speech takes as long as it would)."""

    def _write(self, samples: np.ndarray) -> None:
        self._pace(len(samples))


class WavOutput(_PacedOutput):
    """Everything played is appended to a WAV file (16-bit mono), paced like a speaker by default.

    A new file takes the rate of the first ``open()``; an existing one keeps its rate, and audio
    at other rates is resampled to it. The header is kept valid after every write, so the file can
    be read while the service runs.
    """

    def __init__(self, path: str | Path, realtime: bool = True) -> None:
        super().__init__(realtime)
        self.path = Path(path)
        self._file: BinaryIO | None = None
        self.file_rate = 0
        self._data_offset = 0
        self._resampler = None
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return f"WAV file {self.path}"

    def _open(self, rate: int) -> None:
        super()._open(rate)
        if self._file is None:
            self._open_file(rate)
        self._resampler = None
        if rate != self.file_rate:
            import soxr

            self._resampler = soxr.ResampleStream(rate, self.file_rate, 1, dtype="int16")

    def _open_file(self, rate: int) -> None:
        try:
            if self.path.exists() and self.path.stat().st_size > 0:
                self._file = open(self.path, "r+b")
                self.file_rate, self._data_offset = _read_wav_header(self._file, self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "w+b")
                self._file.write(_wav_header(rate, 0))
                self.file_rate, self._data_offset = rate, 44
        except OSError as err:
            if self._file is not None:
                self._file.close()
                self._file = None
            if isinstance(err, AudioDeviceError):
                raise
            raise AudioDeviceError(f"cannot write {self.path}: {err.strerror or err}") from None

    def _write(self, samples: np.ndarray) -> None:
        played = len(samples)  # counted at the open rate, which the pacer runs at
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        with self._lock:
            assert self._file is not None
            self._file.seek(0, os.SEEK_END)
            self._file.write(samples.astype("<i2").tobytes())
            end = self._file.tell()
            self._file.seek(4)
            self._file.write(struct.pack("<I", end - 8))
            self._file.seek(self._data_offset - 4)
            self._file.write(struct.pack("<I", end - self._data_offset))
            self._file.flush()
        self._pace(played)

    def drain(self) -> None:
        self._flush_resampler()
        super().drain()

    def stop(self) -> None:
        if self._resampler is not None:
            self._resampler.clear()
        super().stop()

    def _flush_resampler(self) -> None:
        """Write the last few samples the resampler holds back (its filter delay)."""
        if self._resampler is None or self._file is None:
            return
        tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        self._resampler.clear()
        if len(tail):
            resampler, self._resampler = self._resampler, None
            realtime, self.realtime = self.realtime, False
            try:
                self._write(tail)
            finally:
                self._resampler, self.realtime = resampler, realtime

    def close(self) -> None:
        if not self.closed:
            self._flush_resampler()
        super().close()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _wav_header(rate: int, data_bytes: int) -> bytes:
    """A canonical 44-byte header of a 16-bit mono PCM WAV file."""
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * SAMPLE_BYTES, SAMPLE_BYTES, 16)
            + b"data" + struct.pack("<I", data_bytes))


def _read_wav_header(file: BinaryIO, path: Path) -> tuple[int, int]:
    """(rate, offset of the sample data) of a 16-bit mono WAV whose data chunk comes last."""
    file.seek(0)
    head = file.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise AudioDeviceError(f"{path} exists and is not a WAV file; remove it or choose another output_file")
    rate = 0
    while True:
        chunk = file.read(8)
        if len(chunk) < 8:
            break
        name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if name == b"fmt ":
            fmt = file.read(size + size % 2)
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
            if tag != 1 or channels != 1 or bits != 16:
                raise AudioDeviceError(f"{path} is not 16-bit mono PCM; remove it or choose another output_file")
        elif name == b"data":
            if rate:
                return rate, file.tell()
            break
        else:
            file.seek(size + size % 2, os.SEEK_CUR)
    raise AudioDeviceError(f"{path} is a WAV file this speaker cannot append to; remove it")


class PyAudioOutput(AudioOutput):
    """A real speaker through PortAudio; resampled with soxr where the hardware rate differs."""

    def __init__(self, device: str = "", mixer: str = "") -> None:
        super().__init__()
        self.mixer = mixer
        self._pa = _portaudio()
        try:
            self.index, info = find_device(self._pa, device, "output")
        except BaseException:
            self._pa.terminate()
            raise
        self._info = info
        self.name = str(info["name"])
        self._stream = None
        self._resampler = None
        self.hw_rate = 0
        self.channels = 1
        self._running = False

    @property
    def description(self) -> str:
        return f"speaker {self.name!r}"

    def _apply_volume(self, volume: int) -> float:
        if not self.mixer:
            return volume_gain(volume)
        card = alsa_card(self.name)
        command = ["amixer", "-q", "-M", *(["-c", card] if card else []), "sset", self.mixer, f"{volume}%"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=MIXER_TIMEOUT_S)
            problem = result.stderr.strip() if result.returncode else ""
        except (OSError, subprocess.TimeoutExpired) as err:
            problem = str(err)
        if not problem:
            return 1.0
        _LOGGER.warning("Mixer %r of %s failed (%s); setting the volume in software", self.mixer, self.name,
                        problem.splitlines()[0] if problem else "?")
        self.mixer = ""  # do not try again at every change
        return volume_gain(volume)

    def _open(self, rate: int) -> None:
        import pyaudio

        self._close_stream()
        self.hw_rate, self.channels = _hardware_format(self._pa, rate, self.index, self._info, "output")
        self._resampler = None
        if self.hw_rate != rate:
            import soxr

            self._resampler = soxr.ResampleStream(rate, self.hw_rate, 1, dtype="int16")
        try:
            with _quiet_stderr():
                self._stream = self._pa.open(
                    format=pyaudio.paInt16, channels=self.channels, rate=self.hw_rate, output=True,
                    output_device_index=self.index, frames_per_buffer=int(self.hw_rate * OUTPUT_CHUNK_S),
                    start=False)
        except OSError as err:
            raise AudioDeviceError(f"cannot open speaker {self.name!r} at {self.hw_rate} Hz: {err}") from None
        self._running = False
        _LOGGER.info("Speaker: %s (%d Hz, %d channel(s)%s)", self.name, self.hw_rate, self.channels,
                     f", resampled from {rate} Hz" if self._resampler else "")

    def _write(self, samples: np.ndarray) -> None:
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        if self.channels > 1:
            samples = np.repeat(samples, self.channels)
        try:
            if not self._running:
                self._stream.start_stream()
                self._running = True
            self._stream.write(samples.tobytes())
        except OSError as err:
            raise AudioDeviceError(f"speaker {self.name!r} stopped: {err}") from None

    def stop(self) -> None:
        if self._stream is not None and self._running:
            with contextlib.suppress(OSError):
                self._stream.abort_stream()  # drops what is buffered, unlike stop_stream
            self._running = False
        if self._resampler is not None:
            self._resampler.clear()

    def drain(self) -> None:
        if self._stream is None or not self._running:
            return
        # stop_stream() does not always play the last buffer out; a little silence pushes it through.
        latency_s = max(OUTPUT_CHUNK_S, float(self._stream.get_output_latency() or 0.0))
        self._write(np.zeros(int(self.rate * latency_s), dtype=np.int16))
        with contextlib.suppress(OSError):
            self._stream.stop_stream()
        self._running = False

    def _close_stream(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(OSError):
                self._stream.close()
            self._stream = None
            self._running = False

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        self._close_stream()
        self._pa.terminate()


# --- choosing a backend ---------------------------------------------------------------------------


def open_output(settings: "AudioSettings") -> AudioOutput:
    """The speaker the settings ask for; ``auto`` = PyAudio if a sound card exists, else null.

    Raises AudioDeviceError when an explicitly chosen device cannot be opened.
    """
    backend = settings.output
    if backend == "auto":
        try:
            return PyAudioOutput(settings.output_device, settings.output_mixer)
        except AudioDeviceError as err:
            _LOGGER.warning("No speaker (%s); sound goes nowhere. Set [audio] output = \"wav\" to record it.", err)
            return NullOutput(realtime=settings.output_realtime)
    if backend == "pyaudio":
        return PyAudioOutput(settings.output_device, settings.output_mixer)
    if backend == "wav":
        if not settings.output_file:
            raise AudioDeviceError("[audio] output = \"wav\" needs output_file, the WAV file to write")
        return WavOutput(settings.output_file, realtime=settings.output_realtime)
    return NullOutput(realtime=settings.output_realtime)


def open_input(settings: "AudioSettings", frame_samples: int) -> AudioInput:
    """The microphone the settings ask for, giving frames of frame_samples at 16 kHz mono.

    ``auto`` = PyAudio; with no sound card it raises NoMicrophoneError (a clear message the caller
    can report). Other errors opening the device are AudioDeviceError too: retry later.
    """
    backend = settings.input
    if backend == "wav":
        if not settings.input_file:
            raise AudioDeviceError("[audio] input = \"wav\" needs input_file, the WAV file to read")
        return WavInput(settings.input_file, frame_samples, realtime=settings.input_realtime)
    if backend == "stdin":
        return StreamInput(frame_samples, at_end="eof")
    if backend == "null":
        return NullInput(frame_samples)
    try:
        return PyAudioInput(frame_samples, settings.input_device)
    except NoMicrophoneError as err:
        if backend == "auto":
            raise NoMicrophoneError(
                f"{err}. Plug in a microphone, or set [audio] input = \"wav\" with input_file "
                f"(or \"null\" for silence)") from None
        raise


def main() -> None:
    """``python -m device.audio``: list the sound devices, to pick [audio] output_device/input_device."""
    for direction, what, key in (("output", "Speakers", "output_device"), ("input", "Microphones", "input_device")):
        devices = list_devices(direction)  # type: ignore[arg-type]
        print(f"{what} ([audio] {key} = the index or part of the name):")
        for index, name in devices:
            print(f"  {index:>3}  {name}")
        if not devices:
            print("  none found")


if __name__ == "__main__":
    main()
