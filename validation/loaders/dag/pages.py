"""The zygote's memory in huge pages, so that forking a child per file is cheap.

After the zygote imported Airflow its heap is about 85 MB of 4 KiB pages, and each
``fork()`` copies the page-table entry of every one of them (``copy_page_range``: about
6 ms a child, serial in the zygote), and each child's exit tears them down again.
``madvise(MADV_COLLAPSE)`` (Linux 6.1) turns the 2 MiB-aligned parts of the anonymous
mappings into transparent huge pages, whatever ``/sys/kernel/mm/transparent_hugepage``
says: ``fork()`` then copies one entry per 2 MiB. A child writing to a shared huge page
(Python's reference counts do, on every object it touches) has the kernel split it and
copy the one 4 KiB page, as before (``do_huge_pmd_wp_page``, since Linux 5.8).

Measured with ``benchmarks/child_cost.py`` on 300 generated files: fork 6.1 ms to 2.7 ms,
a child's CPU time 23.5 ms to 19.2 ms; the collapse itself takes about 0.25 s, once, while
the validator checks the roles. Only speed depends on it: where the kernel is older, the
memory cannot be had, or there is no ``/proc``, nothing happens.
"""

from __future__ import annotations

import ctypes
import sys
from dataclasses import dataclass

MADV_COLLAPSE = 25  # include/uapi/asm-generic/mman-common.h, the same on x86-64 and aarch64
PMD_SIZE = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"


@dataclass(frozen=True)
class Collapsed:
    """What ``collapse_heap`` did: huge pages made, ranges the kernel refused."""

    huge_pages: int
    refused: int


def huge_page_size() -> int:
    """A huge page's size: 2 MiB on x86-64 and on aarch64 with 4 KiB pages."""
    try:
        with open(PMD_SIZE, encoding="ascii") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return 2 * 1024 * 1024


def anonymous_ranges(maps: str, huge: int) -> list[tuple[int, int]]:
    """The ``huge``-aligned parts of the private, writable, anonymous mappings (the heap
    and Python's arenas) in the text of ``/proc/<pid>/maps``."""
    ranges = []
    for line in maps.splitlines():
        fields = line.split()
        if len(fields) < 5 or not fields[1].startswith("rw") or fields[1][3:4] != "p":
            continue
        name = fields[5] if len(fields) > 5 else ""
        if name not in ("", "[heap]"):
            continue  # files, the stack, vdso and the like stay as they are
        start, end = (int(address, 16) for address in fields[0].split("-"))
        low = -(-start // huge) * huge
        high = end // huge * huge
        if high > low:
            ranges.append((low, high))
    return ranges


def collapse_heap() -> Collapsed:
    """Ask the kernel to back this process's anonymous memory with huge pages."""
    if not sys.platform.startswith("linux"):
        return Collapsed(0, 0)
    try:
        with open("/proc/self/maps", encoding="ascii") as handle:
            maps = handle.read()
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return Collapsed(0, 0)
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    madvise.restype = ctypes.c_int
    made = refused = 0
    huge = huge_page_size()
    for low, high in anonymous_ranges(maps, huge):
        if madvise(low, high - low, MADV_COLLAPSE) == 0:
            made += (high - low) // huge
        else:  # EINVAL before Linux 6.1, EAGAIN or ENOMEM without free huge pages
            refused += 1
    return Collapsed(made, refused)
