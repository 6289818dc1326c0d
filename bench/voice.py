"""Benchmark of the voice service, run as a real process on a private broker with a WAV-file speaker.

Prints: time from Say on the bus to SpeakingStarted and to the first audio in the speaker file
(Piper warm, and espeak-ng), stop latency (StopSpeaking -> SpeakingFinished, and -> the speaker
going quiet; median/p95), RSS of the voice service and its Piper child, and their idle CPU over 10 s.

    .venv/bin/python bench/voice.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._process import cpu_seconds, rss_mb  # noqa: E402
from tests.running import child_pids  # noqa: E402

from services.broker import PrivateBroker  # noqa: E402
from services.messages import BadMessage, Say, SpeakingFinished, SpeakingStarted, StopSpeaking, VolumeState, parse  # noqa: E402
from services.voice.tts import PiperProcess, default_piper_voice  # noqa: E402
from tests.conftest import BusProbe  # noqa: E402

SHORT_TEXTS = ("Turn on the kitchen light.", "Okay, the timer is set.", "It is twenty past nine.",
               "Sure, playing it now.", "Good morning.")
LONG_TEXT = ("Here is a long answer about the weather this week, with rain on Monday and sun on "
             "Tuesday, and a lot more to say after that about the days that follow it.")
POLL_S = 0.001  # how often the speaker file is looked at
IDLE_WINDOW_S = 10.0
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    return (f"median {statistics.median(values) * 1000:7.1f} ms   p95 {percentile(values, 0.95) * 1000:7.1f} ms"
            f"   max {max(values) * 1000:7.1f} ms   (n={len(values)})")


class VoiceUnderTest:
    def __init__(self, folder: Path, broker: PrivateBroker, probe: BusProbe, engine: str) -> None:
        self.wav = folder / f"speaker-{engine}.wav"
        config = folder / f"{engine}.toml"
        config.write_text(f'[audio]\noutput = "wav"\noutput_file = "{self.wav}"\n'
                          f'[general]\nstate_dir = "{folder}/state-{engine}"\n[voice]\nengine = "{engine}"\n'
                          f"chimes = false\n")
        env = {**os.environ, "SAMANTHA_CONFIG": str(config),
               "SAMANTHA_OVERRIDES": json.dumps({"bus": {"host": "127.0.0.1", "port": broker.port}})}
        self.probe = probe
        self.log: list[str] = []
        probe.drain()
        self.process = subprocess.Popen([sys.executable, "-m", "services.voice"], env=env,
                                        stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read_log, daemon=True).start()
        probe.wait_for(VolumeState, 60)

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line.rstrip())

    def wait_log(self, pattern: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log:
                if re.search(pattern, line):
                    return line
            time.sleep(0.05)
        raise RuntimeError(f"no log line like {pattern!r}: {self.log[-10:]}")

    def size(self) -> int:
        try:
            return self.wav.stat().st_size
        except FileNotFoundError:
            return 0

    def first_audio(self, text: str, say_id: str) -> tuple[float, float]:
        """(Say -> SpeakingStarted, Say -> first audio in the speaker file), in seconds."""
        self.probe.drain()
        before = self.size()
        sent = time.monotonic()
        self.probe.publish(Say(text=text, id=say_id))
        while self.size() == before:
            if time.monotonic() - sent > 30:
                raise RuntimeError("no audio within 30 s")
            time.sleep(POLL_S)
        audio_at = time.monotonic()
        started = self.probe.wait_for(lambda m: isinstance(m, SpeakingStarted) and m.id == say_id, 30)
        started_at = self._received_at(started)
        self.probe.wait_for(lambda m: isinstance(m, SpeakingFinished) and m.id == say_id, 60)
        return started_at - sent, audio_at - sent

    def _received_at(self, message) -> float:
        return self.probe.received_at.get(id(message), time.monotonic())

    def stop_latency(self, say_id: str) -> tuple[float, float]:
        """(StopSpeaking -> SpeakingFinished, StopSpeaking -> the last audio written), in seconds."""
        self.probe.drain()
        self.probe.publish(Say(text=LONG_TEXT, id=say_id))
        self.probe.wait_for(lambda m: isinstance(m, SpeakingStarted) and m.id == say_id, 30)
        time.sleep(0.4)
        last_size, last_change = self.size(), time.monotonic()
        sent = time.monotonic()
        self.probe.publish(StopSpeaking())
        finished = self.probe.wait_for(lambda m: isinstance(m, SpeakingFinished) and m.id == say_id, 10)
        finished_at = self._received_at(finished)
        assert finished.interrupted, "the sentence ended before the stop"
        while time.monotonic() - last_change < 0.3:  # watch until the file has stayed the same for 0.3 s
            size = self.size()
            if size != last_size:
                last_size, last_change = size, time.monotonic()
            time.sleep(POLL_S)
        return finished_at - sent, max(0.0, last_change - sent)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class TimedProbe(BusProbe):
    """A BusProbe that remembers when each message arrived (monotonic)."""

    def __init__(self, port: int) -> None:
        self.received_at: dict[int, float] = {}
        super().__init__(port)

    def _on_message(self, client, userdata, msg) -> None:
        arrived = time.monotonic()
        try:
            message = parse(msg.topic, msg.payload)
        except BadMessage:
            return
        self.received_at[id(message)] = arrived  # before anyone can see the message
        self.history.append(message)  # kept, so that ids stay unique
        self.received.put(message)


PULSE_CONFIG = """\
load-module module-native-protocol-unix auth-anonymous=1 socket={folder}/pulse.sock
load-module module-null-sink sink_name=speaker rate=48000 channels=2
load-module module-remap-source master=speaker.monitor source_name=mic
load-module module-null-sink sink_name=void
load-module module-loopback source=speaker.monitor sink=void latency_msec=10
set-default-sink speaker
set-default-source mic
"""
HEARD_CHUNK_S = 0.005  # what the listening side reads at a time
HEARD_RATE = 16000
HEARD_LEVEL = 300  # peak above which a chunk counts as sound (speech peaks are ~10000)


class PrivatePulseAudio:
    """A PulseAudio daemon with a null sink as the speaker and its monitor as a microphone: a real-time
    sound device for PortAudio without a sound card (see /work/shared/TESTING.md)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        (folder / "samantha.pa").write_text(PULSE_CONFIG.format(folder=folder))
        self.env = {**os.environ, "PULSE_SERVER": f"unix:{folder}/pulse.sock", "HOME": str(folder),
                    "PULSE_RUNTIME_PATH": str(folder), "XDG_RUNTIME_DIR": str(folder)}
        self.process = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "--use-pid-file=no", "--exit-idle-time=-1", "--disable-shm=yes",
             "--realtime=no", "-n", "-F", str(folder / "samantha.pa")],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not (folder / "pulse.sock").exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("PulseAudio did not start")
            time.sleep(0.05)
        self.heard: list[tuple[float, int]] = []  # (arrival time, peak) of each chunk of the monitor
        self.recorder = subprocess.Popen(
            ["parec", "-d", "mic", "--raw", "--format=s16le", f"--rate={HEARD_RATE}", "--channels=1",
             "--latency-msec=5"], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        import numpy as np

        size = int(HEARD_RATE * HEARD_CHUNK_S) * 2
        assert self.recorder.stdout is not None
        while chunk := self.recorder.stdout.read(size):
            peak = int(np.abs(np.frombuffer(chunk, dtype="<i2")).max()) if len(chunk) >= 2 else 0
            self.heard.append((time.monotonic(), peak))

    def first_sound_after(self, moment: float, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, peak in list(self.heard):
                if at > moment and peak > HEARD_LEVEL:
                    return at
            time.sleep(0.002)
        raise RuntimeError("nothing heard")

    def last_sound(self) -> float:
        return max(at for at, peak in self.heard if peak > HEARD_LEVEL)

    def close(self) -> None:
        for process in (self.recorder, self.process):
            process.terminate()
            process.wait(timeout=5)


def bench_real_time_device(folder: Path, broker: PrivateBroker, probe: "TimedProbe", runs: int) -> None:
    """First audio and stop latency as heard on a real-time PortAudio device (PulseAudio null sink)."""
    pulse = PrivatePulseAudio(folder / "pulse")
    try:
        config = folder / "pulse.toml"
        config.write_text(f'[audio]\noutput = "pyaudio"\n[general]\nstate_dir = "{folder}/state-pulse"\n'
                          '[voice]\nchimes = false\nvolume = 100\n')
        env = {**pulse.env, "SAMANTHA_CONFIG": str(config),
               "SAMANTHA_OVERRIDES": json.dumps({"bus": {"host": "127.0.0.1", "port": broker.port}})}
        probe.drain()
        process = subprocess.Popen([sys.executable, "-m", "services.voice"], env=env,
                                   stderr=subprocess.PIPE, text=True)
        log: list[str] = []
        threading.Thread(target=lambda: log.extend(line.rstrip() for line in process.stderr), daemon=True).start()
        probe.wait_for(VolumeState, 60)
        deadline = time.monotonic() + 120
        while not any("Piper ready" in line for line in log) and time.monotonic() < deadline:
            time.sleep(0.05)
        heard_first, heard_stop = [], []
        for run in range(runs):
            probe.drain()
            time.sleep(0.3)
            sent = time.monotonic()
            probe.publish(Say(text=SHORT_TEXTS[run % len(SHORT_TEXTS)], id=f"rt{run}"))
            heard_first.append(pulse.first_sound_after(sent) - sent)
            probe.wait_for(lambda m, i=f"rt{run}": isinstance(m, SpeakingFinished) and m.id == i, 30)
        for run in range(runs):
            probe.drain()
            time.sleep(0.3)
            probe.publish(Say(text=LONG_TEXT, id=f"rs{run}"))
            pulse.first_sound_after(time.monotonic(), 30)
            time.sleep(0.5)
            sent = time.monotonic()
            probe.publish(StopSpeaking())
            probe.wait_for(lambda m, i=f"rs{run}": isinstance(m, SpeakingFinished) and m.id == i, 10)
            time.sleep(0.5)
            heard_stop.append(max(0.0, pulse.last_sound() - sent))
        speaker = next((line.split("Speaker: ", 1)[1] for line in log if "Speaker: " in line), "?")
        print(f"Real-time device (PortAudio -> PulseAudio null sink '{speaker}'), heard on its monitor:")
        print(f"  Piper (warm)  Say -> first sound heard      {ms(heard_first)}")
        print(f"  StopSpeaking -> last sound heard            {ms(heard_stop)}")
        process.terminate()
        process.wait(timeout=10)
    finally:
        pulse.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="repetitions per figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp, PrivateBroker() as broker:
        folder = Path(tmp)
        probe = TimedProbe(broker.port)
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"voice service benchmark, {args.runs} runs each, WAV-file speaker (real-time paced); "
              f"{os.cpu_count()} cores, load average {load}")

        voice = VoiceUnderTest(folder, broker, probe, "piper")
        ready = voice.wait_log(r"Piper ready")
        print(f"Piper start-up: {ready.split('Piper ready with ', 1)[1]}")
        piper_started, piper_audio = [], []
        for run in range(args.runs):
            started, audio = voice.first_audio(SHORT_TEXTS[run % len(SHORT_TEXTS)], f"p{run}")
            piper_started.append(started)
            piper_audio.append(audio)
        print(f"Piper (warm)  Say -> SpeakingStarted   {ms(piper_started)}")
        print(f"Piper (warm)  Say -> first audio out   {ms(piper_audio)}")
        stop_finished, stop_quiet = [], []
        for run in range(args.runs):
            finished, quiet = voice.stop_latency(f"s{run}")
            stop_finished.append(finished)
            stop_quiet.append(quiet)
        print(f"Stop -> SpeakingFinished(interrupted)  {ms(stop_finished)}")
        print(f"Stop -> last audio written             {ms(stop_quiet)}")
        pids = {"voice service": voice.process.pid}
        pids.update({"Piper child": pid for pid in child_pids(voice.process.pid)})
        time.sleep(1.0)
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        time.sleep(IDLE_WINDOW_S)
        for name, pid in pids.items():
            idle = (cpu_seconds(pid) - before[name]) / IDLE_WINDOW_S * 100
            print(f"{name:<14} pid {pid:>7}   RSS {rss_mb(pid):6.1f} MB   idle CPU {idle:5.2f} % of one core "
                  f"over {IDLE_WINDOW_S:.0f} s")
        print(f"{'together':<14}               RSS {sum(rss_mb(pid) for pid in pids.values()):6.1f} MB")
        voice.stop()

        piper = PiperProcess(default_piper_voice())
        piper.start()
        alone = []
        for run in range(args.runs):
            began = time.monotonic()
            piper.synthesize(SHORT_TEXTS[run % len(SHORT_TEXTS)])
            alone.append(time.monotonic() - began)
        piper.close()
        print(f"Piper worker alone, one short sentence  {ms(alone)}")

        voice = VoiceUnderTest(folder, broker, probe, "espeak")
        espeak_started, espeak_audio = [], []
        for run in range(args.runs):
            started, audio = voice.first_audio(SHORT_TEXTS[run % len(SHORT_TEXTS)], f"e{run}")
            espeak_started.append(started)
            espeak_audio.append(audio)
        print(f"espeak-ng     Say -> SpeakingStarted   {ms(espeak_started)}")
        print(f"espeak-ng     Say -> first audio out   {ms(espeak_audio)}")
        print(f"espeak-ng voice service RSS {rss_mb(voice.process.pid):6.1f} MB")
        voice.stop()
        if shutil.which("pulseaudio") and shutil.which("parec"):
            bench_real_time_device(folder, broker, probe, args.runs)
        else:
            print("(no pulseaudio/parec: the real-time device figures are skipped)")
        probe.close()


if __name__ == "__main__":
    main()
