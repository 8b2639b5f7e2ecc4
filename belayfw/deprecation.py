"""Old names kept working for a while: reading one warns and gives the new one."""

from __future__ import annotations

import warnings
from typing import Any


class renamed:
    """A class attribute that stands for ``new`` and warns (``DeprecationWarning``) when read."""

    def __init__(self, new: str) -> None:
        self.new = new
        self.old = "?"

    def __set_name__(self, owner: type, name: str) -> None:
        self.owner = owner.__name__
        self.old = name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        warnings.warn(
            f"{self.owner}.{self.old} is now {self.owner}.{self.new}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(instance, self.new)
