"""stlar-dl: train 1-D CNN detectors of HFO segments, and watch, diagnose and stop training from another process.

This package only composes the command line; the work lives in `trainer/`, `viewer/` and `shared/`.
"""

from shared.version import __version__

__all__ = ["__version__"]
