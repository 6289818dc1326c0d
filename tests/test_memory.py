"""What keeps the services inside the device's memory budget, checked where it can silently stop working:
a library update importing PyAV again, a session keeping its memory arena, a launcher without the
malloc setting."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap
import wave

import numpy as np

from services.install import UNITS_DIR
from services.memory import MALLOC_ENV


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_whisper_loads_without_pyav_and_can_still_decode_a_file(tmp_path):
    clip = tmp_path / "tone.wav"
    with wave.open(str(clip), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((np.sin(np.arange(16000) / 5) * 8000).astype(np.int16).tobytes())
    out = run_python(f"""
        import sys
        from services.listener.stt import WhisperSpeechToText
        WhisperSpeechToText()
        print("pyav loaded:", "av.audio" in sys.modules)
        from faster_whisper import decode_audio
        print("decoded samples:", len(decode_audio({str(clip)!r})))
    """)
    assert "pyav loaded: False" in out
    assert "decoded samples: 16000" in out  # imported on first use, decoding files still works


def test_wake_word_and_vad_sessions_keep_no_memory_arena():
    out = run_python("""
        import onnxruntime as ort
        from services.listener.vad import VoiceActivityDetector
        from services.listener.wake import WakeWordDetector
        library_options = ort.SessionOptions
        wake = WakeWordDetector(["hey_jarvis"])
        sessions = [*wake._model.models.values(), wake._model.preprocessor.melspec_model,
                    wake._model.preprocessor.embedding_model, VoiceActivityDetector()._session]
        print("arenas:", sum(s.get_session_options().enable_cpu_mem_arena for s in sessions))
        print("options restored:", ort.SessionOptions is library_options)
    """)
    assert "arenas: 0" in out
    assert "options restored: True" in out


def test_every_service_is_started_with_the_malloc_setting(tmp_path, monkeypatch):
    from services.settings import load_settings
    from services.supervisor import Child, Supervisor

    expected = " ".join(f"{key}={value}" for key, value in MALLOC_ENV.items())
    for unit in UNITS_DIR.glob("samantha-*.service"):
        if "python -m services." in unit.read_text():
            environment = re.search(r"^Environment=(.*)$", unit.read_text(), re.MULTILINE)
            assert environment and expected in environment.group(1), unit.name

    async def child_env() -> dict[str, str]:
        config = tmp_path / "config.toml"
        config.write_text(f'[general]\nstate_dir = "{tmp_path}"\n')
        supervisor = Supervisor(load_settings(str(config)), str(config), ["panel"])
        return supervisor.child_env(Child("panel"))

    for key in MALLOC_ENV:
        monkeypatch.delenv(key, raising=False)  # a developer's own setting would win
    env = asyncio.run(child_env())
    assert all(env[key] == value for key, value in MALLOC_ENV.items())
