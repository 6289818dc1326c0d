"""The home the words refer to: entity names, aliases, areas and floors, matched exactly or fuzzily."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from hassil import TextSlotList, is_template, parse_sentence, sample_expression
from rapidfuzz import fuzz, process

# A near miss ("kitchen light" for "Kitchen Lights", "livingroom") still resolves; below this
# WRatio score it does not, so that a stray word never becomes a device.
FUZZY_MIN_SCORE = 88.0
_WORD_RE = re.compile(r"[\w']+")


def _norm(text: str) -> str:
    return " ".join(_WORD_RE.findall(text.casefold().replace("’", "'")))


def _expand(name: str) -> list[str]:
    """Names may be hassil templates ("Trader Joe[']s"); each expansion is a name of its own."""
    name = name.strip()
    if not is_template(name):
        return [name]
    return [text.strip() for text in sample_expression(parse_sentence(name).expression)]


@dataclass(frozen=True)
class Entity:
    """One thing in the home that can be named: a light, a lock, a speaker, a shopping list..."""

    entity_id: str
    name: str
    aliases: tuple[str, ...] = ()
    area: str | None = None
    floor: str | None = None
    domain: str = ""
    attributes: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Place:
    """An area (room) or a floor, with its aliases."""

    name: str
    aliases: tuple[str, ...] = ()
    id: str | None = None
    floor: str | None = None


@dataclass(frozen=True)
class Mention:
    """A stretch of an utterance that names something in the home."""

    kind: str  # "name", "area" or "floor"
    value: str  # the name as the home spells it
    start: int  # word offsets in the normalised utterance
    end: int
    score: float  # 100 for an exact match


class Home:
    """The entities, areas and floors that slot values resolve against.

    >>> home = Home.from_dicts(
    ...     [{"entity_id": "light.kitchen", "name": "Kitchen Light", "area": "Kitchen"}],
    ...     areas=["Kitchen"])
    >>> home.resolve("area", "kitchn")
    'Kitchen'
    """

    def __init__(
        self, entities: Iterable[Entity] = (), areas: Iterable[Place] = (), floors: Iterable[Place] = ()
    ) -> None:
        self.entities = list(entities)
        self.areas = list(areas)
        self.floors = list(floors)
        # normalised surface text -> (kind, canonical value), used to find mentions in words
        self._surface: dict[str, dict[str, str]] = {"name": {}, "area": {}, "floor": {}}
        for entity in self.entities:
            for text in (entity.name, *entity.aliases):
                self._surface["name"].setdefault(_norm(text), entity.name)
        for kind, places in (("area", self.areas), ("floor", self.floors)):
            for place in places:
                for text in (place.name, *place.aliases):
                    self._surface[kind].setdefault(_norm(text), place.name)
        self._max_words = max(
            (len(key.split()) for table in self._surface.values() for key in table), default=1
        )

    @classmethod
    def from_dicts(
        cls,
        entities: Iterable[dict[str, Any]],
        areas: Iterable[str | dict[str, Any]] = (),
        floors: Iterable[str | dict[str, Any]] = (),
    ) -> "Home":
        """Build a home from plain dicts, as settings or the hub give them.

        Entities: ``{entity_id, name, aliases, area, floor, domain}`` (``id`` and ``attributes``,
        e.g. ``device_class``, are accepted too). Areas and floors: names, or dicts with ``name``,
        ``aliases``, ``id`` (and ``floor`` for areas). An entity's ``area`` may be an area's name
        or id.
        """
        floor_places = [_place(item) for item in floors]
        area_places = [_place(item) for item in areas]
        floor_by_key = {key: place.name for place in floor_places for key in (place.id, place.name) if key}
        area_places = [
            Place(p.name, p.aliases, p.id, floor_by_key.get(p.floor, p.floor) if p.floor else None)
            for p in area_places
        ]
        area_by_key = {key: place for place in area_places for key in (place.id, place.name) if key}
        built: list[Entity] = []
        for item in entities:
            entity_id = str(item.get("entity_id") or item.get("id") or "")
            domain = str(item.get("domain") or entity_id.partition(".")[0])
            names = _expand(str(item["name"]))
            aliases = tuple(a for alias in item.get("aliases") or () for a in _expand(str(alias)))
            area_key = item.get("area")
            area = area_by_key.get(area_key) if area_key else None
            area_name = area.name if area else (str(area_key) if area_key else None)
            floor = item.get("floor") or (area.floor if area else None)
            attributes = dict(item.get("attributes") or {})
            if item.get("device_class"):
                attributes.setdefault("device_class", item["device_class"])
            # Each expansion of a templated name is a name in its own right, as in Home Assistant.
            for name in names:
                built.append(Entity(entity_id, name, aliases, area_name, floor, domain, attributes))
        return cls(built, area_places, floor_places)

    def slot_lists(self) -> dict[str, TextSlotList]:
        """hassil slot lists {name}, {area}, {floor}; names carry their domain as match context."""
        names = []
        for entity in self.entities:
            context = {"domain": entity.domain, **entity.attributes}
            names.append((entity.name, entity.name, context))
            names += [(alias, entity.name, context) for alias in entity.aliases]
        return {
            "name": TextSlotList.from_tuples(names, allow_template=False),
            "area": TextSlotList.from_tuples(
                [(t, a.name) for a in self.areas for t in (a.name, *a.aliases)], allow_template=False
            ),
            "floor": TextSlotList.from_tuples(
                [(t, f.name) for f in self.floors for t in (f.name, *f.aliases)], allow_template=False
            ),
        }

    def domain_of(self, name: str) -> str | None:
        """The domain of the entity called ``name`` (None if unknown)."""
        for entity in self.entities:
            if entity.name == name:
                return entity.domain
        return None

    def resolve(self, kind: str, text: str) -> str | None:
        """The home's spelling of an entity ("name"), "area" or "floor" that ``text`` means, or None."""
        table = self._surface.get(kind, {})
        key = _norm(text)
        if key in table:
            return table[key]
        if not table or not key:
            return None
        best = process.extractOne(key, list(table), scorer=fuzz.WRatio)
        if best and best[1] >= FUZZY_MIN_SCORE and abs(len(best[0]) - len(key)) <= max(3, len(key) // 3):
            return table[best[0]]
        return None

    def mentions(self, text: str) -> list[Mention]:
        """Non-overlapping mentions of entities, areas and floors in ``text``, longest first."""
        words = _norm(text).split()
        found: list[Mention] = []
        for size in range(min(self._max_words + 1, len(words)), 0, -1):
            for start in range(0, len(words) - size + 1):
                phrase = " ".join(words[start : start + size])
                for kind in ("name", "area", "floor"):
                    value = self._surface[kind].get(phrase)
                    if value is not None:
                        found.append(Mention(kind, value, start, start + size, 100.0))
        # Near misses: only for stretches not already claimed by an exact mention.
        for size in range(min(self._max_words, len(words)), 0, -1):
            for start in range(0, len(words) - size + 1):
                phrase = " ".join(words[start : start + size])
                if len(phrase) < 4:
                    continue
                for kind in ("name", "area", "floor"):
                    table = self._surface[kind]
                    if not table:
                        continue
                    best = process.extractOne(phrase, list(table), scorer=fuzz.ratio)
                    if best and best[1] >= FUZZY_MIN_SCORE:
                        found.append(Mention(kind, table[best[0]], start, start + size, best[1]))
        chosen: list[Mention] = []
        taken: set[int] = set()
        # Exact before fuzzy, longer before shorter, entity names before areas before floors.
        rank = {"name": 0, "area": 1, "floor": 2}
        for mention in sorted(found, key=lambda m: (-m.score, -(m.end - m.start), rank[m.kind], m.start)):
            span = set(range(mention.start, mention.end))
            if span & taken:
                continue
            taken |= span
            chosen.append(mention)
        return sorted(chosen, key=lambda m: m.start)


def _place(item: str | dict[str, Any]) -> Place:
    if isinstance(item, str):
        names = _expand(item)
        return Place(names[0], tuple(names[1:]))
    names = _expand(str(item["name"]))
    aliases = tuple(names[1:]) + tuple(str(a) for a in item.get("aliases") or ())
    return Place(names[0], aliases, item.get("id"), item.get("floor"))
