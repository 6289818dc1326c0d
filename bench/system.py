"""The device's budget, measured: every service together under `samantha run`, idle and listening.

    .venv/bin/python bench/system.py [--seconds 30]

Starts the whole of Samantha as a user would (`samantha run`: the local bus, voice with its Piper
child, listener, dialogue, panel, and the bridge connected to a private broker playing the hub),
with the microphone fed silence in real time (PyAudio is not available here, so the listener reads
a real-time-paced null microphone: wake word and VAD run on every 80 ms frame, as on the Pi). Once
everything is ready and has settled, it samples each process's RSS and PSS (PSS shares common
libraries fairly between processes) and their CPU time over the idle window, and prints them against
the budget: all services together <= 500 MB resident and <= 10 % of one core while idle. Idle means
what a device is most of the day: after [voice] piper_rest_s (120 s) with nothing said, Piper is put
away until the next wake word, so the window starts after that.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench._process import cpu_seconds  # noqa: E402

from services.broker import PrivateBroker  # noqa: E402
from services.memory import MALLOC_ENV  # noqa: E402
from services.voice.settings import VoiceSettings  # noqa: E402
from tests.running import child_pids, write_config  # noqa: E402

BUDGET_RSS_MB = 500.0
BUDGET_IDLE_CPU_PCT = 10.0
# After "Samantha is up": warm-ups, and Piper put to rest once the device has been idle a while.
SETTLE_S = VoiceSettings().piper_rest_s + 15.0
SERVICES = ["voice", "listener", "dialogue", "panel", "bridge"]


def descendants(pid: int) -> list[int]:
    result = []
    for child in child_pids(pid):
        result += [child, *descendants(child)]
    return result


def name_of(pid: int) -> str:
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    if match := re.search(r"-m (services\.[\w.]+)", cmdline):
        return match.group(1)
    return cmdline.split()[0].rsplit("/", 1)[-1]


def malloc_settings(pid: int) -> str:
    """The glibc malloc settings a process was started with (see services/memory.py)."""
    environ = dict(item.split(b"=", 1) for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                   if b"=" in item)
    return " ".join(f"{key}={environ.get(key.encode(), b'(unset)').decode()}" for key in MALLOC_ENV)


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB."""
    rss = pss = 0.0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("Pss:"):
            pss = int(line.split()[1]) / 1024
    return rss, pss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the idle window")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="samantha-system-"))
    with PrivateBroker() as hub:
        config = write_config(folder / "config.toml", folder / "state", {
            "audio": {"output": "null", "input": "null", "input_realtime": True},
            "bridge": {"enabled": True, "host": "127.0.0.1", "port": hub.port, "node_id": "bench"},
        })
        env = {**os.environ, "SAMANTHA_CONFIG": str(config)}
        env.pop("SAMANTHA_OVERRIDES", None)
        started = time.monotonic()
        supervisor = subprocess.Popen([sys.executable, "-m", "services.cli", "run"], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert supervisor.stdout is not None
            for line in supervisor.stdout:
                if "Samantha is up" in line:
                    break
            else:
                print("samantha run stopped before it was up", file=sys.stderr)
                return 1
            up_s = time.monotonic() - started
            time.sleep(SETTLE_S)
            pids = descendants(supervisor.pid)
            before = {pid: cpu_seconds(pid) for pid in pids}
            wall = time.monotonic()
            time.sleep(args.seconds)
            wall = time.monotonic() - wall
            rows = []
            malloc = malloc_settings(next(pid for pid in pids if name_of(pid).startswith("services.")))
            for pid in pids:
                try:
                    rss, pss = memory_mb(pid)
                    rows.append((name_of(pid), pid, rss, pss, 100 * (cpu_seconds(pid) - before[pid]) / wall))
                except OSError:
                    continue
        finally:
            supervisor.terminate()
            supervisor.wait(15)
    load = os.getloadavg()
    print("Samantha idle, listening (all services under samantha run, bridge on a private hub broker; "
          f"measured from {SETTLE_S:.0f} s after start, once Piper rests)")
    print(f"{os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
          f"up in {up_s:.1f} s; idle window {wall:.0f} s; services started with {malloc}")
    print(f"{'process':<34} {'pid':>7} {'RSS MB':>8} {'PSS MB':>8} {'CPU %':>7}")
    for name, pid, rss, pss, cpu in sorted(rows):
        print(f"{name:<34} {pid:>7} {rss:>8.1f} {pss:>8.1f} {cpu:>7.2f}")
    total_rss = sum(r[2] for r in rows)
    total_pss = sum(r[3] for r in rows)
    total_cpu = sum(r[4] for r in rows)
    print(f"{'all together':<34} {'':>7} {total_rss:>8.1f} {total_pss:>8.1f} {total_cpu:>7.2f}")
    print(f"budget: <= {BUDGET_RSS_MB:.0f} MB resident: {'met' if total_rss <= BUDGET_RSS_MB else 'NOT met'} "
          f"(PSS {'met' if total_pss <= BUDGET_RSS_MB else 'NOT met'}); "
          f"<= {BUDGET_IDLE_CPU_PCT:.0f} % of one core idle: "
          f"{'met' if total_cpu <= BUDGET_IDLE_CPU_PCT else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
