"""Wake-word benchmark: detection rate, false accepts, real-time factor, idle CPU.

    .venv/bin/python bench/wake.py [--threshold 0.5] [--minutes 30] [--seed 1] [--held-out] [--wake-word alexa]

- Detection: "hey jarvis" (or --wake-word's phrase) synthesized by 12 espeak-ng voices x 3
  speed/pitch settings and by Piper (en_US-joe-medium) at 3 speeds x 2 pitch shifts x 2 noise
  settings (48 clips), each mixed at 10 dB SNR (active speech level, P.56-style) with white, pink
  and brown noise, and clean. A clip counts as detected when the detector fires at least once in
  it. --held-out: 48 other
  clips (12 other espeak-ng voices x 3 other speeds/pitches, Piper at other speeds, pitches and
  noise scales) in another stretch of the noise, never used to choose a setting; --seed changes
  where in the noise each clip lies and the speeds, pitches and pauses of the other speech.
- False accepts: at least --minutes of other speech (the sentences below, some chosen to sound
  near the wake word, by many espeak-ng voices and Piper) with quiet room noise under it, plus
  5 minutes of noise and music (sox synth), run through the detector as one continuous stream.
- Real-time factor of wake word + VAD, and CPU of the detector fed frames at live pace; then the
  real listener service (with [audio] input = "null": a silent microphone at live pace) for
  IDLE_SERVICE_S, its CPU and RSS.

The detector is the listener's own WakeWordDetector; per-frame scores are recorded once and the
detection rule (threshold, one detection then REFRACTORY_S of quiet) is applied to them for every
threshold in the sweep, so the table shows what each setting would do. The verifier rows replay the
pipeline's rule over the same scores with the listener's own WakeVerifier (Whisper tiny.en); the
section "The listener as configured" is the row of the settings' defaults, the figure to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._process import cpu_seconds, rss_mb  # noqa: E402

from bench._audio_mix import espeak, mix_at_snr, music, noise, piper, pitch_shift  # noqa: E402
from services.listener.audio_file import frames  # noqa: E402
from services.listener.verify import (  # noqa: E402
    VERIFY_AFTER_MAX_S, VERIFY_SETTLE_S, VERIFY_WINDOW_S, WakeVerifier, ready_to_verify, wake_phrase)
from services.listener.settings import KNOWN_WAKE_WORDS  # noqa: E402
from services.listener.wake import FRAME_S, FRAME_SAMPLES, REFRACTORY_S, WakeWordDetector  # noqa: E402

WAKE_PHRASE = "hey jarvis"
ESPEAK_VOICES = ["en-us", "en-gb", "en-us+m3", "en-gb+m3", "en-us+f2", "en-gb-x-rp", "en-029",
                 "en-gb-scotland", "en-us+f4", "en-us-nyc", "en-us+m7", "en-gb-x-gbclan"]
ESPEAK_STYLES = [(175, 50), (145, 35), (205, 70)]  # (words per minute, pitch 0-99)
PIPER_STYLES = [(length, cents, noise_scale) for length in (0.85, 1.0, 1.2) for cents in (-150, 200)
                for noise_scale in (0.5, 0.9)]
# --held-out: other voices, speeds, pitches and noise, never used for choosing settings; a check
# that what was tuned on the clips above is not fitted to them.
HELD_OUT_ESPEAK_VOICES = ["en-us+m2", "en-gb+f3", "en-us+m5", "en-gb-x-gbcwmd", "en-us+f1", "en-gb+m4",
                          "en-us+m6", "en-gb-scotland+f2", "en-029+m2", "en-us+klatt", "en-gb+m7", "en-us-nyc+f3"]
HELD_OUT_ESPEAK_STYLES = [(160, 45), (190, 60), (135, 28)]
HELD_OUT_PIPER_STYLES = [(length, cents, noise_scale) for length in (0.9, 1.1) for cents in (-80, 120, 300)
                         for noise_scale in (0.3, 0.8)]
SNR_DB = 10.0
NOISES = ("whitenoise", "pinknoise", "brownnoise")
LEAD_S, TAIL_S = 1.5, 1.5  # noise around each wake phrase
ROOM_SNR_DB = 25.0  # quiet room noise under the non-wake speech
NEGATIVE_VOICES = ["en-us", "en-gb", "en-us+m1", "en-us+m3", "en-us+f1", "en-us+f3", "en-gb+m2", "en-gb+f2",
                   "en-gb-x-rp", "en-029", "en-gb-scotland", "en-us-nyc", "en-gb-x-gbcwmd", "en-us+m6",
                   "en-gb-x-gbclan", "en-us+f5"]
NOISE_MUSIC_S = 300.0
IDLE_LIVE_S = 20.0
IDLE_SERVICE_S = 30.0
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
CANDIDATE_THRESHOLDS = (0.05, 0.1, 0.15, 0.2)
DIRECT_PASS_SCORES = (0.5, 0.7, 0.8, 0.9, 0.95, 1.01)  # 1.01: none passes, every candidate verified
WINDOW_SAMPLES = round(VERIFY_WINDOW_S * 16000)

# Everyday speech near a speaker, and some that sound a bit like the wake word on purpose.
SENTENCES = [
    "Could you pass me the salt, please?", "I think it's going to rain later this afternoon.",
    "What time does the movie start tonight?", "Don't forget to water the plants on the balcony.",
    "The kids have soccer practice at five.", "Hey, have you seen my keys anywhere?",
    "Harvey is coming over for dinner on Friday.", "We need more milk, eggs and some bread.",
    "Jars of jam are on the top shelf in the pantry.", "Hey Travis, can you help me with this box?",
    "Harvest season is the busiest time on the farm.", "Marvin said the service was excellent.",
    "Let's go for a walk after lunch.", "My phone battery is almost dead again.",
    "Did you finish the report for the meeting?", "The dog needs to go to the vet next week.",
    "I'll call you back in ten minutes.", "Turn the music down a little, it's too loud.",
    "Hey there, how was your day at school?", "Charlie and Mavis are getting married in June.",
    "The train was delayed by almost an hour.", "Can you believe how expensive coffee has become?",
    "I left the laundry in the washing machine.", "Let's order pizza tonight, I'm too tired to cook.",
    "She plays the cello in the city orchestra.", "Jarring noises from the garage woke me up.",
    "Hey, jump in the car, we're late!", "The weather forecast says sunshine all weekend.",
    "Grandma is visiting us for the holidays.", "Have you read the new book by that author?",
    "My favorite color has always been dark blue.", "Please close the window, it's getting cold.",
    "Service at that restaurant was really slow.", "Who wants another cup of tea?",
    "Travis and Jarrod fixed the bicycle yesterday.", "We should paint the living room this summer.",
    "I can't find the remote control anywhere.", "The baby is finally asleep, let's be quiet.",
    "Hey Mavis, are you coming to the party?", "Park the car in the driveway, not on the street.",
    "This soup needs a little more pepper.", "The football match ends in a draw again.",
    "Remind me to call the plumber tomorrow.", "Artists from all over the country came to the fair.",
    "Hello, is anybody home?", "Java is the programming language he learned first.",
    "They travelled across the country by bus.", "A car alarm has been going off for an hour.",
    "Hey, that's my sandwich!", "Jealous cats chase the curious dogs around the yard.",
    "The garden looks beautiful after the rain.", "Let's watch the news at nine.",
    "He said the parcel will arrive on Tuesday.", "Open the curtains and let some light in.",
    "Carla bought a new lamp for the study.", "Every morning I drink a glass of orange juice.",
    "Hey Siri, I mean, hey Google, never mind.", "The neighbours are having a barbecue again.",
    "Our flight leaves early tomorrow morning.", "Jarvis Cocker was the singer of Pulp.",
    "Harvey's jar of marbles fell on the floor.", "Have a nice day, and drive safely.",
    "The cat knocked a glass off the table.", "Can you help me carry the groceries inside?",
    "Hey you, stop right there!", "I'd like my steak medium rare, please.",
    "The museum is closed on Mondays.", "Put the leftovers in the fridge.",
    "Someone is knocking at the door.", "Elvis has left the building, folks.",
    "The heating is broken, it's freezing in here.", "We're out of toilet paper again.",
    "Say hi to your parents from me.", "It's half past seven, time to get up.",
]


def detections(scores: np.ndarray, threshold: float) -> list[int]:
    """Frame indices where the detector fires: first frame at or above threshold, then REFRACTORY_S quiet."""
    fired: list[int] = []
    quiet_until = -1
    refractory_frames = int(round(REFRACTORY_S / FRAME_S))
    for index in np.flatnonzero(scores >= threshold):
        if index >= quiet_until:
            fired.append(int(index))
            quiet_until = index + refractory_frames
    return fired


class VerifierRun:
    """The listener's verification rule applied to recorded scores, frame by frame as the pipeline
    does it: candidates at a low threshold, each passed directly (score >= threshold before the
    verifier is asked, if allowed) or by Whisper hearing the wake phrase in the VERIFY_WINDOW_S that
    ends when the score has stopped rising. A rejected candidate rearms the detector (the next rise
    of the score is a new candidate), and a score reaching the threshold within REFRACTORY_S of it
    still counts (direct pass)."""

    def __init__(self, verifier: WakeVerifier, wake_word: str) -> None:
        self.verifier = verifier
        self.wake_word = wake_word
        self._verdicts: dict[tuple[int, int], object] = {}
        self.seconds: list[float] = []

    def verdict(self, key: int, audio: np.ndarray, index: int):
        """The verdict on the window ending after frame index."""
        if (key, index) not in self._verdicts:
            end = (index + 1) * FRAME_SAMPLES
            window = audio[max(0, end - WINDOW_SAMPLES):end]
            started = time.monotonic()
            self._verdicts[(key, index)] = self.verifier.verify(window, self.wake_word)
            self.seconds.append(time.monotonic() - started)
        return self._verdicts[(key, index)]

    def accepted(self, key: int, audio: np.ndarray, scores: np.ndarray, candidate: float, threshold: float,
                 direct: bool) -> list[tuple[int, bool]]:
        """The candidates that became detections: (frame index, passed on its score alone, so
        without waiting for the verifier)."""
        fired: list[tuple[int, bool]] = []
        refractory_frames = int(round(REFRACTORY_S / FRAME_S))
        quiet_until = second_chance_until = -1
        awaiting_fall = False  # the detector after rearm()
        index = 0
        while index < len(scores):
            score = scores[index]
            found = False
            if index >= quiet_until:  # WakeWordDetector.process at the candidate threshold
                if score < candidate:
                    awaiting_fall = False
                elif not awaiting_fall:
                    found, quiet_until = True, index + refractory_frames
            if not found and direct and index < second_chance_until and score >= threshold:
                found, second_chance_until = True, -1  # the pipeline's second chance
            if not found:
                index += 1
                continue
            if direct and score >= threshold:
                fired.append((index, True))
                second_chance_until = -1  # listening now: the pipeline ignores the wake word
                index += 1
                continue
            peak, since_peak, at = score, 0, index
            while True:  # the pipeline's _follow_candidate, frame by frame
                at += 1
                if at >= len(scores):  # end of the audio: the verifier hears what there is
                    if self.verdict(key, audio, len(scores) - 1).accepted:
                        fired.append((index, False))
                    break
                if scores[at] > peak:
                    peak, since_peak = scores[at], 0
                else:
                    since_peak += 1
                if direct and peak >= threshold:
                    fired.append((index, True))
                    break
                if ready_to_verify((at - index) * FRAME_S, since_peak * FRAME_S):
                    if self.verdict(key, audio, at).accepted:
                        fired.append((index, False))
                    else:
                        second_chance_until = index + refractory_frames
                        quiet_until, awaiting_fall = at + 1, True  # the detector is rearmed
                    break
            if fired and fired[-1][0] == index:
                second_chance_until = -1  # listening now: the pipeline ignores the wake word
            index = at + 1
        return fired

    def misses(self, key: int) -> list[str]:
        return [v.text for (k, _i), v in self._verdicts.items() if k == key and not v.accepted]

    def texts(self, key: int) -> list[str]:
        return [v.text for (k, _i), v in self._verdicts.items() if k == key]


def score_stream(detector: WakeWordDetector, audio: np.ndarray) -> np.ndarray:
    """Per-frame wake-word score of audio, from a fresh detector state."""
    detector.reset()
    out = []
    for frame in frames(audio):
        detector.process(frame)
        out.append(max(detector.last_scores.values()))
    return np.array(out)


def wake_clips(held_out: bool = False, phrase: str = WAKE_PHRASE) -> list[tuple[str, np.ndarray]]:
    """The wake phrase's clips: the tuning set, or the held-out one."""
    voices, styles = (HELD_OUT_ESPEAK_VOICES, HELD_OUT_ESPEAK_STYLES) if held_out else (ESPEAK_VOICES, ESPEAK_STYLES)
    clips = []
    for voice in voices:
        for wpm, pitch in styles:
            clips.append((f"espeak {voice} {wpm}wpm p{pitch}", espeak(phrase, voice, wpm, pitch)))
    for length, cents, noise_scale in HELD_OUT_PIPER_STYLES if held_out else PIPER_STYLES:
        clips.append((f"piper x{1 / length:.2f} {cents:+d}c n{noise_scale}",
                      pitch_shift(piper(phrase, length, noise_scale), cents)))
    return clips


