"""Bounded reading of one saved observation (.npy): header and data checked against the file before any allocation."""
from __future__ import annotations

import math
import os
import stat
from pathlib import Path

from carverify.errors import UsageError

# A saved observation is one frame: a 64x64 RGB frame is 12 KiB, a 512x512 one 768 KiB.
MAX_OBS_BYTES = 64 << 20
_MAX_HEADER_BYTES = 4096


def read_npy(path: str | Path, max_bytes: int = MAX_OBS_BYTES):
    """The array saved at `path`, or UsageError in one line.

    numpy's own loader trusts the header: a header that claims a huge shape makes it try to
    allocate that shape.  Here the shape must describe exactly the bytes the file holds, and
    those bytes must fit `max_bytes`; object arrays (pickles) are refused.
    """
    import numpy as np
    from numpy.lib import format as npformat

    name = os.fspath(path)
    try:
        info = os.stat(name)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"cannot read observation {name}: not a regular file")
        if info.st_size > max_bytes + _MAX_HEADER_BYTES:
            raise UsageError(f"cannot read observation {name}: {info.st_size} bytes, more than the "
                             f"{max_bytes}-byte limit for one observation")
        with open(name, "rb") as handle:
            version = npformat.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = npformat.read_array_header_1_0(handle, max_header_size=_MAX_HEADER_BYTES)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = npformat.read_array_header_2_0(handle, max_header_size=_MAX_HEADER_BYTES)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
            if dtype.hasobject:
                raise UsageError(f"cannot read observation {name}: it holds Python objects (a pickle), "
                                 "which carverify never loads")
            count = math.prod(shape)
            expected = count * dtype.itemsize
            remaining = info.st_size - handle.tell()
            if expected != remaining:
                raise UsageError(f"cannot read observation {name}: its header claims shape {shape} of "
                                 f"{dtype} ({expected} bytes) but the file holds {remaining} bytes of data")
            data = np.frombuffer(handle.read(expected), dtype=dtype, count=count)
    except FileNotFoundError:
        raise UsageError(f"cannot read observation {name}: no such file") from None
    except OSError as exc:
        raise UsageError(f"cannot read observation {name}: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:  # numpy's header parser: not a .npy file, or a broken header
        raise UsageError(f"cannot read observation {name}: not a valid .npy file ({str(exc).splitlines()[0]})") from None
    order = "F" if fortran else "C"
    return data.reshape(shape, order=order).copy()
