"""device/audio: microphone and speaker backends (WAV files, stdin, null, and PyAudio on ALSA's file plugin)."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from device.audio import (
    INPUT_RATE, AudioDeviceError, EndOfInput, NoMicrophoneError, NullOutput, PyAudioOutput, StreamInput, WavInput,
    WavOutput, open_input, open_output, sound_card_present, volume_gain,
)
from device.chimes import make_chimes
from services.settings import AudioSettings
from tests.speech import heard_as_said, synthesize, transcribe, words

FRAME = 1280  # 80 ms at 16 kHz, what the listener reads


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.argmax(spectrum) * rate / len(samples))


def tone(hz: float, seconds: float, rate: int, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.round(level * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16), wav.getframerate()


# --- microphone -----------------------------------------------------------------------------------


def test_wav_input_turns_44k_stereo_speech_into_16k_mono_frames(tmp_path):
    """A 44.1 kHz stereo recording reads as 16 kHz mono frames that still say the same words."""
    speech16 = synthesize("turn on the kitchen light", tmp_path / "speech.wav", voice="en-us")
    stereo = tmp_path / "stereo44.wav"
    subprocess.run(["sox", str(speech16), "-r", "44100", "-c", "2", str(stereo)], check=True)
    with WavInput(stereo, FRAME, realtime=False, at_end="eof") as mic:
        frames = list(mic)
    assert all(frame.dtype == np.int16 and frame.shape == (FRAME,) for frame in frames)
    original, _ = read_wav(speech16)
    assert abs(len(frames) * FRAME - len(original)) <= FRAME  # same length: resampled, not sped up
    heard = tmp_path / "heard.wav"
    wavfile.write(heard, INPUT_RATE, np.concatenate(frames))
    assert heard_as_said(words(transcribe(heard)), ["turn", "on", "the", "kitchen", "light"])


def test_wav_input_downmixes_channels_and_keeps_pitch(tmp_path):
    left, right = tone(440, 1.0, 44100), tone(1000, 1.0, 44100)
    path = tmp_path / "two.wav"
    wavfile.write(path, 44100, np.stack([left, right], axis=1))
    with WavInput(path, FRAME, realtime=False, at_end="eof") as mic:
        audio = np.concatenate(list(mic))[: INPUT_RATE]
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64)))
    peaks = sorted(np.argsort(spectrum)[-2:] * INPUT_RATE / len(audio))
    assert peaks == pytest.approx([440, 1000], abs=3)


def test_wav_input_after_the_end_gives_silence_or_eof(tmp_path):
    path = tmp_path / "short.wav"
    wavfile.write(path, INPUT_RATE, tone(440, 0.1, INPUT_RATE))
    mic = WavInput(path, FRAME, realtime=False)  # a microphone never ends: silence after the file
    frames = [mic.read() for _ in range(5)]
    assert np.abs(frames[0]).max() > 1000 and not frames[3].any()
    mic = WavInput(path, FRAME, realtime=False, at_end="eof")
    mic.read(), mic.read()
    with pytest.raises(EndOfInput):
        mic.read()


def test_wav_input_paces_like_a_microphone(tmp_path):
    path = tmp_path / "tone.wav"
    wavfile.write(path, INPUT_RATE, tone(440, 1.0, INPUT_RATE))
    mic = WavInput(path, FRAME)
    began = time.monotonic()
    for _ in range(10):
        mic.read()
    assert time.monotonic() - began >= 9 * FRAME / INPUT_RATE * 0.9  # ~0.72 s: real time, not at once


def test_missing_wav_input_is_a_clear_device_error(tmp_path):
    with pytest.raises(AudioDeviceError, match="no such WAV file"):
        open_input(AudioSettings(input="wav", input_file=str(tmp_path / "nope.wav")), FRAME)
    with pytest.raises(AudioDeviceError, match="input_file"):
        open_input(AudioSettings(input="wav"), FRAME)


def test_stream_input_reads_raw_16k_frames_until_the_end():
    samples = tone(440, 0.2, INPUT_RATE)
    mic = StreamInput(FRAME, io.BytesIO(samples.tobytes()))
    first, second, third = mic.read(), mic.read(), mic.read()
    assert np.array_equal(first, samples[:FRAME]) and np.array_equal(second, samples[FRAME:2 * FRAME])
    assert np.array_equal(third[: len(samples) - 2 * FRAME], samples[2 * FRAME:])
    with pytest.raises(EndOfInput):
        mic.read()


@pytest.mark.skipif(sound_card_present("input"), reason="this machine has a microphone")
def test_no_microphone_is_a_clear_error():
    with pytest.raises(NoMicrophoneError, match="input_file"):
        open_input(AudioSettings(input="auto"), FRAME)


# --- speaker --------------------------------------------------------------------------------------


def test_wav_output_appends_resamples_and_keeps_a_valid_file(tmp_path):
    path = tmp_path / "speaker.wav"
    with WavOutput(path, realtime=False) as speaker:
        speaker.open(22050)
        speaker.write(tone(440, 0.5, 22050))
        speaker.open(16000)  # another rate: resampled into the file's 22.05 kHz
        speaker.write(tone(1000, 0.5, 16000))
        speaker.drain()
        assert read_wav(path)[1] == 22050  # readable while still open
    with WavOutput(path, realtime=False) as speaker:  # a new process appends to the same file
        speaker.open(22050)
        speaker.write(tone(440, 0.5, 22050).tobytes())
    audio, rate = read_wav(path)
    assert rate == 22050 and len(audio) == pytest.approx(1.5 * 22050, abs=64)
    half = 22050 // 2
    assert dominant_hz(audio[:half], rate) == pytest.approx(440, abs=4)
    assert dominant_hz(audio[half + 500:2 * half - 500], rate) == pytest.approx(1000, abs=4)


def test_volume_scales_what_is_played(tmp_path):
    chime = make_chimes(22050)["done"]
    levels = {}
    for volume in (100, 50, 0):
        path = tmp_path / f"v{volume}.wav"
        with WavOutput(path, realtime=False) as speaker:
            speaker.volume = volume
            speaker.open(22050)
            speaker.write(chime)
        levels[volume] = np.abs(read_wav(path)[0]).max()
    assert levels[100] == np.abs(chime).max()
    assert levels[50] == pytest.approx(levels[100] * volume_gain(50), rel=0.01)
    assert levels[0] == 0


def test_paced_output_takes_real_time_and_stop_cuts_it(tmp_path):
    speaker = WavOutput(tmp_path / "s.wav")
    speaker.open(16000)
    began = time.monotonic()
    for _ in range(25):  # 0.5 s in 20 ms chunks
        speaker.write(np.zeros(320, dtype=np.int16))
    speaker.drain()
    assert time.monotonic() - began >= 0.45
    speaker.stop()
    began = time.monotonic()
    speaker.write(np.zeros(320, dtype=np.int16))  # after a stop the next write starts at once
    assert time.monotonic() - began < 0.2
    speaker.close()


def test_existing_non_wav_output_file_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not audio")
    speaker = open_output(AudioSettings(output="wav", output_file=str(path)))
    with pytest.raises(AudioDeviceError, match="not a WAV"):
        speaker.open(22050)
    assert path.read_text() == "not audio"


@pytest.mark.skipif(sound_card_present("output"), reason="this machine has a speaker")
def test_auto_without_a_sound_card_falls_back_to_null_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="device.audio"):
        speaker = open_output(AudioSettings(output="auto"))
    assert isinstance(speaker, NullOutput)
    assert len([r for r in caplog.records if r.name == "device.audio"]) == 1
    assert "No speaker" in caplog.records[0].getMessage()


# --- PyAudio, through ALSA's file plugin (real PortAudio, no sound card needed) -------------------

PYAUDIO_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import device.audio as audio
    spec = json.loads(sys.argv[1])
    if spec["only_rate"]:  # pretend to be a card that can do only this rate, in stereo
        audio._supported = lambda pa, rate, channels, index, direction: (
            rate == spec["only_rate"] and channels == 2)
    out = audio.PyAudioOutput(spec["device"], spec["mixer"])
    out.volume = spec["volume"]
    out.open(22050)
    t = np.arange(22050) / 22050
    out.write((8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16))
    out.drain()
    out.close()
    mic = audio.PyAudioInput(1280, spec["device"])
    frames = [mic.read() for _ in range(10)]
    mic.close()
    x = np.concatenate(frames).astype(float)
    print(json.dumps({"out_rate": out.hw_rate, "out_channels": out.channels, "in_rate": mic.hw_rate,
                      "in_hz": float(np.argmax(np.abs(np.fft.rfft(x))) * 16000 / len(x)),
                      "in_shape": [len(frames), int(frames[0].shape[0])], "in_dtype": str(frames[0].dtype)}))
""")


