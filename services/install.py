"""`samantha install`: make this checkout Samantha's system installation (run as root on the Pi).

It creates the system user `samantha` (in the audio, gpio and spi groups where they exist), the state
folder /var/lib/samantha, /etc/samantha with a default config.toml and a sentences/ folder, installs
the unit files from systemd/ with this checkout's paths, and enables samantha.target.

    sudo .venv/bin/samantha install          # then: sudo systemctl start samantha.target

``--root DIR`` writes everything under DIR instead of / and touches no user or systemd, for tests
and for building an image.
"""

from __future__ import annotations

import argparse
import grp
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UNITS_DIR = REPO / "systemd"
UNIT_PLACEHOLDER_ROOT = "/opt/samantha"  # the path the unit files in the repo are written for
SERVICE_USER = "samantha"
SERVICE_GROUPS = ("audio", "gpio", "spi")

DEFAULT_CONFIG = """\
# Samantha's settings. Every key, its default and what it does: docs/settings.md
# (or `samantha settings`). After a change: sudo systemctl restart samantha.target

[listener]
# wake_words = ["hey_jarvis"]
# threshold = 0.5

[voice]
# volume = 70

[bridge]
# enabled = true
# host = "homeassistant.local"
# username = "samantha"
# password = "..."
"""


def render_unit(text: str, repo: Path, python: Path) -> str:
    """A unit file with this checkout's paths in place of /opt/samantha."""
    text = text.replace(f"{UNIT_PLACEHOLDER_ROOT}/.venv/bin/python", str(python))
    return text.replace(UNIT_PLACEHOLDER_ROOT, str(repo))


def install_units(root: Path, python: Path) -> list[Path]:
    target_dir = root / "etc/systemd/system"
    target_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for unit in sorted(UNITS_DIR.glob("samantha*")):
        destination = target_dir / unit.name
        destination.write_text(render_unit(unit.read_text(), REPO, python))
        written.append(destination)
    return written


def ensure_user() -> None:
    groups = [g for g in SERVICE_GROUPS if _group_exists(g)]
    try:
        import pwd

        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--home-dir", "/var/lib/samantha", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", SERVICE_USER], check=True)
    if groups:
        subprocess.run(["usermod", "-aG", ",".join(groups), SERVICE_USER], check=True)


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samantha install", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, help="install under this folder; no user, no systemctl")
    parser.add_argument("--no-enable", action="store_true", help="do not enable samantha.target")
    args = parser.parse_args(argv)
    system = args.root is None
    root = args.root or Path("/")
    if system and os.geteuid() != 0:
        print("samantha install: run it as root (sudo)", file=sys.stderr)
        return 1
    python = Path(sys.executable)
    if system:
        ensure_user()
    state = root / "var/lib/samantha"
    state.mkdir(parents=True, exist_ok=True)
    etc = root / "etc/samantha"
    (etc / "sentences").mkdir(parents=True, exist_ok=True)
    config = etc / "config.toml"
    if not config.exists():
        config.write_text(DEFAULT_CONFIG)
    if system:
        shutil.chown(state, SERVICE_USER, SERVICE_USER)
        os.chmod(state, 0o700)
    for path in install_units(root, python):
        print(f"installed {path}")
    if system and shutil.which("systemctl") and Path("/run/systemd/system").is_dir():
        subprocess.run(["systemctl", "daemon-reload"], check=True)
        if not args.no_enable:
            subprocess.run(["systemctl", "enable", "samantha.target",
                            *[u.name for u in UNITS_DIR.glob("samantha-*.service")]], check=True)
        print("enabled; start it with: sudo systemctl start samantha.target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
