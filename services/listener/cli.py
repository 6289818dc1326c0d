"""`samantha hear FILE.wav ...`: the listening pipeline on files, one JSON line per event.

    samantha hear request.wav                 wake word, then the request after it
    samantha hear --no-wake dictation.wav     transcribe everything said, request by request
    sox in.flac -t wav - | samantha hear -    WAV on stdin
    samantha hear --stt vosk --vosk-model DIR --phrases phrases.txt korean.wav

Lines (times in seconds from the start of the file):

    {"event": "wake", "file": "a.wav", "wake_word": "hey_jarvis", "score": 0.98, "time_s": 2.72}
    {"event": "listening_started", "file": "a.wav", "source": "wake", "time_s": 2.72}
    {"event": "listening_ended", "file": "a.wav", "reason": "speech_end", "time_s": 5.36}
    {"event": "transcript", "file": "a.wav", "text": "set a timer for five minutes", "confidence": 0.83,
     "backend": "whisper", "speech_start_s": 3.04, "speech_end_s": 4.72, "endpoint_s": 5.36,
     "final_pass_ms": 12.5, "alternatives": ["set a timer for 5 minutes"]}

Any WAV is accepted (resampled to 16 kHz mono). A file that is not usable audio gives one error line
on stderr and exit code 2, before anything is heard.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

from .audio_file import AudioFileError, frames, read_audio

EXIT_OK = 0
EXIT_BAD_INPUT = 2
FRAME_S = 0.08


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="samantha hear", description="Run Samantha's listening pipeline on WAV files (JSON lines out)")
    parser.add_argument("files", nargs="+", metavar="FILE", help="WAV files; - reads one from stdin")
    parser.add_argument("--config", help="settings file (wake words, threshold, end-of-speech timings)")
    parser.add_argument("--stt", choices=["auto", "whisper", "vosk"], help="speech-to-text backend")
    parser.add_argument("--vosk-model", metavar="DIR", help="Vosk model folder")
    parser.add_argument("--no-wake", action="store_true", help="no wake word: transcribe everything said")
    parser.add_argument("--wake-word", action="append", dest="wake_words", metavar="NAME",
                        help="wake word to listen for (repeatable; default from settings)")
    parser.add_argument("--threshold", type=float, help="wake-word threshold (default from settings)")
    parser.add_argument("--no-verify", action="store_true",
                        help="take openWakeWord's detections without Whisper's confirmation (wake_verify = false)")
    parser.add_argument("--phrases", metavar="FILE",
                        help="vocabulary, one phrase per line (default <state_dir>/vocabulary.txt if present)")
    parser.add_argument("--free", action="store_true", help="Vosk: free recognition, no grammar from the phrases")
    parser.add_argument("--partials", action="store_true", help="also print partial transcripts")
    parser.add_argument("--realtime", action="store_true", help="feed audio at live speed (for timings)")
    return parser


class _Printer:
    """JSON lines to stdout, from the main and the speech-to-text thread alike."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, **fields) -> None:
        line = json.dumps(fields, ensure_ascii=False)
        with self._lock:
            print(line, flush=True)


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    from ..config import ConfigError
    from ..settings import load_settings

    try:
        settings = load_settings(args.config)
    except ConfigError as err:
        print(f"samantha hear: bad settings: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.files.count("-") > 1:
        print("samantha hear: stdin (-) can be read only once", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        audio = [(name, read_audio(name)) for name in args.files]
    except AudioFileError as err:
        print(f"samantha hear: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT

    from services.command_grammar import GRAMMAR_FILE, read_grammar

    from .pipeline import ListeningPipeline
    from .stt import SpeechToTextError, load_speech_to_text
    from .vad import EndpointerSettings, VoiceActivityDetector
    from .vocabulary import VOCABULARY_FILE, read_phrases
    from .verify import wake_verifier
    from .wake import WakeWordDetector, WakeWordError

    listener = settings.listener
    try:
        stt = load_speech_to_text(args.stt or listener.stt, settings.state_dir,
                                  args.vosk_model or listener.vosk_model, listener.whisper_model,
                                  listener.vosk_grammar and not args.free)
        wake = None if args.no_wake else WakeWordDetector(
            args.wake_words or listener.wake_words,
            args.threshold if args.threshold is not None else listener.threshold)
    except (SpeechToTextError, WakeWordError) as err:
        print(f"samantha hear: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    stt.set_phrases(read_phrases(Path(args.phrases) if args.phrases else settings.state_dir / VOCABULARY_FILE))
    if not args.phrases:
        stt.set_command_grammar(read_grammar(settings.state_dir / GRAMMAR_FILE))
    stt.warm_up()  # so that the first file's timings are like the others'
    endpoints = EndpointerSettings(listener.trailing_silence_s, listener.max_utterance_s,
                                   listener.no_speech_timeout_s, listener.speech_threshold)
    emit = _Printer()
    vad = VoiceActivityDetector()
    current = {"file": ""}

    def on_partial(text: str) -> None:
        if args.partials:
            emit(event="partial", file=current["file"], text=text)

    try:
        for name, samples in audio:
            current["file"] = name
            if wake is not None:
                wake.reset()
            pipeline = ListeningPipeline(wake, vad, stt, endpoints, on_partial,
                                         verifier=wake_verifier(stt, listener.wake_verify and not args.no_verify),
                                         candidate_threshold=listener.wake_candidate_threshold,
                                         direct_pass=listener.wake_direct_pass)
            _hear(pipeline, samples, name, emit, continuous=args.no_wake, realtime=args.realtime)
    finally:
        stt.close()
    return EXIT_OK


def _hear(pipeline, samples, name: str, emit: _Printer, continuous: bool, realtime: bool) -> None:
    """Run one file through the pipeline, printing its events."""
    from .pipeline import ListeningBegan, ListeningStopped, WakeWordHeard

    def report(event, restart: bool = True) -> None:
        if isinstance(event, WakeWordHeard):
            emit(event="wake", file=name, wake_word=event.wake_word, score=_round(event.score), time_s=_round(event.at_s))
        elif isinstance(event, ListeningBegan) and not continuous:
            emit(event="listening_started", file=name, source=event.source, time_s=_round(event.at_s))
        elif isinstance(event, ListeningStopped):
            if not continuous:
                emit(event="listening_ended", file=name, reason=event.reason, time_s=_round(event.at_s))
            if event.transcript is not None:
                transcript = event.transcript.result()
                emit(event="transcript", file=name, text=transcript.text, confidence=_round(transcript.confidence),
                     backend=transcript.backend, speech_start_s=_round(event.speech_start_s),
                     speech_end_s=_round(event.speech_end_s), endpoint_s=_round(event.at_s),
                     final_pass_ms=_round(transcript.final_pass_s * 1000, 1),
                     alternatives=[reading.text for reading in transcript.alternatives])
            if continuous and restart:
                pipeline.listen_now("command")

    if continuous:
        pipeline.listen_now("command")
    started = time.monotonic()
    for index, frame in enumerate(frames(samples)):
        if realtime:
            time.sleep(max(0.0, started + index * FRAME_S - time.monotonic()))
        for event in pipeline.process(frame):
            report(event)
    for event in pipeline.settle_wake():
        report(event)
    stopped = pipeline.end_of_input()
    if stopped is not None and (stopped.transcript is not None or not continuous):
        report(stopped, restart=False)


if __name__ == "__main__":
    sys.exit(main())