def run_on_alsa_files(tmp_path: Path, mic_audio: np.ndarray, only_rate: int = 0, device: str = "",
                      mixer: str = "", volume: int = 100) -> dict:
    """Run PyAudio in a child whose ALSA plays into speaker.raw and records from mic.raw."""
    (tmp_path / "mic.raw").write_bytes(mic_audio.astype("<i2").tobytes())
    (tmp_path / ".asoundrc").write_text(
        f'pcm.speaker {{type file; slave.pcm "null"; file "{tmp_path}/speaker.raw"; format "raw"}}\n'
        f'pcm.mic {{type file; slave.pcm "null"; file "/dev/null"; infile "{tmp_path}/mic.raw"; format "raw"}}\n'
        'pcm.!default {type asym; playback.pcm "speaker"; capture.pcm "mic"}\n')
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[1])}
    result = subprocess.run([sys.executable, "-c", PYAUDIO_SCRIPT,
                             json.dumps({"only_rate": only_rate, "device": device,
                                         "mixer": mixer, "volume": volume})],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "stderr": result.stderr}


def test_pyaudio_plays_and_records_through_the_default_device(tmp_path):
    report = run_on_alsa_files(tmp_path, tone(1000, 2.0, INPUT_RATE))
    assert report["out_rate"] == 22050 and report["in_rate"] == INPUT_RATE
    played = np.frombuffer((tmp_path / "speaker.raw").read_bytes(), dtype="<i2")
    assert len(played) >= 22050
    assert dominant_hz(played[:22050], 22050) == pytest.approx(440, abs=2)
    assert report["in_shape"] == [10, FRAME] and report["in_dtype"] == "int16"
    assert report["in_hz"] == pytest.approx(1000, abs=15)


