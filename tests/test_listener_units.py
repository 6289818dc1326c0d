"""The listener's parts on their own: endpointing, vocabulary, WAV decoding, the wake-word detector."""

from __future__ import annotations

import io
import subprocess
import sys
import wave

import numpy as np
import pytest

from services.listener.audio_file import AudioFileError, decode_wav, frames
from services.listener.vad import Endpoint, Endpointer, EndpointerSettings, VoiceActivityDetector
from services.listener.vocabulary import Vocabulary, read_phrases, whisper_prompt
from services.listener.verify import without_steady_noise
from services.listener.wake import REFRACTORY_S, WakeWordDetector, WakeWordError
from tests.test_listener_support import background, silence, speech

FRAME_S = 0.08


def run_endpointer(pattern: str, **settings) -> tuple[Endpoint | None, float, Endpointer]:
    """Feed a pattern of frames ('s' speech, '.' silence); the endpoint, when it came, and the state."""
    endpointer = Endpointer(EndpointerSettings(**settings), FRAME_S)
    for index, frame in enumerate(pattern):
        result = endpointer.update(0.9 if frame == "s" else 0.1)
        if result is not None:
            return result, round((index + 1) * FRAME_S, 2), endpointer
    return None, round(len(pattern) * FRAME_S, 2), endpointer


def test_request_ends_after_the_trailing_silence():
    result, at, endpointer = run_endpointer("...ssssss.s......." + "." * 10, trailing_silence_s=0.48)
    assert result is Endpoint.SPEECH_END
    assert at == pytest.approx((3 + 8 + 6) * FRAME_S)  # the short gap inside the speech did not end it
    assert endpointer.speech_started_s == pytest.approx(3 * FRAME_S)
    assert endpointer.last_speech_s == pytest.approx(11 * FRAME_S)


def test_a_single_click_is_not_speech_and_silence_times_out():
    result, at, _ = run_endpointer(".s" + "." * 100, no_speech_timeout_s=2.0)
    assert result is Endpoint.NO_SPEECH and at == pytest.approx(2.0)


def test_endless_speech_is_cut_at_the_maximum_length():
    result, at, _ = run_endpointer("s" * 200, max_utterance_s=3.0)
    assert result is Endpoint.MAX_LENGTH and at == pytest.approx(3.0, abs=FRAME_S)


def test_silero_vad_tells_speech_from_noise():
    vad = VoiceActivityDetector()
    noise = [vad.speech_probability(f) for f in frames(background(2.0, level=0.05))]
    vad.reset()
    spoken = [vad.speech_probability(f) for f in frames(speech("set a timer for five minutes"))]
    assert max(noise) < 0.5
    assert np.mean(np.array(spoken) > 0.5) > 0.6


def test_vocabulary_file_is_read_and_reread_when_it_changes(tmp_path):
    path = tmp_path / "vocabulary.txt"
    vocabulary = Vocabulary(path)
    assert vocabulary.phrases == []  # no file: free recognition
    path.write_text("# written by the dialogue service\nTurn off  the Kitchen light\n\nwhat time is it\n"
                    "what time is it\n", encoding="utf-8")
    assert vocabulary.refresh() is True
    assert vocabulary.phrases == ["turn off the kitchen light", "what time is it"]
    assert vocabulary.refresh() is False
    path.write_bytes(b"\xff\xfe not utf-8")
    vocabulary.refresh(force=True)
    assert vocabulary.phrases == []  # unreadable: logged, free recognition, no crash


def test_whisper_prompt_covers_many_words_in_little_space():
    phrases = [f"set a timer for {n} minutes" for n in range(1, 60)] + ["turn off the kitchen light", "stop"]
    prompt = whisper_prompt(phrases, max_chars=120)
    assert len(prompt) <= 120
    assert "kitchen light" in prompt and "stop" in prompt
    assert prompt.count("set a timer") < 10  # near-duplicates do not crowd out the rest
    assert read_phrases(__import__("pathlib").Path("/nonexistent/vocabulary.txt")) == []


def _wav_bytes(samples: np.ndarray, rate: int, channels: int, width: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def test_wav_decoding_takes_any_pcm_layout():
    t = np.arange(8000) / 8000
    tone = np.sin(2 * np.pi * 440 * t)
    eight_bit = _wav_bytes(np.round(tone * 100 + 128).astype(np.uint8), 8000, 1, 1)
    decoded = decode_wav(eight_bit, "tone.wav")
    assert len(decoded) == 16000  # 1 s at 8 kHz became 1 s at 16 kHz
    assert 0.7 < np.abs(decoded.astype(float)).max() / 32768 * 128 / 100 < 1.1
    stereo = np.stack([np.round(tone * 10000), np.zeros_like(tone)], axis=1).astype("<i2")
    assert np.abs(decode_wav(_wav_bytes(stereo, 8000, 2, 2), "s.wav")).max() == pytest.approx(5000, rel=0.05)


def test_streamed_wav_of_unknown_length_is_accepted():
    data = bytearray(_wav_bytes(np.zeros(1600, "<i2"), 16000, 1, 2))
    data[40:44] = (0xFFFFFFFF).to_bytes(4, "little")  # what sox writes to a pipe
    data[4:8] = (0xFFFFFFFF).to_bytes(4, "little")
    assert len(decode_wav(bytes(data), "stdin")) == 1600
    piped = subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", "-t", "wav", "-", "trim", "0", "0.5"],
                           capture_output=True, check=True).stdout
    assert len(decode_wav(piped, "stdin")) == 8000
    with pytest.raises(AudioFileError, match="not a WAV"):
        decode_wav(b"ID3\x03 an mp3", "song.mp3")


