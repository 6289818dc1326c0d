"""`samantha run` end to end: the real bus and services, `samantha say` heard back with Whisper,
a killed service restarted, malformed bus traffic survived, and a clean stop."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from services.messages import ALL_MESSAGES, BadMessage, parse
from tests.running import RunningSamantha, child_pids
from tests.speech import heard_as_said, transcribe, words

pytestmark = pytest.mark.slow

ALL_SERVICES = ["voice", "listener", "dialogue", "panel"]


def service_pid(supervisor_pid: int, name: str) -> int | None:
    """The pid of a service process started by the supervisor."""
    for pid in child_pids(supervisor_pid):
        try:
            if f"services.{name}".encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                return pid
        except OSError:
            continue
    return None


@pytest.fixture(scope="module")
def samantha(tmp_path_factory):
    with RunningSamantha(tmp_path_factory.mktemp("samantha"), services=ALL_SERVICES,
                         extra={"voice": {"chimes": False}}) as running:
        yield running


def say_and_hear(samantha: RunningSamantha, text: str) -> str:
    before = samantha.speaker_wav.stat().st_size if samantha.speaker_wav.exists() else 0
    result = samantha.samantha("say", text)
    assert result.returncode == 0, result.stderr
    clip = samantha.folder / f"clip-{time.time_ns()}.wav"
    extract_new_audio(samantha.speaker_wav, before, clip)
    return transcribe(clip)


def extract_new_audio(wav: Path, from_byte: int, out: Path) -> None:
    """What was played since the file had from_byte bytes, as its own WAV file."""
    import wave

    with wave.open(str(wav), "rb") as source:
        header = 44
        params = source.getparams()
        frame_bytes = params.sampwidth * params.nchannels
        start_frame = max(0, (from_byte - header) // frame_bytes)
        source.setpos(min(start_frame, params.nframes))
        frames = source.readframes(params.nframes - start_frame)
    with wave.open(str(out), "wb") as target:
        target.setparams(params)
        target.writeframes(frames)


def test_say_goes_over_the_bus_and_is_spoken(samantha):
    heard = say_and_hear(samantha, "turn on the kitchen light")
    # The device's Piper voice varies at random from one sentence to the next (as it should: it
    # sounds less mechanical), and Whisper tiny.en, the ear here, now and then hears its "turn" as
    # "pern": all five words must arrive, one of them may be misheard.
    assert heard_as_said(words(heard), ["turn", "on", "the", "kitchen", "light"]), heard


def test_monitor_prints_one_readable_line_per_bus_event(samantha):
    import subprocess
    import sys

    monitor = subprocess.Popen([sys.executable, "-m", "services.cli", "monitor"],
                               env=samantha.env(), stdout=subprocess.PIPE, text=True)
    try:
        assert monitor.stdout is not None
        first = monitor.stdout.readline()  # retained state arrives as soon as it subscribes
        assert first.strip()
        assert samantha.samantha("say", "--no-wait", "monitor me").returncode == 0
        lines = [first]
        while not any("Say" in line and "monitor me" in line for line in lines):
            lines.append(monitor.stdout.readline())
            assert len(lines) < 200 and lines[-1], lines
        assert any("SpeakingStarted" in line for line in [*lines, monitor.stdout.readline()])
    finally:
        monitor.kill()
        monitor.wait()
    for line in lines:
        clock, kind, *_ = line.split()
        assert clock.count(":") == 2 and kind[0].isupper(), line


def malformed_payloads(topic: str, rng: random.Random, count: int) -> list[bytes]:
    """Payloads that must not parse as the topic's message: bad JSON, wrong types, missing fields,
    huge strings, wrong versions."""
    cls = next(c for c in ALL_MESSAGES if c.TOPIC == topic)
    example = json.loads(cls.EXAMPLE)
    junk_values = [None, True, -1, 1e308, "x" * 5000, [], {}, [1, 2], {"a": {"b": [None]}}, "\u0000", -0.0]
    payloads: list[bytes] = [b"", b"{", b"null", b"[]", b"42", b'"text"', b"\xff\xfe\xfd", b"{" * 10000,
                             json.dumps({"v": 2, **example}).encode(), b"x" * 300_000]
    while len(payloads) < count:
        mutated = dict(example)
        kind = rng.randrange(4)
        if kind == 0 and mutated:  # a field of the wrong type
            mutated[rng.choice(list(mutated))] = rng.choice(junk_values)
        elif kind == 1 and mutated:  # a required field missing
            mutated.pop(rng.choice(list(mutated)))
        elif kind == 2:  # random bytes
            payloads.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
            continue
        else:  # truncated JSON
            text = json.dumps(mutated)
            payloads.append(text[: rng.randrange(len(text))].encode())
            continue
        payloads.append(json.dumps(mutated).encode())
    bad = []
    for payload in payloads:
        try:
            parse(topic, payload)
        except BadMessage:
            bad.append(payload)
    return bad


def test_malformed_bus_payloads_are_dropped_and_nothing_crashes(samantha):
    rng = random.Random(7)
    pids = {name: service_pid(samantha.process.pid, name) for name in ALL_SERVICES}
    assert all(pids.values()), pids
    sent = 0
    for cls in ALL_MESSAGES:
        for payload in malformed_payloads(cls.TOPIC, rng, 300):
            samantha.probe.client.publish(cls.TOPIC, payload)
            sent += 1
    assert sent > 26 * 200
    # Clear any retained junk so it cannot linger for later subscribers.
    for cls in ALL_MESSAGES:
        samantha.probe.client.publish(cls.TOPIC, b"", retain=True).wait_for_publish(5)
    time.sleep(3)
    after = {name: service_pid(samantha.process.pid, name) for name in ALL_SERVICES}
    assert after == pids, f"a service restarted: {pids} -> {after}; {samantha.output[-20:]}"
    assert not any("exited with" in line for line in samantha.output)
    # ...and the device still answers.
    assert samantha.samantha("say", "still here").returncode == 0


def test_a_killed_service_is_restarted_and_say_works_again_within_5_s(samantha):
    pid = service_pid(samantha.process.pid, "voice")
    assert pid
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    samantha.wait_line(r"voice exited with", timeout=10)
    samantha.wait_line(r"voice ready", timeout=30)
    result = samantha.samantha("say", "I am back", timeout=30)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - killed_at <= 5.0, "the issue's bound: speaking again within 5 s"
    new_pid = service_pid(samantha.process.pid, "voice")
    assert new_pid and new_pid != pid


def test_sigterm_stops_everything_within_3_s(samantha):
    pids = [service_pid(samantha.process.pid, name) for name in ALL_SERVICES]
    started = time.monotonic()
    samantha.process.send_signal(signal.SIGTERM)
    assert samantha.process.wait(timeout=10) == 0
    assert time.monotonic() - started < 3.0
    for pid in pids:
        assert pid is None or not Path(f"/proc/{pid}").exists()
