"""The training data's public names, one import for the trainer's callers (export, benchmarks, tests).

The work is split by idea: `trainer.manifest` reads a manifest and reports bad rows by file and line;
`trainer.segments` holds the validated data set and finds, loads, checks, z-scores and pads one segment;
`trainer.batches` batches a data set for training and validation. Importing this module does not import
torch, so validating a data set runs in a light process.
"""

from trainer.batches import collate_segments, make_loader
from trainer.manifest import REQUIRED_COLUMNS, load_manifest
from trainer.segments import SegmentSet, check_min_length, load_segment, pad_batch, resolve_segment, zscore

__all__ = ["REQUIRED_COLUMNS", "SegmentSet", "check_min_length", "collate_segments", "load_manifest",
           "load_segment", "make_loader", "pad_batch", "resolve_segment", "zscore"]
