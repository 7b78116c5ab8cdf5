"""The `--lr-schedule` option's choices and defaults, apart from the schedule itself.

Every command's option parsing (`trainer/config.py`) needs these, while the schedule needs numpy through
the diagnostics: keeping them here lets `stlar-dl stop` and the other light commands start without numpy.
"""

SCHEDULES = ("none", "plateau")
DEFAULT_SCHEDULE = "none"
LR_FACTOR = 0.5  # multiply the lr by this on a plateau, 0 < factor < 1
MIN_LR = 1e-6  # never cut the lr below this, >= 0
