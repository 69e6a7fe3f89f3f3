"""Errors that name what was wrong and what was expected."""


class CamevalError(Exception):
    """Base class of every error cameval raises on purpose."""


class ConfigError(CamevalError):
    """A config key is missing, malformed or points at something that is not there."""


class DataError(CamevalError):
    """An input file is missing, malformed or inconsistent with its manifest."""


class WriteError(CamevalError, OSError):
    """An output could not be written (disk full, quota, read-only file system); the target was
    left untouched and the temporary file removed."""
