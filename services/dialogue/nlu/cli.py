"""`samantha understand`: what the dialogue model makes of a sentence (or a file of them).

    samantha understand "turn off the kitchen lights"
    samantha understand --file sentences.txt --json      # one JSON object per line
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from .home import Home
from .model import DialogueModel
from .sentences import SentenceError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samantha understand", description="What the dialogue model understands.")
    parser.add_argument("text", nargs="*", help="the sentence (quote it)")
    parser.add_argument("--file", type=Path, help="understand every line of FILE ('-' = stdin)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per sentence")
    parser.add_argument("--config", help="settings file (default: $SAMANTHA_CONFIG or /etc/samantha/config.toml)")
    parser.add_argument("--state", type=Path, help="state folder for the trained heads (default: from settings)")
    parser.add_argument("--sentences", type=Path, help="custom sentences folder (default: from settings)")
    parser.add_argument("--area", help="the area the speaker stands in (context for 'turn on the lights')")
    return parser


def _load(args: argparse.Namespace) -> DialogueModel:
    from services.settings import load_settings

    settings = load_settings(args.config)
    dialogue = settings.dialogue
    home = Home.from_dicts(dialogue.entities, dialogue.areas, dialogue.floors)
    sentences = args.sentences or Path(dialogue.sentences_dir)
    return DialogueModel.load(args.state or settings.state_dir, sentences, home)


def main(argv: list[str]) -> int:
    """Entry point for `samantha understand`; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.file:
        stream = sys.stdin if str(args.file) == "-" else args.file.open(encoding="utf-8")
        texts = [line.strip() for line in stream if line.strip()]
    elif args.text:
        texts = [" ".join(args.text)]
    else:
        _parser().print_usage(sys.stderr)
        return 2
    try:
        model = _load(args)
    except SentenceError as err:
        print(f"samantha understand: {err}", file=sys.stderr)
        return 2
    context = {"area": args.area} if args.area else None
    for text in texts:
        result = model.understand(text, context)
        if args.json:
            print(json.dumps(asdict(result), ensure_ascii=False))
        else:
            slots = ", ".join(f"{k}={v!r}" for k, v in result.slots.items()) or "-"
            print(
                f"{text!r}: intent={result.intent or 'not understood'}  slots: {slots}  "
                f"confidence={result.confidence:.2f}  time={result.elapsed_ms:.1f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
