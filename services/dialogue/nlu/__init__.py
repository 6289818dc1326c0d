"""Understanding: words -> intent and slots, on the device, with an int8 ONNX model.

>>> from services.dialogue.nlu import DialogueModel, Home
>>> home = Home.from_dicts([{"entity_id": "light.kitchen", "name": "Kitchen Light", "area": "Kitchen"}],
...                        areas=["Kitchen"])
>>> model = DialogueModel.load(Path("/var/lib/samantha"), None, home)   # doctest: +SKIP
>>> model.understand("kill the lights in the kitchen").intent             # doctest: +SKIP
'HassTurnOff'
"""

from .home import Home
from .model import DialogueModel, Understanding
from .sentences import SentenceError

__all__ = ["DialogueModel", "Home", "SentenceError", "Understanding"]