@pytest.fixture(scope="module")
def detector():
    return WakeWordDetector(["hey_jarvis"], threshold=0.5)


def detections(detector: WakeWordDetector, audio: np.ndarray):
    detector.reset()
    return [d for d in (detector.process(f) for f in frames(audio)) if d is not None]


def test_one_spoken_wake_word_is_one_detection(detector):
    heard = detections(detector, np.concatenate([background(1.5), speech("hey jarvis", "en-gb+m3"), silence(3.0)]))
    assert len(heard) == 1 and heard[0].wake_word == "hey_jarvis"
    assert 1.5 < heard[0].at_s < 3.0


def test_twice_is_two_detections_and_other_speech_none(detector):
    twice = np.concatenate([silence(1.0), speech("hey jarvis", "piper"), silence(2.5), speech("hey jarvis", "piper"),
                            silence(2.0)])
    assert len(detections(detector, twice)) == 2
    other = np.concatenate([silence(1.0), speech("hey, is it going to rain tomorrow in paris?"), silence(1.0)])
    assert detections(detector, other) == []


def test_a_rejected_candidate_does_not_hide_the_wake_word_said_right_after_it(detector):
    """"Hey Travis" scores as a candidate (about 0.3 at a verifier's 0.2); once the verifier has rejected
    it (rearm), "hey jarvis" 0.2 s later is a candidate, where the refractory period would hide it."""
    travis = speech("hey travis")
    audio = np.concatenate([background(1.0), travis, silence(0.2), speech("hey jarvis", "en-gb+m3"), silence(1.5)])
    jarvis_at_s = 1.0 + len(travis) / 16000 + 0.2

    def candidates(rearm: bool) -> list[float]:
        detector.reset()
        heard = []
        for frame in frames(audio):
            if (found := detector.process(frame, threshold=0.2, keep_history=True)) is not None:
                heard.append(found.at_s)
                if rearm and found.at_s < jarvis_at_s:
                    detector.rearm()  # what the pipeline does when the verifier rejects "hey travis"
        return heard

    unarmed = candidates(rearm=False)
    assert unarmed and unarmed[0] < jarvis_at_s
    assert [t for t in unarmed if jarvis_at_s < t < unarmed[0] + REFRACTORY_S] == []
    rearmed = candidates(rearm=True)
    assert rearmed[0] == unarmed[0]
    on_jarvis = [t for t in rearmed if t > jarvis_at_s]
    assert len(on_jarvis) == 1 and on_jarvis[0] < unarmed[0] + REFRACTORY_S, rearmed
    # A rearmed detector waits for the score to fall first: never two candidates on one rise.
    assert min(np.diff(rearmed)) > 0.1, rearmed


def test_steady_noise_is_taken_out_of_the_verifiers_second_hearing():
    """White noise 10 dB under "hey jarvis": where nobody speaks it drops by more than 10 dB, the words
    keep their level, and the result is closer to the clean words than the noisy input was."""
    words = speech("hey jarvis").astype(np.float64)
    clean = np.concatenate([np.zeros(16000), words, np.zeros(16000)])
    noise = np.random.default_rng(3).standard_normal(len(clean)) * np.sqrt(np.mean(words ** 2)) / 10 ** 0.5
    noisy = np.clip(clean + noise, -32768, 32767).astype(np.int16)
    quiet = without_steady_noise(noisy)

    def level_db(samples) -> float:
        return 10 * np.log10(np.mean(np.asarray(samples, np.float64) ** 2))

    assert quiet.dtype == np.int16 and len(quiet) == len(noisy)
    assert level_db(quiet[:16000]) < level_db(noisy[:16000]) - 10
    spoken = slice(16000, 16000 + len(words))
    assert abs(level_db(quiet[spoken]) - level_db(words)) < 1.5
    assert level_db(quiet - clean) < level_db(noisy - clean) - 6
    assert len(without_steady_noise(noisy[:100])) == 100 and len(without_steady_noise(noisy[:0])) == 0


def test_detector_refuses_unknown_wake_words(detector):
    with pytest.raises(WakeWordError, match="hey_siri"):
        detector.set_wake_words(["hey_siri"])
    assert detector.wake_words == ["hey_jarvis"]
    assert set(detector.available) == {"alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy"}


def test_wake_word_works_where_scikit_learn_is_missing():
    # On Python >= 3.12 openwakeword is installed without its dependencies (no scikit-learn);
    # the listener must not need it, and keeping it out saves ~90 MB of memory everywhere.
    code = (
        "import sys\n"
        "sys.modules['sklearn'] = None  # importing it now fails, as where it is not installed\n"
        "import numpy as np\n"
        "from services.listener.wake import WakeWordDetector\n"
        "from services.listener.vad import VoiceActivityDetector\n"
        "detector = WakeWordDetector(['hey_jarvis', 'alexa'])\n"
        "VoiceActivityDetector().speech_probability(np.zeros(1280, np.int16))\n"
        "print(detector.process(np.zeros(1280, np.int16)), 'scipy' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["None", "False"]
