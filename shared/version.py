"""The stlar-dl version, for `--version` and the start record.

A literal, not `importlib.metadata`: importing that costs every command (even `stlar-dl stop`) tens of
milliseconds. pyproject.toml reads the version from here, so there is one place to change it.
"""

__version__ = "0.1.0"
VERSION_LINE = f"stlar-dl {__version__}"  # what `stlar-dl --version` prints
