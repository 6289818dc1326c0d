"""What Samantha says, written to docs/personality.md: short, warm, a little witty, varied.

Each reply has a key and a few variants; :class:`Responses` picks one at random but never the one
it used last time for that key, fills in the fields, and now and then addresses the user by name.

>>> responses = Responses(seed=1)
>>> responses.say("time", time="7:05 AM") in {"It's 7:05 AM.", "7:05 AM.", "It's 7:05 AM right now."}
True
"""

from __future__ import annotations

import random
import re
from string import Formatter

# {user} is the user's name when known; a variant with {user} is only chosen when it is.
# Fields: see each skill. Keep every line speakable in one breath.
RESPONSES: dict[str, list[str]] = {
    # --- understanding ------------------------------------------------------------------------
    "not_understood": [
        "Sorry, I didn't catch that.",
        "Hmm, I didn't get that. Could you say it another way?",
        "I'm not sure what you meant. Try me again?",
        "That one went over my head. Say it differently?",
    ],
    "cannot_leave_out": [
        "I can't leave things out yet. Tell me what to change, one at a time.",
        "Sorry, I can't do \"all but\" yet. Name what you'd like changed, one at a time.",
    ],
    "cannot_schedule": [
        "I can't do that at a set time yet. I can do it now, or after a while if you say \"in two hours\".",
        "Setting things for a set time is beyond me for now. Ask me then, or say \"in an hour\".",
    ],
    "not_understood_answer": [
        "Sorry, I still didn't get that. {question}",
        "Hmm, I missed that. {question}",
    ],
    "gave_up_question": [
        "Let's leave it there, then.",
        "Okay, never mind that one.",
    ],
    "nevermind": ["Okay.", "No problem.", "Sure, forget it.", "Alright."],
    # Heard unclearly: the words are read back before anything is done ({request}: what was heard).
    "check_heard": ["Did you mean: {request}?", "Sorry, did you say: {request}?"],
    "check_dropped": ["Okay, never mind.", "Okay, I'll leave it."],
    "nothing_to_stop": ["There's nothing to stop.", "All quiet already."],
    "nothing_to_repeat": ["I haven't said anything yet.", "Nothing to repeat yet: I've been quiet."],
    "error": [
        "Something went wrong on my side. Sorry about that.",
        "Oops, that tripped me up. Could you try again?",
    ],
    # --- timers -------------------------------------------------------------------------------
    "ask_timer_duration": ["For how long?", "How long should it run?", "Sure. For how long?"],
    "ask_timer_duration_named": ["How long for the {name} timer?", "Sure. How long for the {name}?"],
    "timer_started": [
        "{duration_cap} it is. Starting now.",
        "Timer set for {duration}.",
        "Okay, {duration}, counting down.",
        "{duration_cap}, starting now.",
        "You got it, {user}: {duration}.",
    ],
    "timer_started_named": [
        "{name_cap} timer, {duration}. Starting now.",
        "Okay, {duration} for the {name}.",
        "{name_cap} timer set for {duration}.",
        "{name_cap}, {duration}. I'll let you know.",
    ],
    "timer_negative": [
        "I can't count backwards into the past, sadly. How long should the timer be?",
        "A timer needs a positive length. How long should it run?",
    ],
    "timer_zero": ["A timer needs at least a second. How long should it run?"],
    "timer_too_long": [
        "That's longer than I can time: {max} at most. Maybe an alarm instead?",
        "{duration_cap} is a bit much for a timer. I can do up to {max}.",
    ],
    "too_many_timers": ["You already have {count} timers going. Cancel one first?"],
    "no_timers": ["You don't have any timers running.", "There are no timers going right now."],
    "timer_not_found": ["I can't find a {name} timer.", "There's no {name} timer running."],
    "ask_which_timer": ["Which one: {choices}?", "Which timer: {choices}?"],
    "timer_cancelled": ["Okay, I cancelled the {label}.", "{label_cap} cancelled.", "Done, the {label} is gone."],
    "all_timers_cancelled": ["All {count} timers cancelled.", "Cleared all {count} timers."],
    "one_timer_cancelled": ["Your only timer, the {label}, is cancelled.", "Done, the {label} is gone."],
    "timer_paused": ["Paused the {label}, with {left} left.", "{label_cap} on hold: {left} left."],
    "timer_already_paused": ["The {label} is already paused."],
    "timer_resumed": ["{label_cap} running again: {left} to go.", "Back on: {left} left on the {label}."],
    "timer_not_paused": ["The {label} isn't paused; it has {left} left."],
    "timer_increased": ["Added {delta}. The {label} now has {left} left.", "{delta_cap} more: {left} left on the {label}."],
    "timer_decreased": ["Took off {delta}. The {label} has {left} left.", "{delta_cap} less: {left} left on the {label}."],
    "timer_decrease_too_much": ["The {label} only has {left} left, so I can't take off {delta}."],
    "ask_timer_change": ["By how much?", "How much time?"],
    "timer_status_one": ["{left} left on the {label}.", "The {label} has {left} to go.", "About {left} left on the {label}."],
    "timer_status_paused": ["The {label} is paused with {left} left."],
    "timer_status_many": ["You have {count} timers: {summary}."],
    "timer_done": ["Time's up on the {label}!", "Your {label} is done.", "{label_cap}'s done!"],
    "timer_stopped": [],
    # --- alarms -------------------------------------------------------------------------------
    "ask_alarm_time": ["For what time?", "What time should I wake you?"],
    "alarm_set_once": ["Alarm set for {time} {when}.", "Okay, I'll wake you at {time} {when}.", "Alarm on for {time} {when}."],
    "alarm_set_daily": ["Alarm set for {time} every day.", "Okay, {time}, every day, starting {when}."],
    "alarm_set_weekdays": ["Alarm set for {time} on weekdays.", "Okay, {time}, Monday to Friday, starting {when}."],
    "alarm_bad_time": ["{problem} What time should the alarm be?"],
    "alarm_in_past": ["That time has already passed. When should the alarm go off?"],
    "alarm_already": ["You already have an alarm at {time} {when}."],
    "no_alarms": ["You don't have any alarms set.", "No alarms at the moment."],
    "alarms_list_one": ["You have one alarm, {alarm}.", "There's an alarm {alarm}."],
    "alarms_list_many": ["You have {count} alarms: {summary}."],
    "alarm_cancelled": ["Okay, your {alarm} alarm is off.", "Cancelled the alarm {alarm}."],
    "alarms_cancelled": ["All {count} alarms are off.", "Cancelled all {count} alarms."],
    "alarm_not_found": ["I don't have an alarm at {time}. {listing}"],
    "ask_which_alarm": ["Which alarm: {choices}?"],
    "alarm_ringing": ["Good morning! It's {time}.", "It's {time}. Time to get up!", "Rise and shine, {user}, it's {time}."],
    # --- clock --------------------------------------------------------------------------------
    "time": ["It's {time}.", "{time_cap}.", "It's {time} right now."],
    "date": ["It's {date}.", "Today is {date}."],
    # --- volume -------------------------------------------------------------------------------
    "volume_set": ["Volume {volume}.", "Okay, volume at {volume}.", "Set to {volume}."],
    "volume_bad": ["The volume goes from 0 to 100. What should I set it to?"],
    "ask_volume": ["To what level? Anything from 0 to 100."],
    "volume_up": ["Louder: {volume}.", "Turned up to {volume}.", "Is this better?"],
    "volume_down": ["Quieter: {volume}.", "Turned down to {volume}.", "Is this better?"],
    "volume_max": ["I'm already as loud as I go."],
    "volume_min": ["I'm already at the quietest."],
    "speaker_muted": ["Muted. Say \"unmute\" to bring me back.", "Going quiet. Say \"unmute\" when you want me back."],
    "speaker_unmuted": ["I'm back.", "Sound's back on.", "Unmuted."],
    "already_unmuted": ["I'm not muted.", "Sound's already on."],
    "mic_muted": [
        "Okay, I'll stop listening. Use my button or the hub to turn the microphone back on.",
    ],
    # --- memory -------------------------------------------------------------------------------
    "remembered": ["Got it: {fact}.", "Okay, I'll remember that {fact}.", "Noted: {fact}.", "I'll remember that, {user}."],
    "remember_updated": ["Updated: {fact}.", "Okay, I've changed that: {fact}."],
    "remember_what": ["What should I remember?"],
    "recalled": ["{fact_cap}.", "You told me {fact}.", "If I remember right, {fact}."],
    "recalled_many": ["I know a few things: {facts}."],
    "about_you": ["You're {user}. {facts_cap}.", "You're {user}, and {facts}."],
    "about_you_nameless": ["I don't know your name yet, but {facts}."],
    "recall_unknown": [
        "I don't know {query} yet. You can tell me: say \"remember that\" and the fact.",
        "You haven't told me {query}. Want to? Say \"remember that\", then the fact.",
    ],
    "recall_nothing": ["I don't know anything about that yet."],
    "forgot": ["Forgotten: {fact}.", "Okay, I've forgotten that {fact}."],
    "forget_unknown": ["I didn't know anything about {query} anyway."],
    "forget_all_confirm": ["Forget everything you've told me? Yes or no?"],
    "forgot_all": ["Done. My memory of you is a blank page.", "All forgotten."],
    "kept": ["Okay, I'll keep it all.", "Alright, nothing forgotten."],
    "ask_yes_no": ["Sorry, was that a yes or a no?"],
    # --- who you are --------------------------------------------------------------------------
    "name_set": ["Nice to meet you, {user}.", "Hello, {user}. I'll remember that.", "{user} it is."],
    "name_changed": ["Okay, {user} from now on.", "Got it, I'll call you {user}."],
    "name_known": ["You're {user}.", "Your name is {user}.", "You're {user}, of course."],
    "name_unknown": ["You haven't told me your name yet. What should I call you?"],
    "name_bad": ["Hmm, that doesn't sound like a name. What should I call you?"],
    "my_name": [
        "I'm Samantha.", "Samantha. Nice to talk to you.",
        "I'm Samantha, the voice in this speaker. Nothing you say to me leaves the room.",
    ],
    # --- small talk ---------------------------------------------------------------------------
    "greeting": ["Hi!", "Hello!", "Hey there.", "Hi, {user}!", "Hello, {user}."],
    "greeting_morning": ["Good morning!", "Morning, {user}!"],
    "greeting_evening": ["Good evening!", "Evening, {user}."],
    "thanks": ["You're welcome.", "Any time.", "Happy to help.", "My pleasure, {user}."],
    "how_are_you": [
        "I'm good, thanks. Everything's quiet in here.",
        "Doing well! Ready when you are.",
        "Pretty good. Better now you're talking to me.",
    ],
    "yes_nothing": ["Okay!", "Great."],
    "no_nothing": ["Okay.", "Alright."],
    "what_can_you_do": [
        "I can set timers and alarms, tell you the time and date, turn things in your home on and off, "
        "change my volume, and remember things for you. Try \"set a pasta timer for nine minutes\".",
        "Timers, alarms, the time and date, your lights and other devices, and remembering things "
        "like birthdays. For example: \"remember that Amy's birthday is May 3rd\".",
    ],
    # --- the home -----------------------------------------------------------------------------
    "home_ask_which_room": ["Which room?", "Sure. Which room?"],
    "home_ask_light_value": ["What should I set the {target} to? A brightness, like 50 percent, or a colour."],
    "home_ask_temperature": ["What temperature should I set the {target} to?"],
    "home_ask_which_device": ["Which one: {choices}?"],
    "home_unknown_device": ["I don't know a device called {name}.", "I can't find {name} in your home."],
    "home_unknown_area": ["I don't see any {domain_words} in the {area}."],
    "home_nothing_to_control": ["I don't know any devices in your home yet. Is the hub connected?"],
    "home_failed": ["I can't reach the {target} right now.", "The {target} isn't answering right now."],
    "home_failed_reason": ["I couldn't do that for the {target}: {reason}."],
    "home_timeout": ["I can't reach the {target} right now.", "The {target} didn't answer, so I'm not sure that worked."],
    "home_confirm_unlock": ["Unlock the {target}? Yes or no?"],
    "home_confirm_open": ["Open the {target}? Yes or no?"],
    "home_cancelled": ["Okay, I left it as it is."],
    "turned_on": ["{target_cap} on.", "Okay, {target} on.", "Done, the {target} is on."],
    "turned_on_many": ["{target_cap} on.", "Done, {target} on."],
    "turned_off": ["{target_cap} off.", "Okay, {target} off.", "Done, the {target} is off."],
    "turned_off_many": ["{target_cap} off.", "Done, {target} off."],
    "locked": ["{target_cap} locked.", "Locked the {target}."],
    "unlocked": ["{target_cap} unlocked.", "Unlocked the {target}."],
    "opened": ["Opening the {target}.", "{target_cap} opening."],
    "closed": ["Closing the {target}.", "{target_cap} closing."],
    "brightness_set": ["{target_cap} at {brightness} percent.", "Okay, {target} to {brightness} percent."],
    "brighter": ["Brighter.", "A bit brighter.", "Turned up the {target}."],
    "dimmer": ["Dimmer.", "A bit dimmer.", "Turned down the {target}."],
    "color_set": ["{target_cap} is {color} now.", "Okay, {color}."],
    "temperature_set": ["Okay, {target} set to {temperature} degrees.", "Set to {temperature} degrees."],
    "home_done": ["Done.", "Okay, done.", "All set."],
    "home_state": ["The {target} is {state}.", "{target_cap} is {state}."],
    "home_state_unknown": ["I don't know what the {target} is doing right now."],
}

_FORMATTER = Formatter()


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in _FORMATTER.parse(template) if name}


def capitalize_first(text: str) -> str:
    return text[:1].upper() + text[1:]


class Responses:
    """Picks a varied, filled-in sentence for each reply key."""

    def __init__(self, catalog: dict[str, list[str]] | None = None, seed: int | None = None) -> None:
        self.catalog = catalog or RESPONSES
        self._random = random.Random(seed)
        self._last: dict[str, str] = {}

    def say(self, key: str, **fields: object) -> str:
        """One variant for key, never the one used last time when there is a choice."""
        variants = self.catalog.get(key) or []
        user = str(fields.get("user") or "")
        usable = [v for v in variants if user or "{user}" not in v]
        if not usable:
            return ""
        if len(usable) > 1 and self._last.get(key) in usable:
            usable = [v for v in usable if v != self._last[key]]
        template = self._random.choice(usable)
        self._last[key] = template
        values = {name: "" for name in _fields(template)}
        values.update({k: ("" if v is None else str(v)) for k, v in fields.items()})
        for name in list(values):
            if name.endswith("_cap"):
                values[name] = capitalize_first(str(fields.get(name[:-4], "")))
        text = template.format(**values)
        return re.sub(r"\s+([.,!?:])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()
