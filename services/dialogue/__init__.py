"""The dialogue service."""
