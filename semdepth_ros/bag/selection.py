"""Which frames of a bag eval-bag evaluates: all, a range of image indices, or a split / list of stamps.

`--frames START:END` counts camera images in bag order from 0 (END exclusive, either end may be
left out). `--split FILE` is either a KITTI split in Monodepth2's format (lines
``<date>/<drive>_sync <frame> l``; only for bags made by kitti2bag, whose image i is KITTI frame i; lines
of other drives are ignored) or a list of image header stamps, one per line, in seconds (as
per_frame.csv prints them) or integer nanoseconds.
"""
from __future__ import annotations

import dataclasses
from decimal import Decimal, InvalidOperation
from pathlib import Path

from semdepth_ros.bag.io import BagError
from semdepth_ros.bag.markers import BagMarks
from semdepth_ros.kitti_split import is_split_line, read_split

STAMP_TOLERANCE_NS = 500_000   # a listed stamp matches an image within 0.5 ms (per_frame.csv prints microseconds)


def parse_range(text: str) -> tuple[int | None, int | None]:
    """'START:END' (either end optional) -> (start, stop); ValueError for anything else."""
    start, sep, stop = text.partition(":")
    if not sep:
        raise ValueError(f"expected START:END (e.g. 10:50, :100, 20:), got {text!r}")
    try:
        bounds = tuple(int(v) if v.strip() else None for v in (start, stop))
    except ValueError:
        raise ValueError(f"expected integer frame indices in START:END, got {text!r}") from None
    if any(b is not None and b < 0 for b in bounds) or (None not in bounds and bounds[1] <= bounds[0]):
        raise ValueError(f"frame range {text!r} is empty or negative")
    return bounds


@dataclasses.dataclass(frozen=True)
class FrameSelection:
    """What the user asked for; `resolve` turns it into a rule for one bag."""

    start: int | None = None
    stop: int | None = None
    split: Path | None = None

    def resolve(self, bag: str | Path, marks: BagMarks) -> "FrameFilter":
        if self.split is None:
            return FrameFilter(self.start, self.stop, None, None, self._range_text())
        lines = [line for line in Path(self.split).read_text().splitlines() if line.strip()] \
            if Path(self.split).is_file() else None
        if lines is None:
            raise BagError(f"split file not found: {self.split}")
        if not lines:
            raise BagError(f"split file {self.split} is empty")
        if is_split_line(lines[0]):
            return self._kitti(bag, marks)
        return self._stamps(lines)

    def _range_text(self) -> str:
        if self.start is None and self.stop is None:
            return "every frame"
        return f"frames {self.start or 0}:{'' if self.stop is None else self.stop} (--frames)"

    def _kitti(self, bag: str | Path, marks: BagMarks) -> "FrameFilter":
        try:
            entries = read_split(self.split)
        except ValueError as exc:
            raise BagError(str(exc)) from exc
        if not marks.kitti_frame_numbers:
            raise BagError(f"--split {self.split} names KITTI frames, but {bag} was not written by kitti2bag "
                           "(or was re-recorded), so its images cannot be matched to frame numbers; pass a list "
                           "of image stamps instead (the stamp column of per_frame.csv)")
        frames = {e.frame for e in entries if e.folder == marks.kitti_drive and e.side == "l"}
        if not frames:
            raise BagError(f"--split {self.split} has no left-camera ('l') line for this bag's drive "
                           f"{marks.kitti_drive}")
        return FrameFilter(self.start, self.stop, frames, None,
                           f"{len(frames)} frames of {marks.kitti_drive} listed in {self.split}")

    def _stamps(self, lines: list[str]) -> "FrameFilter":
        stamps = []
        for number, line in enumerate(lines, 1):
            try:
                value = Decimal(line.strip())
            except InvalidOperation:
                raise BagError(f"{self.split}:{number}: expected a KITTI split line or an image stamp "
                               f"(seconds or nanoseconds), got {line!r}") from None
            stamps.append(int(value) if "." not in line and value > 10**12 else int(value * 10**9))
        return FrameFilter(self.start, self.stop, None, sorted(stamps), f"{len(stamps)} stamps listed in {self.split}")


@dataclasses.dataclass(frozen=True)
class FrameFilter:
    """The frames of one bag to evaluate; ``describe`` names the frame set in the report."""

    start: int | None
    stop: int | None
    indices: set[int] | None          # image indices (KITTI frame numbers), or None
    stamps: list[int] | None          # sorted header stamps in ns, or None
    describe: str

    def keep(self, index: int, stamp_ns: int) -> bool:
        if self.start is not None and index < self.start:
            return False
        if self.stop is not None and index >= self.stop:
            return False
        if self.indices is not None and index not in self.indices:
            return False
        if self.stamps is not None:
            return any(abs(s - stamp_ns) <= STAMP_TOLERANCE_NS for s in self.stamps)
        return True

    def expected(self, images: int) -> int:
        """How many of ``images`` frames the filter keeps at most (for progress bars and sample spacing)."""
        count = max(0, min(images, self.stop if self.stop is not None else images) - (self.start or 0))
        if self.indices is not None:
            count = min(count, len(self.indices))
        if self.stamps is not None:
            count = min(count, len(self.stamps))
        return count