def test_pyaudio_resamples_for_a_48k_only_stereo_card(tmp_path):
    mic48 = np.repeat(tone(1000, 2.0, 48000), 2)  # what a 48 kHz stereo USB microphone delivers
    report = run_on_alsa_files(tmp_path, mic48, only_rate=48000, device="default")
    assert report["out_rate"] == 48000 and report["out_channels"] == 2 and report["in_rate"] == 48000
    played = np.frombuffer((tmp_path / "speaker.raw").read_bytes(), dtype="<i2").reshape(-1, 2)[:, 0]
    assert len(played) >= 47000  # one second of 22.05 kHz audio became one second at 48 kHz
    assert dominant_hz(played[:48000], 48000) == pytest.approx(440, abs=2)
    assert report["in_shape"] == [10, FRAME]
    assert report["in_hz"] == pytest.approx(1000, abs=15)  # 16 kHz mono, the pitch unchanged


def test_a_mixer_that_does_not_work_falls_back_to_software_volume(tmp_path):
    report = run_on_alsa_files(tmp_path, tone(1000, 2.0, INPUT_RATE), mixer="PCM", volume=50)
    played = np.frombuffer((tmp_path / "speaker.raw").read_bytes(), dtype="<i2")
    assert np.abs(played[:22050]).max() == pytest.approx(8000 * volume_gain(50), rel=0.01)
    assert "setting the volume in software" in report["stderr"]


@pytest.mark.hardware
@pytest.mark.skipif(not sound_card_present("output") or not shutil.which("amixer"), reason="needs a sound card")
def test_a_hardware_mixer_takes_the_volume(tmp_path):
    """On a device with a mixer control (set SAMANTHA_TEST_MIXER, e.g. PCM), volume goes there, samples stay."""
    mixer = os.environ.get("SAMANTHA_TEST_MIXER", "PCM")
    speaker = PyAudioOutput("", mixer)
    speaker.volume = 40
    assert speaker.mixer == mixer, "the mixer control could not be set"
    speaker.open(22050)
    speaker.write(tone(440, 0.3, 22050, level=0.1))
    speaker.drain()
    speaker.close()


def test_pyaudio_device_by_name_that_does_not_exist_lists_the_real_ones(tmp_path):
    (tmp_path / ".asoundrc").write_text('pcm.!default {type null}\n')
    script = ("import device.audio as a\ntry:\n a.PyAudioOutput('USB Speaker')\n"
              "except a.AudioDeviceError as e:\n print(e)")
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[1])}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert "no speaker matches 'USB Speaker'; there are:" in result.stdout
    assert "default" in result.stdout


def test_the_device_list_shows_what_can_be_chosen(tmp_path):
    run_on_alsa_files(tmp_path, tone(440, 1.0, INPUT_RATE))  # writes the .asoundrc
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[1])}
    result = subprocess.run([sys.executable, "-m", "device.audio"], env=env, capture_output=True, text=True,
                            timeout=60)
    speakers, microphones = result.stdout.split("Microphones")
    assert "speaker" in speakers and "default" in speakers
    assert "mic" in microphones
