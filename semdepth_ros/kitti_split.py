"""KITTI split lists (Monodepth2 format): one ``<date>/<drive>_sync <frame> <l|r>`` line per target frame.

Read by the training datasets, the evaluation and `eval-bag --split` (for bags made by kitti2bag).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SIDES = ("l", "r")


@dataclass(frozen=True)
class SplitEntry:
    """One line ``<date>/<drive>_sync <frame> <l|r>``."""

    folder: str
    frame: int
    side: str


def is_split_line(line: str) -> bool:
    """Whether a line has the split format (three fields, a frame number and a side)."""
    fields = line.split()
    return len(fields) == 3 and fields[1].isdigit() and fields[2] in SIDES


def read_split(path: str | Path) -> list[SplitEntry]:
    """Parse a split file; malformed lines and empty files raise ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: {path}")
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if not is_split_line(line):
            raise ValueError(f"{path}:{number}: expected '<date>/<drive>_sync <frame> <l|r>', got {line!r}")
        entries.append(SplitEntry(fields[0], int(fields[1]), fields[2]))
    if not entries:
        raise ValueError(f"split file {path} has no entries")
    return entries
