# SPDX-License-Identifier: GPL-3.0-or-later
# This one file imports Piper (GPL-3.0) and is licensed under the GPL with it; the rest of Samantha
# is Apache-2.0 and only talks to this process over pipes.
"""Piper in its own process: load the voice once, then answer one request per line of stdin.

Run only as ``python -m services.voice.piper_worker --model VOICE.onnx`` (the voice service starts
it). This is the one module that imports Piper (GPL-3.0); it never runs inside a service process,
which talks to it over pipes only.

Protocol (stdin and stdout of this process; everything else it prints goes to stderr):

* once loaded: ``{"ready": true, "rate": 22050}`` and a newline
* request: ``{"text": "Hello there.", "length_scale": 1.0}`` and a newline
* answer: ``{"rate": 22050, "samples": N}`` and a newline, then N int16 little-endian samples
  (mono); or ``{"error": "..."}`` and a newline, with no samples

The ONNX session runs without spinning threads and without onnxruntime's memory arena, and freed
memory is handed back to the system after every request: Piper's memory then stays at the size of the loaded voice (~140 MB)
instead of growing to the largest sentence ever spoken (300+ MB).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import BinaryIO

from services.memory import release_freed_memory


def load_voice(model: Path, config: Path, threads: int):
    """A PiperVoice with a lean onnxruntime session."""
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = False  # the arena keeps the peak of every sentence for ever
    options.enable_mem_pattern = False
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads
    # Spinning threads wait for work by burning CPU; beside the listener's models on a small board
    # they mostly slow everyone down (here: 130 ms instead of 420 ms for a short sentence).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    with open(config, encoding="utf-8") as file:
        return PiperVoice(session=session, config=PiperConfig.from_dict(json.load(file)))


def _answer(out: BinaryIO, header: dict, samples: bytes = b"") -> None:
    out.write(json.dumps(header).encode() + b"\n" + samples)
    out.flush()


def serve(voice, requests: BinaryIO, out: BinaryIO) -> None:
    """Answer requests until stdin closes."""
    from piper import SynthesisConfig

    rate = voice.config.sample_rate
    _answer(out, {"ready": True, "rate": rate})
    for line in requests:
        try:
            request = json.loads(line)
            text = str(request["text"])
            length_scale = request.get("length_scale")
            config = SynthesisConfig(length_scale=float(length_scale) if length_scale else None)
            audio = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text, config))
        except Exception as err:  # one bad request must not end the voice: answer it and go on
            _answer(out, {"error": f"{type(err).__name__}: {err}"})
            continue
        finally:
            release_freed_memory()
        _answer(out, {"rate": rate, "samples": len(audio) // 2}, audio)


def main() -> None:
    parser = argparse.ArgumentParser(description="Piper voice worker for Samantha's voice service")
    parser.add_argument("--model", required=True, type=Path, help="voice .onnx file")
    parser.add_argument("--config", type=Path, help="voice .onnx.json (default: beside the model)")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0 = one per core)")
    args = parser.parse_args()
    # Keep the protocol's stdout for answers only; stray prints from libraries go to stderr.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    voice = load_voice(args.model, args.config or Path(f"{args.model}.json"), args.threads)
    serve(voice, sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
