"""Samantha's services and what they share: bus client, message types, settings, supervisor, `samantha`."""
