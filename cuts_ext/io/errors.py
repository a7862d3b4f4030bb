"""The exceptions of the file layer: each message names the file and the reason."""

from __future__ import annotations


class InputError(ValueError):
    """An input cannot be used: no such path, an empty folder or pattern, an unsupported or
    corrupt file, a mask that does not fit its image. The message starts with the path."""


class OutputExistsError(FileExistsError):
    """An output already exists and overwriting was not asked for."""
