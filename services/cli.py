"""The `samantha` command.

    samantha run                 the bus and all services in the foreground
    samantha say "Hello"         speak through the voice service, over the bus
    samantha monitor             print bus events live, one line each
    samantha hear FILE.wav       run the listening pipeline on files (JSON lines)
    samantha understand "text"   what the dialogue model makes of a sentence
    samantha models pull vosk-en download the English Vosk model (needs internet)
    samantha install             install the systemd units, user and state folder (root)
    samantha settings            print the settings reference (Markdown)
    samantha messages            print the bus message reference (Markdown)
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from .bus import bus_client
from .config import ConfigError
from .service import EXIT_BAD_CONFIG

# Subcommands that live with the part they exercise: name -> module with main(argv) -> int.
DELEGATED = {
    "hear": "services.listener.cli",
    "understand": "services.dialogue.nlu.cli",
    "models": "services.listener.models",
    "install": "services.install",
}


def _settings(args: argparse.Namespace):
    from .settings import load_settings

    return load_settings(args.config)


def client_bus_settings(settings):
    """The bus a command-line client should use: a running `samantha run`'s, else the configured one."""
    from .supervisor import bus_file

    path = bus_file(settings)
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
        return replace(settings.bus, host=info["host"], port=int(info["port"]), socket="")
    except (OSError, ValueError, KeyError, TypeError):
        return settings.bus


def cmd_run(args: argparse.Namespace) -> int:
    from .service import configure_logging
    from .supervisor import SERVICES, Supervisor

    settings = _settings(args)
    configure_logging(settings.general.log_level)
    names = args.only.split(",") if args.only else [
        s for s in SERVICES if s != "bridge" or settings.bridge.enabled
    ]
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        print(f"samantha run: unknown service {unknown[0]!r}; the services are {', '.join(SERVICES)}",
              file=sys.stderr)
        return EXIT_BAD_CONFIG
    config = args.config or os.environ.get("SAMANTHA_CONFIG")
    return asyncio.run(Supervisor(settings, config, names, bus_port=args.bus_port).run())


async def _publish_and_wait(bus_settings, message, wait_for=None, timeout: float = 30.0):
    """Publish one message; optionally wait for the first message matching wait_for(msg)."""
    from .messages import BadMessage, MESSAGES_BY_TOPIC, parse

    async with bus_client(bus_settings, f"samantha-cli-{os.getpid()}") as client:
        if wait_for is not None:
            for topic in MESSAGES_BY_TOPIC:
                await client.subscribe(topic)
        await client.publish(message.TOPIC, message.to_json(), retain=message.RETAIN)
        if wait_for is None:
            return None
        async with asyncio.timeout(timeout):
            async for mqtt_message in client.messages:
                try:
                    got = parse(str(mqtt_message.topic), bytes(mqtt_message.payload))
                except BadMessage:
                    continue
                if wait_for(got):
                    return got


def cmd_say(args: argparse.Namespace) -> int:
    import aiomqtt

    from .messages import Say, SpeakingFinished

    settings = _settings(args)
    text = " ".join(args.text).strip()
    if not text:
        print("samantha say: nothing to say", file=sys.stderr)
        return EXIT_BAD_CONFIG
    say_id = f"cli-{os.getpid()}-{time.time_ns()}"
    message = Say(text=text, id=say_id)
    wait = None if args.no_wait else (lambda m: isinstance(m, SpeakingFinished) and m.id == say_id)
    try:
        asyncio.run(_publish_and_wait(client_bus_settings(settings), message, wait, args.timeout))
    except aiomqtt.MqttError as err:
        print(f"samantha say: the bus is not reachable ({err}); is `samantha run` or samantha.target up?",
              file=sys.stderr)
        return 1
    except TimeoutError:
        print(f"samantha say: the voice service did not finish speaking within {args.timeout} s",
              file=sys.stderr)
        return 1
    return 0


def describe(message) -> str:
    """One readable line for a bus message."""
    fields = message.to_dict()
    fields.pop("v", None)
    body = " ".join(f"{k}={v!r}" for k, v in fields.items() if v not in ("", None, {}, []))
    return f"{time.strftime('%H:%M:%S')} {type(message).__name__:<18} {body}".rstrip()