def negative_stream(minutes: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Non-wake speech (at least `minutes`) with room noise under it, then noise and music; and the speech seconds."""
    pieces: list[np.ndarray] = []
    speech_samples = 0
    target = minutes * 60 * 16000
    piper_text = "\n".join(SENTENCES)
    for length in (0.9, 1.15):  # Piper reads all sentences in one go; about 4 minutes each
        spoken = piper(piper_text, length, 0.667)
        pieces.append(spoken)
        speech_samples += len(spoken)
    voice_index = 0
    while speech_samples < target:
        voice = NEGATIVE_VOICES[voice_index % len(NEGATIVE_VOICES)]
        wpm = int(rng.integers(140, 210))
        pitch = int(rng.integers(25, 80))
        for sentence in SENTENCES:
            spoken = espeak(sentence, voice, wpm, pitch)
            pieces.append(spoken)
            pieces.append(np.zeros(int(rng.uniform(0.2, 1.2) * 16000), np.int16))
            speech_samples += len(spoken)
        voice_index += 1
    speech = np.concatenate(pieces)
    room = noise("pinknoise", len(speech) / 16000 + 1)
    speech = mix_at_snr(speech, room[: len(speech)], ROOM_SNR_DB)
    extra = [music(NOISE_MUSIC_S / 2 / 4, seed=s) for s in range(4)]
    extra += [noise(kind, NOISE_MUSIC_S / 2 / 3) * 0.3 for kind in NOISES]
    extra = [e.astype(np.int16) for e in extra]
    return np.concatenate([speech, *extra]), speech_samples / 16000


def idle_live(detector: WakeWordDetector, vad) -> float:
    """CPU share of one core for wake word + VAD fed 80 ms frames at live pace (this thread only)."""
    room = noise("pinknoise", IDLE_LIVE_S + 1)
    room = (room.astype(np.float64) * 0.02).astype(np.int16)
    frame_list = list(frames(room))[: int(IDLE_LIVE_S / FRAME_S)]
    detector.reset()
    started = time.monotonic()
    cpu_start = time.thread_time()
    for index, frame in enumerate(frame_list):
        time.sleep(max(0.0, started + index * FRAME_S - time.monotonic()))
        detector.process(frame)
        vad.speech_probability(frame)
    return (time.thread_time() - cpu_start) / (time.monotonic() - started)


def idle_service() -> tuple[float, float]:
    """CPU share and RSS of the real listener process with a silent live microphone (null input)."""
    from services.broker import PrivateBroker

    with PrivateBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(f'[general]\nstate_dir = "{tmp}"\n[audio]\ninput = "null"\n')
        env = {**os.environ, "SAMANTHA_CONFIG": str(config),
               "SAMANTHA_OVERRIDES": json.dumps({"bus": {"host": "127.0.0.1", "port": broker.port}})}
        process = subprocess.Popen([sys.executable, "-m", "services.listener"], env=env,
                                   stderr=subprocess.DEVNULL)
        try:
            time.sleep(8.0)  # models loaded, capture running
            cpu0, wall0 = cpu_seconds(process.pid), time.monotonic()
            time.sleep(IDLE_SERVICE_S)
            share = (cpu_seconds(process.pid) - cpu0) / (time.monotonic() - wall0)
            return share, rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threshold", type=float, default=None, help="threshold to report (default: settings')")
    parser.add_argument("--minutes", type=float, default=30.0, help="minutes of non-wake speech (>= 30 for the figure)")
    parser.add_argument("--seed", type=int, default=1, help="noise offsets, voices' speed and pitch of the other speech")
    parser.add_argument("--held-out", action="store_true",
                        help="the held-out wake clips (other voices, speeds, pitches, noise); use with --seed 2")
    parser.add_argument("--wake-word", choices=KNOWN_WAKE_WORDS, default="hey_jarvis",
                        help="the wake word to hear (the other speech is the same for every one)")
    args = parser.parse_args()
    from services.listener.settings import ListenerSettings
    from services.listener.vad import VoiceActivityDetector

    settings = ListenerSettings()
    threshold = args.threshold if args.threshold is not None else settings.threshold
    rng = np.random.default_rng(args.seed)
    began = time.monotonic()
    detector = WakeWordDetector([args.wake_word], threshold=2.0)  # scores only; the rule is applied below
    vad = VoiceActivityDetector()

    print(f"# Wake word: {args.wake_word} (openWakeWord 0.5.1, ONNX); reporting threshold {threshold}; "
          f"{'held-out' if args.held_out else 'tuning'} clips, seed {args.seed}")
    print("Machine: %d cores, load average %.1f %.1f %.1f at the start (other work skews the timings)"
          % (os.cpu_count(), *os.getloadavg()))
    clips = wake_clips(args.held_out, wake_phrase(args.wake_word))
    # The held-out clips hear another stretch of the same (repeatable) noise.
    backgrounds = {kind: noise(kind, 20.0)[16000 * 10:] if args.held_out else noise(kind, 10.0) for kind in NOISES}
    conditions = ("clean", *NOISES)
    peaks: dict[str, list[float]] = {c: [] for c in conditions}
    counts: dict[str, list[int]] = {c: [] for c in conditions}
    misses: list[str] = []
    recorded: list[tuple[int, str, str, np.ndarray, np.ndarray]] = []  # key, clip, condition, audio, scores
    for name, clip in clips:
        for condition in conditions:
            lead, tail = int(LEAD_S * 16000), int(TAIL_S * 16000)
            if condition == "clean":
                audio = np.concatenate([np.zeros(lead, np.int16), clip, np.zeros(tail, np.int16)])
            else:
                start = int(rng.integers(0, 16000 * 10 - len(clip) - lead - tail))
                audio = mix_at_snr(clip, backgrounds[condition][start:start + lead + len(clip) + tail], SNR_DB, lead)
            scores = score_stream(detector, audio)
            recorded.append((len(recorded), name, condition, audio, scores))
            peaks[condition].append(float(scores.max()))
            counts[condition].append(len(detections(scores, threshold)))
            if counts[condition][-1] == 0:
                misses.append(f"{name} / {condition} (peak {scores.max():.2f})")
    total = len(clips)
    n_espeak = len(ESPEAK_VOICES) * len(ESPEAK_STYLES)
    print(f"\n## Detection: {total} clips ({n_espeak} espeak-ng, {total - n_espeak} Piper), noise at {SNR_DB:g} dB SNR")
    print("| condition | detected | espeak-ng | Piper | more than one detection |")
    print("|---|---|---|---|---|")
    noisy_hits = noisy_total = 0
    for condition in conditions:
        hit = [c > 0 for c in counts[condition]]
        espeak_hits, piper_hits = sum(hit[:n_espeak]), sum(hit[n_espeak:])
        if condition != "clean":
            noisy_hits += sum(hit)
            noisy_total += len(hit)
        print(f"| {condition} | {sum(hit)}/{total} = {100 * sum(hit) / total:.1f} % | {espeak_hits}/{n_espeak} | "
              f"{piper_hits}/{total - n_espeak} | {sum(c > 1 for c in counts[condition])} |")
    print(f"| all noisy | {noisy_hits}/{noisy_total} = {100 * noisy_hits / noisy_total:.1f} % | | | |")
    if misses:
        print("Missed: " + "; ".join(misses))

    print(f"\n## False accepts: synthesizing >= {args.minutes:g} min of other speech ...", flush=True)
    stream, speech_s = negative_stream(args.minutes, rng)
    started = time.monotonic()
    negative_scores = score_stream(detector, stream)
    wake_s = time.monotonic() - started
    stream_s = len(stream) / 16000
    fired = detections(negative_scores, threshold)
    print(f"{stream_s / 60:.1f} min in all: {speech_s / 60:.1f} min of speech ({len(SENTENCES)} sentences, "
          f"{len(NEGATIVE_VOICES)} espeak-ng voices + Piper) and {NOISE_MUSIC_S / 60:.0f} min of noise and music")
    print(f"False accepts at threshold {threshold}: {len(fired)}"
          + (" at " + ", ".join(f"{i * FRAME_S / 60:.1f} min" for i in fired) if fired else ""))

    print("\n## Threshold sweep (same recordings)")
    print("| threshold | detected, noisy clips | detected, clean | false accepts / stream |")
    print("|---|---|---|---|")
    for t in THRESHOLDS:
        noisy = sum(p >= t for c in NOISES for p in peaks[c])
        clean = sum(p >= t for p in peaks["clean"])
        print(f"| {t:.1f} | {100 * noisy / noisy_total:.1f} % | {100 * clean / total:.1f} % | "
              f"{len(detections(negative_scores, t))} in {stream_s / 60:.0f} min |")

    from services.listener.stt import WhisperSpeechToText

    stt = WhisperSpeechToText()
    stt.warm_up()
    run = VerifierRun(WakeVerifier(stt), args.wake_word)
    negative_key = -1
    print(f"\n## Verifier: Whisper tiny.en on the last {VERIFY_WINDOW_S:g} s once the score has stopped rising for "
          f"{VERIFY_SETTLE_S:g} s (at most {VERIFY_AFTER_MAX_S:g} s after the candidate)")
    print("verify = every candidate is verified; direct = a score >= threshold passes without verification "
          "(before the verifier is asked, or after it rejected), lower candidates are verified")
    print("| candidate threshold | policy | clean | white | pink | brown | all noisy | espeak-ng noisy | "
          "Piper noisy | false accepts / stream | more than one detection |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    configured = (settings.wake_candidate_threshold, "direct" if settings.wake_direct_pass else "verify")
    headline = ""
    for candidate in sorted({*CANDIDATE_THRESHOLDS, configured[0]}):
        for policy in ("verify", "direct"):
            hits = {c: [] for c in conditions}
            multiple = 0
            missed = []
            for key, name, condition, audio, scores in recorded:
                fired = run.accepted(key, audio, scores, candidate, threshold, policy == "direct")
                hits[condition].append(bool(fired))
                multiple += len(fired) > 1
                if not fired:
                    missed.append(f"{name} / {condition}")
            false = run.accepted(negative_key, stream, negative_scores, candidate, threshold, policy == "direct")
            noisy = [h for c in NOISES for h in hits[c]]
            noisy_espeak = sum(sum(hits[c][:n_espeak]) for c in NOISES)
            noisy_piper = sum(sum(hits[c][n_espeak:]) for c in NOISES)
            cells = " | ".join(f"{100 * sum(hits[c]) / total:.1f} %" for c in conditions)
            print(f"| {candidate:.2f} | {policy} | {cells} | {100 * sum(noisy) / len(noisy):.1f} % | "
                  f"{noisy_espeak}/{3 * n_espeak} | {noisy_piper}/{3 * (total - n_espeak)} | "
                  f"{len(false)} in {stream_s / 60:.0f} min"
                  + (" (" + ", ".join(f"{i * FRAME_S / 60:.1f} min" for i, _direct in false) + ")" if false else "")
                  + f" | {multiple} |")
            if (candidate, policy) == configured:
                headline = (f"noisy detection {sum(noisy)}/{len(noisy)} = {100 * sum(noisy) / len(noisy):.1f} % "
                            f"(espeak-ng {noisy_espeak}/{3 * n_espeak}, Piper {noisy_piper}/{3 * (total - n_espeak)}), "
                            f"clean {sum(hits['clean'])}/{total}; false accepts {len(false)} in {stream_s / 60:.1f} min "
                            f"({speech_s / 60:.1f} min of speech); more than one detection {multiple}"
                            + ("\nMissed: " + "; ".join(missed) if missed else ""))
    # The score that passes without the verifier is the trade between a quick wake and openWakeWord's
    # confident mistakes: the higher it is, the more wakes wait for Whisper's verdict (the time below).
    print(f"\n## The score that passes without verification (candidates at {configured[0]:g}, the rest verified)")
    print("| passes directly at | clean | all noisy | false accepts / stream | wakes that waited for the verifier |")
    print("|---|---|---|---|---|")
    for direct_score in DIRECT_PASS_SCORES:
        fired = {c: [run.accepted(key, audio, scores, configured[0], direct_score, True)
                     for key, _name, cond, audio, scores in recorded if cond == c] for c in conditions}
        noisy = [f for c in NOISES for f in fired[c]]
        wakes = [f[0] for c in conditions for f in fired[c] if f]
        waited = sum(not passed_directly for _index, passed_directly in wakes)
        false = run.accepted(negative_key, stream, negative_scores, configured[0], direct_score, True)
        print(f"| {direct_score:.2f} | {100 * sum(map(bool, fired['clean'])) / total:.1f} % | "
              f"{100 * sum(map(bool, noisy)) / len(noisy):.1f} % | {len(false)} in {stream_s / 60:.0f} min | "
              f"{waited}/{len(wakes)} |")
    rejected = [f"{name} / {condition}: {text!r}" for key, name, condition, _a, _s in recorded
                if condition != "clean" for text in run.misses(key)]
    print(f"Wake clips in noise the verifier rejected ({len(rejected)} candidates): " + "; ".join(rejected))
    texts = run.texts(negative_key)
    print(f"Verifier on the non-wake stream: {len(texts)} candidates at <= {max(CANDIDATE_THRESHOLDS)}, heard as: "
          + "; ".join(repr(t) for t in texts))
    seconds = np.array(run.seconds)
    print(f"Verification time (this machine, {len(seconds)} runs): median {1000 * np.median(seconds):.0f} ms, "
          f"p95 {1000 * np.percentile(seconds, 95):.0f} ms")
    stt.close()
    print(f"\n## The listener as configured: candidates at {configured[0]:g}, verified by Whisper, "
          f"{'a score >= ' + format(threshold, 'g') + ' passes directly' if configured[1] == 'direct' else 'all verified'}")
    print(headline)

    print("\n## Speed")
    sample = stream[: 16000 * 120]
    vad.reset()
    started = time.monotonic()
    for frame in frames(sample):
        vad.speech_probability(frame)
    vad_s = time.monotonic() - started
    print(f"Real-time factor, wake word: {wake_s / stream_s:.4f} ({stream_s / wake_s:.0f}x faster than real time)")
    print(f"Real-time factor, wake word + VAD: {wake_s / stream_s + vad_s / (len(sample) / 16000):.4f}")
    live = idle_live(detector, vad)
    print(f"CPU, wake word + VAD on live-paced frames: {100 * live:.1f} % of one core")
    share, service_rss = idle_service()
    print(f"CPU, idle listener service (silent live microphone, whole process): {100 * share:.1f} % of one core; "
          f"RSS {service_rss:.0f} MB")
    print(f"RSS of this benchmark (detector, VAD, audio): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"\nBenchmark time: {time.monotonic() - began:.0f} s; load average at the end %.1f" % os.getloadavg()[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
