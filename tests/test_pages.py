"""The zygote's heap in huge pages (validation.loaders.dag.pages), on the real kernel."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from validation.loaders.dag import pages

MIB = 1024 * 1024
MAPS = """\
55d0c0000000-55d0c0a00000 rw-p 00000000 00:00 0                          [heap]
7f0000100000-7f0000500000 rw-p 00000000 00:00 0
7f0000500000-7f0000600000 rw-p 00000000 00:00 0
7f0000600000-7f0000a00000 r--p 00000000 08:01 1234                       /usr/lib/libc.so.6
7f0000a00000-7f0000e00000 rw-p 00000000 08:01 1234                       /usr/lib/libc.so.6
7f0000e00000-7f0001200000 rw-s 00000000 00:01 99                         /dev/zero (deleted)
7ffc00000000-7ffc00400000 rw-p 00000000 00:00 0                          [stack]
"""


def test_only_the_aligned_parts_of_private_anonymous_memory_are_asked_for() -> None:
    assert pages.anonymous_ranges(MAPS, 2 * MIB) == [
        (0x55d0c0000000, 0x55d0c0a00000),  # the heap, whole
        (0x7f0000200000, 0x7f0000400000),  # an arena's aligned middle
    ]  # not the 1 MiB mapping, files, shared memory or the stack


CHILD = """
import json, sys
from validation.loaders.dag import pages
block = bytearray(64 * 1024 * 1024)  # malloc maps it: anonymous, private
for offset in range(0, len(block), 4096):
    block[offset] = 1
done = pages.collapse_heap()
with open("/proc/self/smaps_rollup") as handle:
    rollup = dict(line.split(":", 1) for line in handle if ":" in line)
print(json.dumps([done.huge_pages, done.refused, int(rollup["AnonHugePages"].split()[0])]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux memory only")
def test_the_kernel_backs_the_heap_with_huge_pages() -> None:
    made, refused, huge_kb = json.loads(subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True).stdout)
    if made == 0:
        pytest.skip(f"this kernel refused MADV_COLLAPSE ({refused} ranges): older than 6.1 "
                    "or no huge pages free")
    assert made >= 16 and huge_kb >= 16 * 2048
