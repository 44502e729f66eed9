"""Training-side configuration: what a task looks like to the seed lifecycle."""

from esper.simic.features import TaskConfig

__all__ = ["TaskConfig"]
