"""Keeping the services' memory small on a 1 GB Pi."""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import sys
import types
from typing import Iterator

# glibc gives each thread that allocates its own heap ("arena"), up to 8 per core, and keeps what
# is freed in each: a service with model threads (ONNX, CTranslate2, the microphone) ends up with
# several partly used heaps. Two are enough for these processes; set in the environment the
# services are started with (services/supervisor.py and the systemd units).
MALLOC_ENV = {"MALLOC_ARENA_MAX": "2"}


def release_freed_memory() -> None:
    """Give the heap that glibc keeps after large frees back to the system (a no-op elsewhere).

    Loading a model or transcribing a long request allocates far more than stays in use; glibc
    keeps the freed pages, so without this a service's resident memory stays at its peak
    (measured: the dialogue service 204 MB -> 165 MB after loading its model).
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def without_arena(options):
    """onnxruntime SessionOptions that allocate from the heap, not from a memory arena of their own.

    onnxruntime's CPU arena grows to a session's largest run and never gives memory back: the wake
    word models' first batch (4 s of audio) left ~25 MB in it, the sentence encoder's training
    batches ~55 MB. Without it, freed memory goes back to glibc (and to release_freed_memory).
    The memory pattern (one block per run, planned from the shapes) stays on: without it as well,
    batches were 35 % slower; with it, as fast as with the arena (measured on the encoder).
    """
    options.enable_cpu_mem_arena = False
    return options


@contextlib.contextmanager
def onnx_sessions_without_arena() -> Iterator[None]:
    """Sessions made inside this block get without_arena() options, for libraries that make their own
    (openWakeWord creates its sessions with a bare ``ort.SessionOptions()`` and has no setting for it).
    """
    import onnxruntime as ort

    library_options = ort.SessionOptions

    class LeanSessionOptions(library_options):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            without_arena(self)

    ort.SessionOptions = LeanSessionOptions
    try:
        yield
    finally:
        ort.SessionOptions = library_options


class _ImportedOnFirstUse(types.ModuleType):
    """Stands in for a module until one of its attributes is used; then imports it and hands over."""

    def __getattr__(self, attribute: str):
        real = sys.modules.get(self.__name__)
        if real is None or real is self:
            sys.modules.pop(self.__name__, None)
            real = importlib.import_module(self.__name__)
        return getattr(real, attribute)


def import_on_first_use(name: str) -> None:
    """Make ``import name`` cheap until the module is used, for libraries that import it needlessly.

    faster-whisper imports PyAV (FFmpeg: ~16 MB resident) at import time, only to decode audio files;
    the listener hands it samples and never needs it. importlib's LazyLoader does not do here: on
    Python 3.11 the import statement itself reads the module's __spec__, which loads it.
    """
    if name not in sys.modules:
        sys.modules[name] = _ImportedOnFirstUse(name)
