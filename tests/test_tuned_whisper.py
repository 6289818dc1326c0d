"""The tuned Whisper: built on the device from tiny.en and the tuned decoder, and what the listener hears with."""

from __future__ import annotations

import filecmp

import numpy as np
import pytest

from services.listener import tuned_whisper
from services.listener.stt import default_whisper_model, plain_whisper_model


def test_the_model_file_is_read_and_written_back_byte_for_byte(tmp_path):
    base = plain_whisper_model() / "model.bin"
    header, variables, aliases = tuned_whisper.read_ct2(base)
    assert variables["decoder/embeddings/weight"].shape == (51864, 384)
    tuned_whisper.write_ct2(tmp_path / "model.bin", header, variables, aliases)
    assert filecmp.cmp(base, tmp_path / "model.bin", shallow=False)


def test_a_fresh_build_is_the_model_the_manifest_names(tmp_path, monkeypatch):
    monkeypatch.setattr(tuned_whisper, "TUNED_DIR", tmp_path / "tuned")
    assert not tuned_whisper.is_built()
    folder = tuned_whisper.build()
    assert tuned_whisper.is_built()
    assert {p.name for p in folder.iterdir()} == {"model.bin", *tuned_whisper.COPIED_FILES}
    # Only the decoder was tuned: the encoder is tiny.en's own.
    _, built, _ = tuned_whisper.read_ct2(folder / "model.bin")
    _, plain, _ = tuned_whisper.read_ct2(plain_whisper_model() / "model.bin")
    assert np.array_equal(built["encoder/layer_0/self_attention/linear_0/weight"],
                          plain["encoder/layer_0/self_attention/linear_0/weight"])
    assert not np.array_equal(built["decoder/layer_0/ffn/linear_0/weight"], plain["decoder/layer_0/ffn/linear_0/weight"])


def test_another_base_model_is_refused_with_the_reason_and_nothing_half_written(tmp_path, monkeypatch):
    base = tmp_path / "other"
    base.mkdir()
    header, variables, aliases = tuned_whisper.read_ct2(plain_whisper_model() / "model.bin")
    variables = dict(variables, **{"encoder/conv1/bias": np.zeros(384, np.float16)})
    tuned_whisper.write_ct2(base / "model.bin", header, variables, aliases)
    monkeypatch.setattr(tuned_whisper, "TUNED_DIR", tmp_path / "tuned")
    with pytest.raises(tuned_whisper.TunedWhisperError, match="differs from models/manifest.toml"):
        tuned_whisper.build(base)
    assert not (tmp_path / "tuned" / "model.bin").exists()


def test_the_listener_hears_with_the_tuned_model_once_setup_built_it():
    assert tuned_whisper.is_built(), "script/setup builds it"
    assert default_whisper_model() == tuned_whisper.TUNED_DIR
