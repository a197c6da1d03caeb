"""The training frames of rosbags: chosen in one streaming pass and cached at the network size on disk.

A recording is not a training set as it comes. While the robot stands still, consecutive frames carry
no parallax and the photometric loss degenerates (the KITTI training data of Monodepth2 and of
Semantically-Guided Representation Learning, Sec. 5.1, drop such static frames as Zhou et al. 2017
do); frames whose stamps repeat or run backwards are duplicates; a gap in the stamps (dropped
messages, a paused recorder) means the frames on either side are no neighbours. And a camera at 30 Hz
on a slow robot moves too little between frames for useful parallax, so frames are kept only once the
camera has moved enough since the last kept one: the frame stride follows the speed.

Motion comes from the odometry when the bag has it (metres, `semdepth_ros.bag.odometry`), else from
the photometric change of small grey thumbnails (mean absolute difference in [0, 1]).

Memory stays bounded: images are decoded one at a time and only the kept ones are stored, resized to
the network input, in one uint8 file (``frames.u8``, read back as a memory map) whose size is capped;
``index.json`` holds stamps, poses, intrinsics, the counts and notes. A cache built with the same bags
and settings is reused (a resumed run does not read the bags again).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from semdepth_ros.bag.frames import camera_topics
from semdepth_ros.bag.io import BagCorruptError, BagError, BagReader, find_bags, stamp_to_ns
from semdepth_ros.bag.odometry import ODOMETRY_SOURCES, CameraTrajectory, read_camera_trajectory
from semdepth_ros.bag.transforms import parse_extrinsic
from semdepth_ros.codec import InputError, message_to_rgb
from semdepth_ros.intrinsics import camera_for_image, load_intrinsics, rescale_to

INDEX_FILE = "index.json"
FRAMES_FILE = "frames.u8"
CACHE_VERSION = 1
THUMB_DIVISOR = 4      # thumbnails for the photometric change: 1/4 of the network size


@dataclasses.dataclass(frozen=True)
class BagSource:
    """Which bags and topics, and where intrinsics and odometry come from."""

    bags: tuple[str, ...]
    image_topic: str | None = None
    info_topic: str | None = None
    intrinsics: str | None = None          # YAML (intrinsics.yaml / camera_info.yaml) for bags without camera_info
    odometry: str = "auto"                 # auto, odometry, tf or none (semdepth_ros.bag.odometry)
    odom_topic: str | None = None
    fixed_frame: str | None = None         # /tf: the world-fixed frame (default: odom, map or world)
    camera_extrinsic: str | None = None    # 'x y z qx qy qz qw': camera optical frame in the odometry child frame


@dataclasses.dataclass(frozen=True)
class SelectionRules:
    """When a frame is kept (see the module docstring)."""

    min_baseline: float = 0.1      # metres moved since the last kept frame (odometry)
    still_speed: float = 0.05      # m/s: slower than this the robot stands still (odometry)
    min_change: float = 0.03       # photometric change since the last kept frame (no odometry)
    still_change: float = 0.004    # photometric change from the previous frame below which it stands still
    max_gap: float = 3.0           # a stamp step over this many median frame periods breaks the sequence
    cache_mb: float = 2048.0       # cap on the cached frames on disk

    def __post_init__(self) -> None:
        for name in ("min_baseline", "still_speed", "min_change", "still_change"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_gap <= 1 or self.cache_mb <= 0:
            raise ValueError(f"max_gap must be > 1 and cache_mb > 0, got {self.max_gap}, {self.cache_mb}")


COUNT_NAMES = ("images", "undecodable", "duplicates", "no_intrinsics", "no_odometry", "stationary", "stride",
               "over_cache", "kept")


@dataclasses.dataclass
class BagSummary:
    """What one bag gave: image stamps read (for the time split), counts and notes."""

    path: str
    image_topic: str
    camera_frame: str
    odometry: str | None                   # the odometry source used, or None
    stamps: list[int]                      # header stamps of every image read, in bag order
    counts: dict[str, int]
    gaps: int = 0
    truncated: bool = False


@dataclasses.dataclass
class CachedFrame:
    bag: int
    raw_index: int          # position among the bag's image messages (eval-bag --frames numbers them so)
    stamp_ns: int
    segment: int            # frames of one segment may be neighbours
    K: list[list[float]]    # 3x3 at the cache (network) size
    pose: list[list[float]] | None  # 4x4 T_fixed_camera, or None without odometry


def _thumbnail(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (max(1, w // THUMB_DIVISOR), max(1, h // THUMB_DIVISOR)), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


def photometric_change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails (0 = identical, 1 = black vs white)."""
    return float(np.mean(np.abs(a - b)))


