"""The frozen int8 sentence encoder (all-MiniLM-L6-v2), run with onnxruntime, and its cache."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

_LOGGER = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parents[3] / "models"
ENCODER_DIR = MODELS_DIR / "minilm-l6-v2-int8"
EMBEDDING_DIM = 384
MAX_TOKENS = 64  # a spoken command is far shorter; longer text is cut, not refused
BATCH_SIZE = 64
# One thread: a command is ~10 word pieces (under a millisecond), and a second thread only adds
# hand-over cost when the listener and the other services keep the cores busy.
ENCODER_THREADS = 1


class SentenceEncoder:
    """Text -> L2-normalised 384-d sentence embedding.

    >>> encoder = SentenceEncoder()
    >>> encoder.encode(["turn off the kitchen lights"]).shape
    (1, 384)
    """

    def __init__(self, model_dir: Path = ENCODER_DIR) -> None:
        verify_manifest(model_dir)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        options = ort.SessionOptions()
        # No memory arena: it would keep the peak of the training batches (~55 MB) for good.
        options.enable_cpu_mem_arena = False
        options.intra_op_num_threads = ENCODER_THREADS
        options.inter_op_num_threads = 1
        # Idle worker threads must not spin: hassil's matching runs right after on the same cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(model_dir / "encoder.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def encode_one(self, text: str) -> np.ndarray:
        """One sentence, unpadded (the fast path for a live utterance)."""
        return self.encode_with_pieces(text)[0]

    def pieces(self, text: str) -> list[int]:
        """The word-piece ids of ``text`` (without [CLS]/[SEP])."""
        return self.tokenizer.encode(text).ids[1:-1]

    def encode_with_pieces(self, text: str) -> tuple[np.ndarray, list[int]]:
        """Embedding and word-piece ids of one sentence."""
        enc = self.tokenizer.encode(text)
        feeds = {
            "input_ids": np.asarray([enc.ids], dtype=np.int64),
            "attention_mask": np.asarray([enc.attention_mask], dtype=np.int64),
            "token_type_ids": np.asarray([enc.type_ids], dtype=np.int64),
        }
        return self.session.run(["sentence_embedding"], feeds)[0][0], enc.ids[1:-1]

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Many sentences, batched (shortest first, so that padding stays small)."""
        out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[i : i + BATCH_SIZE] for i in range(0, len(order), BATCH_SIZE)]
        from tqdm import tqdm  # a progress bar for training; serving never needs it

        for batch in tqdm(batches, desc="encoding sentences", unit="batch", disable=not progress):
            encs = self.tokenizer.encode_batch([texts[i] for i in batch])
            width = max(len(e.ids) for e in encs)
            ids = np.zeros((len(encs), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, enc in enumerate(encs):
                ids[row, : len(enc.ids)] = enc.ids
                mask[row, : len(enc.ids)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            out[batch] = self.session.run(["sentence_embedding"], feeds)[0]
        return out


class ModelFileError(RuntimeError):
    """A model file is missing or is not the one models/manifest.toml names."""


_verified: set[Path] = set()


def verify_manifest(model_dir: Path) -> None:
    """Check the encoder files against the sha256 in models/manifest.toml (once per process)."""
    import tomllib

    manifest = model_dir.parent / "manifest.toml"
    if model_dir in _verified or not manifest.exists():
        return
    for entry in tomllib.loads(manifest.read_text(encoding="utf-8")).get("file", []):
        path = manifest.parent / entry["path"]
        if path.parent != model_dir:
            continue
        if not path.exists():
            raise ModelFileError(f"{path}: missing (see models/build_encoder.py)")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != entry["sha256"]:
            raise ModelFileError(f"{path}: sha256 {digest} differs from models/manifest.toml")
    _verified.add(model_dir)


def sentence_key(text: str) -> str:
    """Cache key of a sentence (and of the encoder, so a new encoder never reuses old vectors)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


class EmbeddingCache:
    """Embeddings of template sentences on disk, keyed by sentence hash, so retraining is fast."""

    def __init__(self, path: Path, encoder_tag: str) -> None:
        self.path = path
        self.encoder_tag = encoder_tag
        self._vectors: dict[str, np.ndarray] = {}
        self._dirty = False
        if path.exists():
            try:
                with np.load(path, allow_pickle=False) as data:
                    if str(data["tag"]) == encoder_tag:
                        self._vectors = dict(zip(data["keys"].tolist(), data["vectors"]))
            except (OSError, ValueError, KeyError) as err:
                _LOGGER.warning("Ignoring unreadable embedding cache %s: %s", path, err)

    def embed(self, encoder: SentenceEncoder, texts: Iterable[str], progress: bool = True) -> np.ndarray:
        """Embeddings for ``texts``, encoding only the ones not cached yet."""
        texts = list(texts)
        keys = [sentence_key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self._vectors}.items())
        if missing:
            vectors = encoder.encode([t for _, t in missing], progress=progress)
            for (key, _), vector in zip(missing, vectors):
                self._vectors[key] = vector.astype(np.float16)
            self._dirty = True
        return np.stack([self._vectors[k].astype(np.float32) for k in keys]) if keys else np.zeros(
            (0, EMBEDDING_DIM), np.float32
        )

    def save(self) -> None:
        """Write atomically (a crash mid-write leaves the old cache)."""
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors), dtype="U20")
        vectors = np.stack(list(self._vectors.values())) if self._vectors else np.zeros((0, EMBEDDING_DIM), np.float16)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz")
        os.close(fd)
        np.savez(tmp, keys=keys, vectors=vectors, tag=np.array(self.encoder_tag))
        os.replace(tmp, self.path)
        self._dirty = False
