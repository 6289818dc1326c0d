"""The panel service."""