class _Writer:
    """Appends kept frames to the frames file until the size cap."""

    def __init__(self, path: Path, frame_bytes: int, cap_bytes: float) -> None:
        self.file = path.open("wb")
        self.frame_bytes = frame_bytes
        self.capacity = int(cap_bytes // frame_bytes)
        self.count = 0

    @property
    def full(self) -> bool:
        return self.count >= self.capacity

    def append(self, image: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
        self.count += 1

    def close(self) -> None:
        self.file.close()


class BagFrames:
    """The cached frames and their index; build with :meth:`open_or_build`."""

    def __init__(self, folder: Path, index: dict[str, Any]) -> None:
        self.folder = folder
        self.index = index
        self.height, self.width = index["height"], index["width"]
        self.frames = [CachedFrame(**f) for f in index["frames"]]
        self.bags = [BagSummary(**b) for b in index["bags"]]
        self.notes: list[str] = index["notes"]
        shape = (len(self.frames), self.height, self.width, 3)
        self._images = (np.memmap(folder / FRAMES_FILE, dtype=np.uint8, mode="r", shape=shape)
                        if self.frames else np.zeros(shape, np.uint8))

    def __len__(self) -> int:
        return len(self.frames)

    def image(self, i: int) -> np.ndarray:
        """HxWx3 uint8 RGB of kept frame ``i`` (a copy: the memory map stays read-only)."""
        return np.array(self._images[i])

    @property
    def has_odometry(self) -> bool:
        return bool(self.frames) and all(f.pose is not None for f in self.frames)

    def split_stamp(self, bag: int, val_fraction: float) -> int:
        """Stamp from which a bag's frames are held back: the last ``val_fraction`` of its time span."""
        stamps = self.bags[bag].stamps
        first, last = min(stamps), max(stamps)
        return int(round(first + (1.0 - val_fraction) * (last - first)))

    def held_back_start(self, bag: int, val_fraction: float) -> int:
        """The first image (bag order, as eval-bag --frames counts) at or after the split stamp."""
        split = self.split_stamp(bag, val_fraction)
        stamps = self.bags[bag].stamps
        return next((i for i, s in enumerate(stamps) if s >= split), len(stamps))

    def counts(self) -> dict[str, int]:
        total = dict.fromkeys(COUNT_NAMES, 0)
        for bag in self.bags:
            for name, value in bag.counts.items():
                total[name] += value
        total["gaps"] = sum(b.gaps for b in self.bags)
        return total

    def describe(self) -> str:
        """One line of counts for the log and the report."""
        c = self.counts()
        parts = [f"{c['images']} images read", f"{c['kept']} kept"]
        labels = {"stationary": "stationary", "stride": "too little motion since the last kept frame (stride)",
                  "duplicates": "duplicate or backward stamps", "undecodable": "undecodable",
                  "no_intrinsics": "before any camera_info", "no_odometry": "outside the odometry",
                  "over_cache": "over the cache limit"}
        parts += [f"{c[k]} {label}" for k, label in labels.items() if c[k]]
        if c["gaps"]:
            parts.append(f"{c['gaps']} stamp gaps (sequence split there)")
        return ", ".join(parts)

    # ------------------------------------------------------------------ building
    @classmethod
    def open_or_build(cls, folder: str | os.PathLike, source: BagSource, selection: SelectionRules,
                      height: int, width: int, progress: bool = True) -> "BagFrames":
        """The cache in ``folder`` if it was built from the same bags and settings, else a new one."""
        folder = Path(folder)
        bags = [bag for path in source.bags for bag in find_bags(path)]
        if not bags:
            raise BagError("no bag given")
        key = _cache_key(bags, source, selection, height, width)
        index_path = folder / INDEX_FILE
        if index_path.is_file():
            index = json.loads(index_path.read_text())
            if index.get("key") == key:
                return cls(folder, index)
        folder.mkdir(parents=True, exist_ok=True)
        index_path.unlink(missing_ok=True)  # a build that dies half-way must not leave an index that matches
        index = _build(folder, bags, source, selection, height, width, progress)
        index["key"] = key
        tmp = index_path.with_name(INDEX_FILE + ".tmp")
        tmp.write_text(json.dumps(index))
        os.replace(tmp, index_path)
        return cls(folder, index)


def _cache_key(bags: list[Path], source: BagSource, selection: SelectionRules, height: int, width: int) -> str:
    """Bags (path, size, time of each storage file) and every setting that changes the cache."""
    files = []
    for bag in bags:
        for f in sorted([bag] if bag.is_file() else bag.iterdir()):
            stat = f.stat()
            files.append([str(f.resolve()), stat.st_size, stat.st_mtime_ns])
    text = json.dumps([CACHE_VERSION, files, dataclasses.asdict(source), dataclasses.asdict(selection), height, width],
                      sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()


def _build(folder: Path, bags: list[Path], source: BagSource, selection: SelectionRules, height: int, width: int,
           progress: bool) -> dict[str, Any]:
    writer = _Writer(folder / FRAMES_FILE, height * width * 3, selection.cache_mb * 2 ** 20)
    frames: list[CachedFrame] = []
    summaries: list[BagSummary] = []
    notes: list[str] = []
    segment = 0
    try:
        for number, bag in enumerate(bags):
            summary, segment = _scan_bag(number, bag, source, selection, height, width, writer, frames, notes,
                                         segment + 1, progress)
            summaries.append(summary)
            if writer.full:
                break
    finally:
        writer.close()
    return {"version": CACHE_VERSION, "height": height, "width": width, "notes": notes,
            "bags": [dataclasses.asdict(s) for s in summaries], "frames": [dataclasses.asdict(f) for f in frames]}


def _first_frame_id(reader: BagReader, image_topic: str, info_topic: str | None) -> str:
    """The camera frame: the first image's header frame_id, else the camera_info's."""
    for topic in (image_topic, info_topic):
        if topic is None:
            continue
        try:
            for item in reader.messages([topic]):
                if item.msg.header.frame_id:
                    return item.msg.header.frame_id
                break
        except BagCorruptError:
            continue
    return ""


def _trajectory(reader: BagReader, source: BagSource, camera_frame: str, notes: list[str]) -> CameraTrajectory | None:
    extrinsic = parse_extrinsic(source.camera_extrinsic) if source.camera_extrinsic else None
    if not camera_frame:
        if source.odometry not in ("auto", "none"):
            raise BagError(f"images in {reader.path} have no frame_id: the odometry cannot be tied to the camera")
        return None
    trajectory = read_camera_trajectory(reader, camera_frame, source.odometry, source.odom_topic, source.fixed_frame,
                                        extrinsic)
    if trajectory is not None:
        notes.extend(f"{reader.path.name}: {note}" for note in trajectory.notes)
    return trajectory


def _scan_bag(number: int, bag: Path, source: BagSource, selection: SelectionRules, height: int, width: int,
              writer: _Writer, frames: list[CachedFrame], notes: list[str], segment: int,
              progress: bool) -> tuple[BagSummary, int]:
    """Stream one bag's images through the selection, appending kept frames; returns (summary, segment)."""
    counts = dict.fromkeys(COUNT_NAMES, 0)
    with BagReader(bag) as reader:
        notes.extend(f"{bag.name}: {note}" for note in reader.notes)
        image_topic, info_topic = camera_topics(reader, source.image_topic, source.info_topic)
        if info_topic is None and not source.intrinsics:
            raise BagError(f"bag {bag} has no camera_info topic (sensor_msgs/CameraInfo) and no intrinsics file was "
                           f"given: record the camera_info beside {image_topic}, or pass --intrinsics "
                           "camera_info.yaml (ROS camera_info YAML or fx/fy/cx/cy)")
        intrinsics = load_intrinsics(source.intrinsics) if source.intrinsics else None
        if intrinsics is not None:
            info_topic = None  # the given file wins
        camera_frame = _first_frame_id(reader, image_topic, info_topic)
        trajectory = _trajectory(reader, source, camera_frame, notes)
        summary = BagSummary(str(bag), image_topic, camera_frame, trajectory.source if trajectory else None, [], counts)
        state = _Selector(selection, trajectory)
        topics = [image_topic] + ([info_topic] if info_topic else [])
        info = None
        stream = reader.messages(topics)
        bar = tqdm(total=reader.counts.get(image_topic, 0), unit="img", desc=f"select frames {bag.name}",
                   disable=not progress)
        try:
            for item in stream:
                if item.topic == info_topic:
                    info = item.msg
                    continue
                bar.update(1)
                raw_index = len(summary.stamps)
                stamp = stamp_to_ns(item.msg.header.stamp)
                summary.stamps.append(stamp)
                counts["images"] += 1
                if writer.full:
                    counts["over_cache"] += 1
                    continue
                verdict, K, image = _decode(item.msg, info, intrinsics, height, width, notes, bag.name)
                if verdict:
                    counts[verdict] += 1
                    continue
                verdict, pose, new_segment = state.judge(stamp, image)
                segment += new_segment
                if verdict:
                    counts[verdict] += 1
                    continue
                writer.append(image)
                counts["kept"] += 1
                frames.append(CachedFrame(number, raw_index, stamp, segment, K.tolist(),
                                          None if pose is None else pose.tolist()))
                if writer.full:
                    notes.append(f"{bag.name}: the frame cache reached its limit ({selection.cache_mb:g} MB) at "
                                 f"image {raw_index}; later images are not used (raise the cache limit or "
                                 "--min-baseline)")
        except BagCorruptError as exc:
            summary.truncated = True
            notes.append(f"{bag.name}: {exc}; training uses the {counts['images']} images read before it")
        finally:
            bar.close()
    summary.gaps = state.gaps
    if counts["images"] == 0:
        notes.append(f"{bag.name}: no image on {image_topic}")
    return summary, segment


def _decode(msg: Any, info: Any, intrinsics: tuple[np.ndarray, tuple[int, int] | None] | None, height: int,
            width: int, notes: list[str], name: str) -> tuple[str | None, np.ndarray | None, np.ndarray | None]:
    """(rejection reason or None, K at the network size, the image resized to it); ``intrinsics`` from a
    file (K and the size it describes) win over the camera_info ``info``."""
    try:
        rgb = message_to_rgb(msg)
        h, w = rgb.shape[:2]
        if intrinsics is not None:
            k = rescale_to(intrinsics[0], intrinsics[1], w, h)
        elif info is None:
            return "no_intrinsics", None, None
        else:
            k = camera_for_image(info, w, h).K
    except InputError as exc:
        note = f"{name}: {exc}"
        if note not in notes:
            notes.append(note)
        return "undecodable", None, None
    image = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if w >= width else cv2.INTER_LINEAR)
    return None, rescale_to(k, (w, h), width, height), image


class _Selector:
    """The per-bag state of the frame selection (see the module docstring)."""

    def __init__(self, selection: SelectionRules, trajectory: CameraTrajectory | None) -> None:
        self.selection = selection
        self.trajectory = trajectory
        self.gaps = 0
        self._periods: list[int] = []
        self._previous: tuple[int, np.ndarray | None, np.ndarray] | None = None   # stamp, pose, thumbnail
        self._kept: tuple[np.ndarray | None, np.ndarray] | None = None             # pose, thumbnail
        self._still = False

    def _gap(self, step: int) -> bool:
        """A stamp step much longer than the usual frame period (median of the steps so far)."""
        gap = len(self._periods) >= 3 and step > self.selection.max_gap * float(np.median(self._periods))
        if not gap:
            self._periods = (self._periods + [step])[-50:]
        return gap

    def judge(self, stamp: int, image: np.ndarray) -> tuple[str | None, np.ndarray | None, int]:
        """(rejection reason or None, camera pose, 1 when a new segment starts here)."""
        sel = self.selection
        if self._previous is not None and stamp <= self._previous[0]:
            return "duplicates", None, 0
        pose = None
        if self.trajectory is not None:
            pose = self.trajectory.pose_at(stamp)
            if pose is None:
                self._previous, self._kept = None, None  # no neighbour across a hole in the odometry
                return "no_odometry", None, 1
        thumb = _thumbnail(image)
        new_segment = 0
        previous, self._previous = self._previous, (stamp, pose, thumb)
        if previous is not None and self._gap(stamp - previous[0]):
            self.gaps += 1
            self._kept, new_segment = None, 1
        elif previous is not None:
            if pose is not None:
                still = np.linalg.norm(pose[:3, 3] - previous[1][:3, 3]) / ((stamp - previous[0]) / 1e9) < sel.still_speed
            else:
                still = photometric_change(thumb, previous[2]) < sel.still_change
            if still:
                self._still = True
                return "stationary", pose, 0
            if self._still:  # moving again: the world may have changed while standing; start afresh
                self._still, self._kept, new_segment = False, None, 1
        if self._kept is not None:
            if pose is not None:
                moved = np.linalg.norm(pose[:3, 3] - self._kept[0][:3, 3]) >= sel.min_baseline
            else:
                moved = photometric_change(thumb, self._kept[1]) >= sel.min_change
            if not moved:
                return "stride", pose, new_segment
        self._kept = (pose, thumb)
        return None, pose, new_segment
