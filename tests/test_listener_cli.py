"""`samantha hear` and `samantha models` as a user runs them: real files, real models, real exit codes."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soxr

from tests.test_listener_support import (
    COMMAND_WORDS,
    RATE,
    VOCABULARY,
    background,
    request_audio,
    silence,
    speech,
    spoken_words,
    write_wav,
)


def samantha(*args: str, stdin: bytes | None = None, state_dir: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("SAMANTHA_CONFIG", None)
    if state_dir is not None:
        (state_dir / "vocabulary.txt").write_text("\n".join(VOCABULARY), encoding="utf-8")  # as the dialogue writes it
        env["SAMANTHA_OVERRIDES"] = json.dumps({"general": {"state_dir": str(state_dir)}})
    return subprocess.run([sys.executable, "-m", "services.cli", *args], input=stdin, capture_output=True,
                          timeout=300, env=env)


def events(result: subprocess.CompletedProcess) -> list[dict]:
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


def test_hear_reports_the_wake_word_and_the_request_with_timings(tmp_path):
    audio = request_audio("en-us+m3")
    wav = write_wav(tmp_path / "request.wav", audio)
    lines = events(samantha("hear", str(wav), state_dir=tmp_path))

    assert [e["event"] for e in lines] == ["wake", "listening_started", "listening_ended", "transcript"]
    wake, _, ended, transcript = lines
    assert wake["wake_word"] == "hey_jarvis" and wake["score"] >= 0.5
    assert 2.0 < wake["time_s"] < 4.0  # after the 2 s of background, at the end of "hey jarvis"
    assert spoken_words(transcript["text"]) == COMMAND_WORDS
    assert wake["time_s"] < transcript["speech_start_s"] < transcript["speech_end_s"] < transcript["endpoint_s"]
    assert transcript["endpoint_s"] == ended["time_s"]
    assert transcript["endpoint_s"] - transcript["speech_end_s"] == pytest.approx(0.6, abs=0.1)
    assert transcript["file"] == str(wav) and transcript["backend"] == "whisper"


def test_hear_resamples_a_44k_stereo_file_and_reads_stdin(tmp_path):
    mono = request_audio("en-us+m3").astype(np.float64)
    resampled = soxr.resample(mono, RATE, 44100)
    stereo = np.stack([resampled, resampled * 0.5], axis=1)
    wav = write_wav(tmp_path / "cd-quality.wav", np.round(stereo).astype(np.int16), rate=44100, channels=2)

    from_file = events(samantha("hear", str(wav), state_dir=tmp_path))
    from_stdin = events(samantha("hear", "-", stdin=wav.read_bytes(), state_dir=tmp_path))

    for lines in (from_file, from_stdin):
        assert [e["event"] for e in lines].count("wake") == 1
        assert spoken_words(lines[-1]["text"]) == COMMAND_WORDS
    assert from_stdin[-1]["file"] == "-"


def test_hear_without_wake_word_transcribes_each_request(tmp_path):
    audio = np.concatenate([background(1.0), speech("what time is it"), silence(1.5),
                            speech("turn off the kitchen light"), silence(1.0)])
    wav = write_wav(tmp_path / "two.wav", audio)
    lines = events(samantha("hear", "--no-wake", str(wav), state_dir=tmp_path))
    assert [e["event"] for e in lines] == ["transcript", "transcript"]
    assert [spoken_words(e["text"]) for e in lines] == [
        ["what", "time", "is", "it"], ["turn", "off", "the", "kitchen", "light"]]


@pytest.mark.parametrize("content, expected", [
    (b"this is a text file, not audio\n" * 10, "not a WAV file"),
    (None, "truncated"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "no audio data"),
])
def test_hear_refuses_unusable_files_with_one_clear_error(tmp_path, content, expected):
    bad = tmp_path / "bad.wav"
    if content is None:  # a real WAV file cut off in the middle of its audio
        whole = write_wav(tmp_path / "whole.wav", speech("hey jarvis")).read_bytes()
        content = whole[: len(whole) // 2]
    bad.write_bytes(content)
    good = write_wav(tmp_path / "good.wav", silence(1.0))

    result = samantha("hear", str(good), str(bad), state_dir=tmp_path)

    assert result.returncode == 2
    assert result.stdout == b""  # nothing heard from the good file either: the command line was wrong
    error = result.stderr.decode().strip().splitlines()
    assert len(error) == 1 and expected in error[0] and "bad.wav" in error[0], error


def test_hear_missing_file_and_missing_vosk_model_are_exit_2(tmp_path):
    missing = samantha("hear", str(tmp_path / "nope.wav"), state_dir=tmp_path)
    assert missing.returncode == 2 and b"nope.wav" in missing.stderr
    good = write_wav(tmp_path / "good.wav", silence(1.0))
    no_model = samantha("hear", "--stt", "vosk", str(good), state_dir=tmp_path)
    assert no_model.returncode == 2 and b"models pull vosk-en" in no_model.stderr


def test_models_pull_without_internet_says_so_and_installs_nothing(tmp_path):
    # A closed local port stands in for the unreachable download site (no internet here).
    result = samantha("models", "pull", "vosk-en", "--url", "http://127.0.0.1:9/vosk.zip", state_dir=tmp_path)
    assert result.returncode == 1
    message = result.stderr.decode()
    assert "cannot download vosk-en" in message and "needs internet" in message
    assert not (tmp_path / "models" / "vosk-model-small-en-us-0.15").exists()


def test_models_pull_refuses_a_download_with_the_wrong_checksum(tmp_path):
    served = tmp_path / "www"
    served.mkdir()
    (served / "vosk.zip").write_bytes(b"PK not the real model")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/vosk.zip"
        result = samantha("models", "pull", "vosk-en", "--url", url, state_dir=tmp_path)
    finally:
        server.shutdown()
    assert result.returncode == 1
    assert b"sha256" in result.stderr and b"nothing was installed" in result.stderr
    assert not (tmp_path / "models" / "vosk-model-small-en-us-0.15").exists()
    assert not list((tmp_path / "models").glob(".download-*"))  # no half-finished download left behind
