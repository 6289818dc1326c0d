"""Benchmark the dialogue model on Home Assistant's English intent tests, beside hassil alone.

    .venv/bin/python bench/understand.py [--tests DIR] [--state DIR] [--show-failures]

The tests live in ../shared/data/ha-intents-tests/en next to this checkout (override with
SAMANTHA_HA_TESTS=/path/to/en). Their home (_fixtures.yaml) is given to the model as its Home,
as a user's entities would be. Both the model and plain hassil use the installed templates.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hassil import Intents, recognize_best  # noqa: E402

from services.dialogue.nlu import DialogueModel, Home  # noqa: E402
from services.dialogue.nlu.encoder import ENCODER_DIR  # noqa: E402
from services.dialogue.nlu.sentences import load_ha_templates  # noqa: E402

DEFAULT_TESTS = REPO.parent / "shared" / "data" / "ha-intents-tests" / "en"


def load_tests(tests_dir: Path) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(sentence, intent, expected slots, context) for every top-level test file."""
    cases = []
    for path in sorted(tests_dir.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            intent = test["intent"]
            for sentence in test["sentences"]:
                cases.append((sentence, intent["name"], intent.get("slots") or {}, intent.get("context") or {}))
    return cases


def fixture_home(tests_dir: Path) -> Home:
    """The tests' home as a Home (entities with domain and attributes, areas, floors)."""
    fixtures = yaml.safe_load((tests_dir / "_fixtures.yaml").read_text(encoding="utf-8"))
    entities = [
        {"entity_id": e["id"], "name": e["name"], "area": e.get("area"), "attributes": e.get("attributes") or {}}
        for e in fixtures["entities"]
    ]
    return Home.from_dicts(entities, areas=fixtures.get("areas", []), floors=fixtures.get("floors", []))


def slots_match(got: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Exactly the expected slots, each equal (a list in the test means any one of these)."""
    if set(got) != set(expected):
        return False
    for name, want in expected.items():
        have = got[name]
        if isinstance(want, list):
            if (set(want) - set(have)) if isinstance(have, list) else (have not in want):
                return False
        elif have != want:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=Path, default=Path(os.environ.get("SAMANTHA_HA_TESTS", DEFAULT_TESTS)))
    parser.add_argument("--state", type=Path, default=None, help="state dir (default: a fresh temporary one)")
    parser.add_argument("--show-failures", action="store_true")
    args = parser.parse_args(argv)

    cases = load_tests(args.tests)
    home = fixture_home(args.tests)
    state = args.state or Path(tempfile.mkdtemp(prefix="samantha-bench-"))
    started = time.perf_counter()
    model = DialogueModel.load(state, None, home)
    load_s = time.perf_counter() - started
    model.grammar_text()  # as the dialogue service does at start: the model keeps its command grammar

    ha = Intents.from_dict(load_ha_templates("en"))
    slot_lists = home.slot_lists()

    scores = {"model": [0, 0], "hassil": [0, 0], "neural only": [0, 0]}
    latencies: list[float] = []
    cpu_ms: list[float] = []  # CPU time of this thread: what other processes' load cannot inflate
    hassil_latencies: list[float] = []
    failures = []
    for sentence, intent, expected, context in cases:
        cpu0 = time.thread_time()
        result = model.understand(sentence, context)
        cpu_ms.append((time.thread_time() - cpu0) * 1000)
        latencies.append(result.elapsed_ms)
        scores["model"][0] += result.intent == intent
        ok = result.intent == intent and slots_match(result.slots, expected)
        scores["model"][1] += ok
        if not ok:
            failures.append((sentence, intent, expected, result.intent, result.slots))

        t0 = time.perf_counter()
        matched = recognize_best(sentence, ha, slot_lists=slot_lists, intent_context=context, best_slot_name="name")
        hassil_latencies.append((time.perf_counter() - t0) * 1000)
        if matched is not None:
            got = {e.name: e.value for e in matched.entities.values()}
            scores["hassil"][0] += matched.intent.name == intent
            scores["hassil"][1] += matched.intent.name == intent and slots_match(got, expected)

        neural = model._neural(model._engine, sentence, model._encoder.encode_one(sentence), context)
        scores["neural only"][0] += neural[0] == intent
        scores["neural only"][1] += neural[0] == intent and slots_match(neural[1], expected)

    total = len(cases)
    lat = sorted(latencies)
    encoder_mb = (ENCODER_DIR / "encoder.onnx").stat().st_size / 1e6
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Home Assistant intent tests (en): {total} sentences from {args.tests}")
    print(f"templates: home-assistant-intents {version('home-assistant-intents')}, hassil {version('hassil')}")
    print(f"model load (train or cached heads): {load_s:.1f} s")
    print(f"{'':14s}{'intent':>10s}{'intent+slots':>15s}")
    for name, (intent_ok, exact_ok) in scores.items():
        print(f"{name:14s}{100 * intent_ok / total:9.1f}%{100 * exact_ok / total:14.1f}%")
    print(
        f"model latency per utterance: median {statistics.median(lat):.2f} ms, "
        f"p95 {lat[int(0.95 * (len(lat) - 1))]:.2f} ms (hassil alone: median {statistics.median(hassil_latencies):.2f} ms)"
    )
    print(f"model CPU time per utterance: median {statistics.median(cpu_ms):.2f} ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"encoder file: {encoder_mb:.1f} MB; process max RSS: {rss_mb:.0f} MB")
    if args.show_failures:
        for failure in failures:
            print("FAIL", failure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
