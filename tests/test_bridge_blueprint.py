"""The Home Assistant blueprint in docs/: it reads the documented intent topic and answers through
the speaker's announce entity, and Home Assistant itself accepts it (when installed)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from services.bridge.speaker import SpeakerTopics
from test_bridge_discovery import HA_PYTHON

BLUEPRINT = Path(__file__).resolve().parent.parent / "docs" / "home-assistant-blueprint.yaml"

# Runs inside Home Assistant's venv: load the blueprint as HA does, fill in its inputs, and validate
# the automation it makes (templates need a HomeAssistant object, hence the small setup).
HA_CHECK = r'''
import asyncio, json, logging, sys, tempfile
logging.disable(logging.CRITICAL)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame
from homeassistant.util.yaml import load_yaml
from homeassistant.components.blueprint.models import Blueprint, BlueprintInputs
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA, PLATFORM_SCHEMA

async def main():
    hass = HomeAssistant(tempfile.mkdtemp())
    frame.async_setup(hass)
    try:
        blueprint = Blueprint(load_yaml(sys.argv[1]), expected_domain="automation",
                              schema=AUTOMATION_BLUEPRINT_SCHEMA)
        inputs = BlueprintInputs(blueprint, {"use_blueprint": {"path": "x", "input": json.loads(sys.argv[2])}})
        inputs.validate()
        config = PLATFORM_SCHEMA(inputs.async_substitute())
        print(json.dumps({"ok": True, "triggers": config["triggers"]}, default=str))
    except Exception as err:
        print(json.dumps({"ok": False, "error": f"{type(err).__name__}: {err}"}))
    await hass.async_stop(force=True)

asyncio.run(main())
'''
INPUTS = {"intent_name": "StartVacuum", "announce_entity": "text.samantha_kitchen_announce",
          "reply": "Starting the {{ slots.name | default('vacuum') }}",
          "intent_actions": [{"service": "vacuum.start", "target": {"entity_id": "vacuum.robot"}}]}


class _BlueprintLoader(yaml.SafeLoader):
    """YAML with Home Assistant's !input tag (kept as ("!input", name))."""


_BlueprintLoader.add_constructor("!input", lambda loader, node: ("!input", loader.construct_scalar(node)))


def test_blueprint_listens_on_the_documented_intent_topic_and_answers_on_the_announce_entity():
    data = yaml.load(BLUEPRINT.read_text(), Loader=_BlueprintLoader)
    blueprint = data["blueprint"]
    assert blueprint["domain"] == "automation"
    default_topic = blueprint["input"]["intent_topic"]["default"]
    assert default_topic.replace("+", "kitchen") == SpeakerTopics("samantha", "kitchen").intent
    assert data["trigger"] == [{"platform": "mqtt", "topic": ("!input", "intent_topic")}]
    used = {value[1] for value in _walk(data) if isinstance(value, tuple)}
    assert used == set(blueprint["input"])  # every input is used, none is missing
    (answer,) = data["action"][2]["then"]
    assert answer["service"] == "text.set_value"


def _walk(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)
    else:
        yield node


def _ha_check(inputs: dict) -> dict:
    done = subprocess.run([str(HA_PYTHON), "-c", HA_CHECK, str(BLUEPRINT), json.dumps(inputs)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not HA_PYTHON.exists(), reason=f"Home Assistant's venv is not at {HA_PYTHON}")
def test_home_assistant_accepts_the_blueprint():
    result = _ha_check(INPUTS)
    assert result["ok"], result
    assert "samantha/+/intent" in json.dumps(result["triggers"])
    missing = _ha_check({k: v for k, v in INPUTS.items() if k != "intent_name"})
    assert not missing["ok"] and "intent_name" in missing["error"]
