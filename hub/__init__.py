"""The hub: ingests presses from kiosks and turns them into sentiment per location and hour."""

__version__ = "0.1.0"
