"""The spoken bench's corpus is the same audio on every machine, so runs on different machines compare."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import spoken_corpus  # noqa: E402


def test_piper_says_a_sentence_the_same_whatever_came_before(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SAMANTHA_BENCH_CACHE", str(tmp_path))
    first = spoken_corpus.clean_speech("turn on the kitchen light", "piper-joe")
    spoken_corpus.clean_speech("set a timer for five minutes", "piper-joe")
    (tmp_path / "speech").rename(tmp_path / "first run")  # not cached: made again, after another sentence
    again = spoken_corpus.clean_speech("turn on the kitchen light", "piper-joe")
    assert np.array_equal(first, again)
