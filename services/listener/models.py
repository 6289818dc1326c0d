"""`samantha models`: speech models that are not in any package and must be downloaded once.

    samantha models pull vosk-en      download the small English Vosk model (~40 MB), check its
                                      sha256, unpack it into <state_dir>/models/
    samantha models list              what is installed where

Nothing is ever downloaded at run time: the listener only uses what this command installed.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
DOWNLOAD_TIMEOUT_S = 30
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class DownloadableModel:
    """A model archive: where it comes from, its checksum, and the folder it unpacks to."""

    name: str
    url: str
    sha256: str
    folder: str
    description: str


VOSK_EN = DownloadableModel(
    name="vosk-en",
    url="https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip",
    sha256="30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498",
    folder="vosk-model-small-en-us-0.15",
    description="small US English Vosk model (Apache-2.0, ~40 MB)",
)
MODELS = {m.name: m for m in (VOSK_EN,)}


class ModelDownloadError(RuntimeError):
    """A download that failed or did not match its checksum."""


def models_dir(state_dir: Path) -> Path:
    return state_dir / "models"


def download(model: DownloadableModel, dest_dir: Path, url: str | None = None) -> Path:
    """Download, verify and unpack a model into dest_dir; the unpacked folder."""
    url = url or model.url
    target = dest_dir / model.folder
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".download-") as tmp:
        archive = Path(tmp) / "model.zip"
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, archive.open("wb") as out:
                while chunk := response.read(CHUNK_BYTES):
                    digest.update(chunk)
                    out.write(chunk)
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            raise ModelDownloadError(
                f"cannot download {model.name} from {url}: {reason}. This needs internet; on a machine "
                f"without it, copy the unpacked {model.folder} folder to {target}") from None
        if digest.hexdigest() != model.sha256:
            raise ModelDownloadError(
                f"{model.name}: the download's sha256 is {digest.hexdigest()}, expected {model.sha256}; "
                "nothing was installed")
        unpacked = Path(tmp) / "unpacked"
        try:
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(unpacked)
        except zipfile.BadZipFile as err:
            raise ModelDownloadError(f"{model.name}: the archive is damaged ({err})") from None
        source = unpacked / model.folder
        if not source.is_dir():
            raise ModelDownloadError(f"{model.name}: the archive has no {model.folder} folder")
        if target.exists():
            shutil.rmtree(target)
        source.rename(target)  # same file system (tmp is inside dest_dir): the model appears at once
    return target


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samantha models", description="Speech models that must be downloaded once")
    parser.add_argument("--config", help="settings file (for the state folder)")
    commands = parser.add_subparsers(dest="command", required=True)
    pull = commands.add_parser("pull", help="download, verify and install a model")
    pull.add_argument("name", choices=sorted(MODELS), help="which model")
    pull.add_argument("--dest", help="folder to install into (default <state_dir>/models)")
    pull.add_argument("--url", help="download from this address instead (a mirror)")
    commands.add_parser("list", help="which models are installed")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    from ..config import ConfigError
    from ..settings import load_settings

    try:
        settings = load_settings(args.config)
    except ConfigError as err:
        print(f"samantha models: bad settings: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "list":
        for model in MODELS.values():
            path = models_dir(settings.state_dir) / model.folder
            status = f"installed in {path}" if path.is_dir() else "not installed"
            print(f"{model.name}: {model.description}: {status}")
        return EXIT_OK
    model = MODELS[args.name]
    dest = Path(args.dest) if args.dest else models_dir(settings.state_dir)
    print(f"Downloading {model.description} ...", file=sys.stderr)
    try:
        path = download(model, dest, args.url)
    except (ModelDownloadError, OSError) as err:
        print(f"samantha models pull {model.name}: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Installed {model.name} in {path}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
