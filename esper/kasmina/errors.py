"""Errors a slot raises outside forward. Each is also the type the original package's
callers catch, so `except RuntimeError` and `except ValueError` both keep working."""


class SlotOccupiedError(RuntimeError, ValueError):
    """Germinating a slot that already holds a seed."""


class SeedShapeError(ValueError, AssertionError):
    """A blueprint whose seed changes the shape of the features it receives."""
