"""The one image reader of the package: datasets, the trainer and inference all decode through it.

:func:`read_image` returns RGB (or BGR) uint8 ``(H, W, 3)`` or raises :class:`ImageReadError`, a
:class:`~bhpe_tf.data.records.DataError` naming the file (and record) with a machine-readable
:attr:`~ImageReadError.reason` from :data:`REASONS`, which the trainer counts skips by.

Checks beyond ``cv2.imdecode`` returning ``None``: OpenCV decodes a JPEG cut short (interrupted
download or copy) into an image whose lower part is grey, with only a warning on stderr, and does
the same for a PNG missing its last chunks. A JPEG must end in its end-of-image marker
(``FF D9``, allowing trailing padding) and a PNG must contain its ``IEND`` chunk.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from bhpe_tf.data.records import DataError

#: Why an image could not be used, in the order the trainer reports them.
REASONS = ("missing", "not a file", "empty", "unreadable", "truncated", "corrupt")
_JPEG_TAIL = 1024  # bytes searched for the JPEG end-of-image marker (writers may pad after it)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageReadError(DataError):
    """An image file that cannot be used; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, message: str, *, reason: str, path: Any = None, record: Any = None):
        if reason not in REASONS:
            raise ValueError(f"unknown image error reason {reason!r}")
        self.reason = reason
        super().__init__(message, path=path, record=record)


def read_image_bytes(path, *, record: Any = None) -> np.ndarray:
    """The file's bytes as uint8, or :class:`ImageReadError` (missing, a folder, empty, unreadable)."""
    path = os.fspath(path)
    if not os.path.lexists(path):
        raise ImageReadError("image file not found", reason="missing", path=path, record=record)
    if not os.path.isfile(path):
        raise ImageReadError("not a file (a folder or a broken link)", reason="not a file", path=path, record=record)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise ImageReadError(f"cannot read image ({err.strerror or err})", reason="unreadable", path=path,
                             record=record) from None
    if data.size == 0:
        raise ImageReadError("image file is empty", reason="empty", path=path, record=record)
    return data


def check_complete(data: np.ndarray, *, path=None, record: Any = None) -> None:
    """Raise :class:`ImageReadError` ``truncated`` when a JPEG / PNG stops before its end marker."""
    head = data[:8].tobytes()
    if head[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-_JPEG_TAIL:].tobytes():
        raise ImageReadError("truncated JPEG (no end-of-image marker)", reason="truncated", path=path, record=record)
    if head == _PNG_SIGNATURE and b"IEND" not in data[-64:].tobytes():
        raise ImageReadError("truncated PNG (no IEND chunk)", reason="truncated", path=path, record=record)


def read_image(path, *, record: Any = None, rgb: bool = True) -> np.ndarray:
    """Read an image as RGB (or, with ``rgb=False``, OpenCV's BGR) uint8 ``(H, W, 3)``.

    Grayscale, RGBA and 16-bit images are converted (``IMREAD_COLOR``); a missing file, a folder,
    an empty file, a file OpenCV cannot decode, or a truncated JPEG / PNG raises
    :class:`ImageReadError`.
    """
    import cv2

    data = read_image_bytes(path, record=record)
    check_complete(data, path=path, record=record)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ImageReadError("cannot decode image (corrupt or not an image format OpenCV reads)", reason="corrupt",
                             path=path, record=record)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if rgb else image