async def _monitor(bus_settings, count: int) -> None:
    from .messages import BadMessage, parse

    seen = 0
    async with bus_client(bus_settings, f"samantha-monitor-{os.getpid()}") as client:
        await client.subscribe("samantha/#")
        async for mqtt_message in client.messages:
            try:
                line = describe(parse(str(mqtt_message.topic), bytes(mqtt_message.payload)))
            except BadMessage as err:
                line = f"{time.strftime('%H:%M:%S')} (bad message on {mqtt_message.topic}: {err})"
            print(line, flush=True)
            seen += 1
            if count and seen >= count:
                return


def cmd_monitor(args: argparse.Namespace) -> int:
    import aiomqtt

    settings = _settings(args)
    try:
        asyncio.run(_monitor(client_bus_settings(settings), args.count))
    except aiomqtt.MqttError as err:
        print(f"samantha monitor: the bus is not reachable ({err})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    from .settings import settings_reference

    print(settings_reference())
    return 0


def messages_reference() -> str:
    """Markdown reference of every bus message (docs/messages.md)."""
    from .messages import ALL_MESSAGES

    lines = [
        "# Bus messages", "",
        "Every message on Samantha's local bus (services/messages.py): one JSON object, its fields plus "
        '`"v": 1`. Try any of them against `samantha run` (it prints the bus port) with '
        "`mosquitto_pub -p PORT -t TOPIC -m 'PAYLOAD'`, and watch them with `samantha monitor`. "
        "On the device the bus is 127.0.0.1:1884.", "",
        "| topic | message | retained | what it means | try it |", "|---|---|---|---|---|",
    ]
    for cls in ALL_MESSAGES:
        doc = " ".join((cls.__doc__ or "").split())
        lines.append(f"| `{cls.TOPIC}` | {cls.__name__} | {'yes' if cls.RETAIN else ''} | {doc} | "
                     f"`mosquitto_pub -p 1884 -t {cls.TOPIC} -m '{cls.EXAMPLE}'` |")
    return "\n".join(lines)


def cmd_messages(args: argparse.Namespace) -> int:
    print(messages_reference())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samantha", description="Samantha, an offline voice companion.")
    parser.add_argument("--config", help="settings file (default $SAMANTHA_CONFIG or /etc/samantha/config.toml)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="the bus and all services in the foreground")
    run.add_argument("--only", help="comma-separated services to run (default: all)")
    run.add_argument("--bus-port", type=int, default=0, help="port of the private bus (default: a free one)")
    run.set_defaults(func=cmd_run)
    say = sub.add_parser("say", help="speak a sentence through the voice service")
    say.add_argument("text", nargs="+")
    say.add_argument("--no-wait", action="store_true", help="do not wait until it has been spoken")
    say.add_argument("--timeout", type=float, default=60.0)
    say.set_defaults(func=cmd_say)
    monitor = sub.add_parser("monitor", help="print bus events live, one line each")
    monitor.add_argument("--count", type=int, default=0, help="stop after this many (default: never)")
    monitor.set_defaults(func=cmd_monitor)
    sub.add_parser("settings", help="print the settings reference").set_defaults(func=cmd_settings)
    sub.add_parser("messages", help="print the bus message reference").set_defaults(func=cmd_messages)
    for name in DELEGATED:
        sub.add_parser(name, help=f"see `samantha {name} --help`", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Delegated subcommands parse their own arguments (after an optional --config).
    rest = list(argv)
    if len(rest) >= 2 and rest[0] == "--config":
        os.environ["SAMANTHA_CONFIG"] = rest[1]
        rest = rest[2:]
    if rest and rest[0] in DELEGATED:
        module = importlib.import_module(DELEGATED[rest[0]])
        return module.main(rest[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"samantha: bad settings: {err}", file=sys.stderr)
        return EXIT_BAD_CONFIG


if __name__ == "__main__":
    sys.exit(main())
