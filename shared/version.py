"""The installed stlar-dl version, for `--version` and the start record."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stlar-dl")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
