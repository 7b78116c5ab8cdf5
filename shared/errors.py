"""Typed exceptions raised by library code; the CLI turns them into one-line messages and exit code 2."""


class StlarError(Exception):
    """Base of every error a user can fix: the message names the file/row/field, the problem and the fix."""


class InputError(StlarError):
    """Bad user input: a manifest, a segment file, an option value or a path."""


class RunDirError(StlarError):
    """The run directory cannot be used: not writable, a file instead of a folder, locked by another trainer."""


class LogWriteError(StlarError):
    """Appending to the training log failed (disk full, permissions); the log keeps only complete records."""


class ExportError(StlarError):
    """An exported model does not reproduce its checkpoint, or cannot be written; nothing is left behind."""


class OutputClosed(Exception):
    """The reader of our output went away (`stlar-dl replay RUN_DIR | head -1`): not an error, nothing more to
    print. Not an OSError, so that no layer in between mistakes it for one; the CLI ends quietly with 0."""
