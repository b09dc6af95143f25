"""Counted skips of unusable samples: nothing is replaced, everything is counted, too many stops the run.

A record whose image cannot be used (missing, a folder, empty, unreadable, truncated, corrupt; see
:mod:`bhpe_tf.images`) or whose sample cannot be built is **skipped, never replaced**:

* **training**: the sample's slot of the step's batch is dropped (the loss is the mean over the
  usable samples of the global batch; a step whose whole batch is unusable makes no update). The
  data position still advances, so a resumed run skips exactly the same samples.
* **validation**: the validation set is fixed once per run: the first ``data.val_samples``
  validation records (all of them when there are fewer) minus the unusable ones, the same set
  every epoch (no record stands in for another, none is counted twice).

Counts per split and reason appear in the progress line, the log and ``summary.json``
(``skips``); the training counts are stored in the checkpoint, so they cover the whole run across
resumes. :class:`SkipLedger.check` stops the run (:class:`SkipRateExceeded`, one line naming the
first files) when more than ``train.max_skip_rate`` (default 5 %) of the samples read were skipped,
judged once :data:`MIN_SAMPLES_FOR_RATE` samples (or the whole set, if smaller) were read.
"""
from __future__ import annotations

import numpy as np

from bhpe_tf.errors import UserError
from bhpe_tf.images import REASONS as IMAGE_REASONS

#: Skip reasons by code (code 0 = usable): the image reasons, then a sample that could not be built.
REASONS = IMAGE_REASONS + ("bad sample",)
MIN_SAMPLES_FOR_RATE = 1000
FIRST_FILES = 5  # files named in the log and in the stop message


class SkipRateExceeded(UserError, RuntimeError):
    """Too many unusable samples: the data is broken, not noisy."""


def skip_code(reason: str) -> int:
    """The int32 code a stream puts in its ``skip_code`` key (0 = usable)."""
    return REASONS.index(reason) + 1


def describe_counts(counts) -> str:
    """``"4 truncated, 2 missing"`` (largest first)."""
    items = sorted(((int(n), REASONS[i]) for i, n in enumerate(counts) if n), key=lambda t: (-t[0], t[1]))
    return ", ".join(f"{n} {reason}" for n, reason in items)


class SkipLedger:
    """Skips of one split: counts by reason, the first files, the rate limit.

    ``name_of(index)`` gives the file of a record index (what the stop message names);
    ``dataset_size`` is the number of records (``None`` for an endless source).
    """

    def __init__(self, *, split: str, name_of, dataset_size, max_rate: float, log=print):
        self.split, self.name_of, self.dataset_size, self.max_rate, self.log = split, name_of, dataset_size, \
            float(max_rate), log
        self.counts = np.zeros(len(REASONS), np.int64)
        self.seen = 0
        self.first_raw: list = []  # [(record index, code)] of the first FIRST_FILES skips

    @property
    def skipped(self) -> int:
        return int(self.counts.sum())

    @property
    def first(self) -> list:
        """``[(file, reason)]`` of the first skips."""
        return [(self.name_of(index), REASONS[code - 1]) for index, code in self.first_raw]

    def first_rows(self) -> np.ndarray:
        """:attr:`first_raw` as a ``(FIRST_FILES, 2)`` int64 array padded with -1 (for the checkpoint)."""
        rows = np.full((FIRST_FILES, 2), -1, np.int64)
        for row, pair in enumerate(self.first_raw[:FIRST_FILES]):
            rows[row] = pair
        return rows

    def state(self) -> np.ndarray:
        """Counts by reason followed by the samples read (for the checkpoint)."""
        return np.r_[self.counts, self.seen].astype(np.int64)

    def restore(self, *, state, first_rows) -> None:
        """State of a resumed run (:meth:`state` and :meth:`first_rows` live in the checkpoint)."""
        state = np.asarray(state, np.int64)
        self.counts, self.seen = state[:-1].copy(), int(state[-1])
        self.first_raw = [(int(i), int(c)) for i, c in np.asarray(first_rows) if i >= 0]

    def add(self, codes, indices) -> int:
        """Record one batch's ``skip_code`` / ``record_index`` values; returns how many were skipped."""
        codes = np.asarray(codes).reshape(-1)
        indices = np.asarray(indices).reshape(-1)
        self.seen += codes.size
        bad = np.flatnonzero(codes > 0)
        for i in bad:
            reason = REASONS[int(codes[i]) - 1]
            self.counts[int(codes[i]) - 1] += 1
            if len(self.first_raw) < FIRST_FILES:
                self.first_raw.append((int(indices[i]), int(codes[i])))
                self.log(f"skipped {self.split} sample {self.name_of(int(indices[i]))} ({reason})")
        return int(bad.size)

    def rate(self) -> float:
        return self.skipped / max(self.seen, 1)

    def check(self, *, final: bool = False) -> None:
        """Raise :class:`SkipRateExceeded` when the rate is above the limit (and enough was read to say)."""
        if not self.skipped:
            return
        enough = self.seen >= min(MIN_SAMPLES_FOR_RATE, self.dataset_size or MIN_SAMPLES_FOR_RATE)
        if (enough or final) and self.rate() > self.max_rate:
            first = "; ".join(f"{name} ({reason})" for name, reason in self.first)
            raise SkipRateExceeded(
                f"{self.split} data: {self.skipped} of {self.seen} samples skipped ({100 * self.rate():.1f} % > "
                f"limit {100 * self.max_rate:g} %: {describe_counts(self.counts)}); first: {first}. Fix or remove "
                f"these files, or raise train.max_skip_rate")

    def progress(self) -> str:
        """For the progress line: ``""`` or ``"skipped 3 (2 truncated, 1 missing)"``."""
        return f"skipped {self.skipped} ({describe_counts(self.counts)})" if self.skipped else ""

    def report(self) -> dict:
        """For ``summary.json``."""
        return {"samples_read": self.seen, "skipped": self.skipped,
                "by_reason": {REASONS[i]: int(n) for i, n in enumerate(self.counts) if n},
                "first": [{"file": name, "reason": reason} for name, reason in self.first]}
