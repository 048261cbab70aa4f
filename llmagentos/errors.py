"""Errors that the command line reports as one message, without a traceback."""


class ConfigError(ValueError):
    """Raised when the composed config has invalid keys or values. The message lists every problem."""


class DataError(ValueError):
    """Raised for missing files, malformed lines, missing columns and unknown labels."""


class RunFolderError(RuntimeError):
    """Raised when a new run would write into the folder of an earlier one."""


class ExportError(ValueError):
    """Raised when a task cannot be exported as an equivalent transformers model. The
    message names the task, the blocking setting and what to retrain with."""
