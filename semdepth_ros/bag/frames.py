"""Camera frames of a bag paired with their ground truth: which topics, which transform, which scan.

Topics are taken from the user or found by type when the bag has exactly one candidate. Each image is
paired with the camera_info last seen and with the ground-truth message nearest in header stamp
(a LiDAR spinning at 10 Hz is never exactly synchronous with the camera). The pairing streams: an
image waits only until a ground-truth stamp at or after its own has been read.
"""
from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np

from semdepth_ros.bag.ground_truth import cloud_xyz, depth_image_gt
from semdepth_ros.bag.io import TF_MESSAGE, TF_STATIC, BagCorruptError, BagError, BagMessage, BagReader, stamp_to_ns
from semdepth_ros.bag.markers import BagMarks, own_outputs
from semdepth_ros.bag.transforms import StaticTransforms
from semdepth_ros.codec import CAMERA_INFO, COMPRESSED_IMAGE, DEPTH_ENCODINGS, IMAGE, POINT_CLOUD, message_to_rgb
from semdepth_ros.intrinsics import Camera, camera_for_image, rescale_to
from semdepth_ros.lidar import project_to_depth

DEFAULT_IMAGE_TOPIC = "/camera/image_raw"


@dataclasses.dataclass(frozen=True)
class BagTopics:
    image: str
    info: str
    gt: str
    gt_kind: str                      # "lidar" (PointCloud2) or "depth" (Image)
    gt_choice: str = "given"          # why this ground truth: given, declared by the bag's writer, only candidate
    own_outputs: tuple[str, ...] = ()  # this package's outputs in the bag: never ground truth

    def describe_gt(self) -> str:
        kind = "LiDAR" if self.gt_kind == "lidar" else "depth image"
        return f"{self.gt} ({kind}; {self.gt_choice})"


@dataclasses.dataclass
class BagFrame:
    """One camera image with what evaluating it needs; messages are rosbags objects plus raw CDR."""

    index: int
    stamp_ns: int               # image header stamp
    time_ns: int                # bag time of the image
    image: Any
    image_raw: bytes
    info: Any
    info_raw: bytes
    gt: Any | None              # nearest ground-truth message, None when none within max_dt
    gt_dt: float | None         # |stamp(gt) - stamp(image)| in seconds

    def rgb(self) -> np.ndarray:
        """HxWx3 uint8 (raises codec.InputError for an unsupported encoding)."""
        return message_to_rgb(self.image)

    def camera(self, width: int, height: int) -> Camera:
        """The camera_info's camera for the decoded image's size, as the node derives it."""
        return camera_for_image(self.info, width, height)

    @property
    def camera_frame(self) -> str:
        return self.image.header.frame_id or self.info.header.frame_id


GT_FLAGS = "--lidar-topic (sensor_msgs/PointCloud2) or --depth-topic (32FC1/16UC1 Image)"


def _image_encoding(reader: BagReader, topic: str) -> str | None:
    """Encoding of a topic's first Image (None when unreadable); CompressedImage counts as colour."""
    if reader.topics[topic] == COMPRESSED_IMAGE:
        return "compressed"
    first = reader.first_message(topic)
    return None if first is None else first.msg.encoding


def _pick_image(reader: BagReader, topic: str | None, own: dict[str, str]) -> str:
    """The user's camera topic (checked), else /camera/image_raw, else the bag's only colour image topic."""
    if topic:
        reader.require(topic, (IMAGE, COMPRESSED_IMAGE), "image topic")
        return topic
    if reader.topics.get(DEFAULT_IMAGE_TOPIC) in (IMAGE, COMPRESSED_IMAGE):
        return DEFAULT_IMAGE_TOPIC
    candidates = [t for t in reader.topics_of_type(IMAGE, COMPRESSED_IMAGE)
                  if t not in own and _image_encoding(reader, t) not in DEPTH_ENCODINGS]
    if len(candidates) == 1:
        return candidates[0]
    found = f"candidates: {', '.join(candidates)}" if candidates else f"topics: {reader.describe_topics()}"
    raise BagError(f"cannot tell the image topic in {reader.path} ({found}); pass --image-topic")


def _pick_info(reader: BagReader, topic: str | None, image: str) -> str:
    """The user's camera_info topic, else the one beside the image, else the bag's only one."""
    if topic:
        reader.require(topic, (CAMERA_INFO,), "camera_info topic")
        return topic
    candidates = reader.topics_of_type(CAMERA_INFO)
    if not candidates:
        raise BagError(f"bag {reader.path} has no sensor_msgs/CameraInfo topic: intrinsics are needed to "
                       f"project the ground truth and to run the node; record {_sibling_info(image)} together "
                       f"with {image} (topics: {reader.describe_topics()})")
    if _sibling_info(image) in candidates:
        return _sibling_info(image)
    if len(candidates) == 1:
        return candidates[0]
    raise BagError(f"cannot tell the camera_info topic in {reader.path} (candidates: {', '.join(candidates)}); "
                   "pass --info-topic")


def _sibling_info(image_topic: str) -> str:
    """image_transport layout: /ns/image_raw[/compressed] -> /ns/camera_info."""
    parts = image_topic.rstrip("/").split("/")
    if parts[-1] == "compressed":
        parts = parts[:-1]
    return "/".join(parts[:-1] + ["camera_info"])


def _gt_kind(reader: BagReader, topic: str) -> str:
    return "lidar" if reader.topics.get(topic) == POINT_CLOUD else "depth"


def _pick_ground_truth(reader: BagReader, image: str, lidar: str | None, depth: str | None,
                       marks: BagMarks, own: dict[str, str]) -> tuple[str, str, str]:
    """(topic, kind, why) of the ground truth; never one of this package's outputs.

    Auto-selection takes the topic the bag's writer declared (kitti2bag, the demo), else the only real
    LiDAR (a PointCloud2 that is not ours) or depth image (32FC1/16UC1, not ours); with none or several
    it refuses, naming the candidates and the flags that choose.
    """
    if lidar or depth:
        topic = lidar or depth
        reader.require(topic, (POINT_CLOUD,) if lidar else (IMAGE,),
                       "LiDAR ground-truth topic" if lidar else "depth ground-truth topic")
        if topic in own:
            raise BagError(f"{topic} in {reader.path} is {own[topic]}: the model cannot be graded against its own "
                           f"output; pass a real sensor with {GT_FLAGS}")
        return topic, "lidar" if lidar else "depth", "given"
    declared = marks.ground_truth
    if declared and declared in reader.topics and declared not in own \
            and reader.topics[declared] in (POINT_CLOUD, IMAGE):
        return declared, _gt_kind(reader, declared), f"declared by the bag's writer ({marks.source or 'semdepth_ros'})"
    candidates = [t for t in reader.topics_of_type(POINT_CLOUD) if t not in own]
    candidates += [t for t in reader.topics_of_type(IMAGE)
                   if t != image and t not in own and _image_encoding(reader, t) in DEPTH_ENCODINGS]
    if len(candidates) == 1:
        kind = _gt_kind(reader, candidates[0])
        return candidates[0], kind, f"the bag's only {'LiDAR' if kind == 'lidar' else 'depth image'}"
    skipped = f"; skipped as this package's outputs: {', '.join(sorted(own))}" if own else ""
    if candidates:
        listed = ", ".join(f"{t} ({'LiDAR' if _gt_kind(reader, t) == 'lidar' else 'depth image'})" for t in candidates)
        raise BagError(f"several ground-truth candidates in {reader.path}: {listed}{skipped}; choose one with "
                       f"{GT_FLAGS}")
    raise BagError(f"no ground truth in {reader.path}: no real LiDAR or depth image topic{skipped} "
                   f"(topics: {reader.describe_topics()}); pass {GT_FLAGS}")


def camera_topics(reader: BagReader, image: str | None = None, info: str | None = None) -> tuple[str, str | None]:
    """The camera's image topic (never one of this package's outputs) and its camera_info topic, or
    None for the latter when the bag has no CameraInfo at all (for callers that take intrinsics from
    elsewhere; `resolve_topics` refuses such a bag)."""
    image = _pick_image(reader, image, own_outputs(reader, BagMarks.read(reader.custom)))
    if not info and not reader.topics_of_type(CAMERA_INFO):
        return image, None
    return image, _pick_info(reader, info, image)


def resolve_topics(reader: BagReader, image: str | None = None, info: str | None = None,
                   lidar: str | None = None, depth: str | None = None) -> BagTopics:
    """Decide the topics to evaluate, with errors that list what the bag does have."""
    if lidar and depth:
        raise BagError("give either a LiDAR topic or a depth topic as ground truth, not both")
    marks = BagMarks.read(reader.custom)
    own = own_outputs(reader, marks)
    image = _pick_image(reader, image, own)
    info = _pick_info(reader, info, image)
    gt, kind, why = _pick_ground_truth(reader, image, lidar, depth, marks, own)
    return BagTopics(image, info, gt, kind, why, tuple(sorted(own)))


def read_static_transforms(reader: BagReader) -> tuple[StaticTransforms, list[BagMessage]]:
    """The /tf_static tree and its messages (usually a handful at the start; --record copies them).

    A bag that breaks off later is not this pass's concern: the frame pass meets the same damage
    and reports it together with the frames read before it.
    """
    tree, messages = StaticTransforms(), []
    if reader.topics.get(TF_STATIC) == TF_MESSAGE:
        try:
            for item in reader.messages([TF_STATIC]):
                tree.add_message(item.msg)
                messages.append(item)
        except BagCorruptError:
            pass
    return tree, messages


@dataclasses.dataclass(frozen=True)
class LidarProjection:
    """How a LiDAR scan becomes a depth map: the pixel convention of `semdepth_ros.lidar` and the size.

    KITTI data (bags from kitti2bag) use the KITTI convention at the calibration's rectified size, so
    eval-bag's ground truth is the one `semdepth evaluate` uses; other bags the camera_info convention
    at the image size.
    """

    convention: str = "camera_info"
    size: tuple[int, int] | None = None    # (width, height); None = the image's

    def describe(self) -> str:
        rule = "round(x) - 1, KITTI/Monodepth2" if self.convention == "kitti" else "round(x), camera_info"
        size = f"{self.size[0]}x{self.size[1]}" if self.size else "the image size"
        return f"projected at {size}, pixel = {rule}, nearest point per pixel"


class GroundTruth:
    """Turns a frame's ground-truth message into a depth map (LiDAR: at the projection's size)."""

    def __init__(self, kind: str, transforms: StaticTransforms, extrinsic: np.ndarray | None = None,
                 projection: LidarProjection = LidarProjection()) -> None:
        self.kind = kind
        self.transforms = transforms
        self.extrinsic = extrinsic
        self.projection = projection
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def describe(self) -> str:
        return "depth image registered to the camera" if self.kind == "depth" else self.projection.describe()

    def camera_from_lidar(self, camera_frame: str, lidar_frame: str) -> np.ndarray:
        """T_camera_lidar from the CLI extrinsic, else from /tf_static (BagError when unknown)."""
        if self.extrinsic is not None:
            return self.extrinsic
        key = (camera_frame, lidar_frame)
        if key not in self._cache:
            try:
                self._cache[key] = self.transforms.lookup(camera_frame, lidar_frame)
            except LookupError as exc:
                raise BagError(f"cannot place the LiDAR in the camera: {exc}; pass --extrinsic "
                               f"'x y z qx qy qz qw' (the LiDAR pose in the camera optical frame)") from exc
        return self._cache[key]

    def depth(self, frame: BagFrame, k: np.ndarray, height: int, width: int) -> np.ndarray:
        """Ground truth of a frame whose decoded image is (height, width) with intrinsics ``k``."""
        if self.kind == "depth":
            return depth_image_gt(frame.gt)
        t = self.camera_from_lidar(frame.camera_frame, frame.gt.header.frame_id)
        size = self.projection.size or (width, height)
        k = rescale_to(k, (width, height), *size)
        return project_to_depth(cloud_xyz(frame.gt), t, k, size[1], size[0], self.projection.convention)


def iter_frames(reader: BagReader, topics: BagTopics, max_dt: float) -> Iterator[BagFrame]:
    """Frames in bag order, each with the latest camera_info and the nearest-stamp ground truth.

    Images arriving before any camera_info wait for it; a bag that has none at all is an error.
    """
    pending: deque[Any] = deque()
    recent_gt: deque[tuple[int, Any]] = deque(maxlen=2)  # the GT just before and at/after an image
    info = None
    index = 0

    def ready(final: bool) -> bool:
        if not pending or info is None:
            return False
        return final or (bool(recent_gt) and recent_gt[-1][0] >= stamp_to_ns(pending[0].msg.header.stamp))

    def emit() -> BagFrame:
        nonlocal index
        item = pending.popleft()
        stamp = stamp_to_ns(item.msg.header.stamp)
        best = min(recent_gt, key=lambda g: abs(g[0] - stamp), default=None)
        gt, dt = None, None
        if best is not None and abs(best[0] - stamp) <= max_dt * 1e9:
            gt, dt = best[1], abs(best[0] - stamp) / 1e9
        frame = BagFrame(index, stamp, item.time_ns, item.msg, item.raw, info.msg, info.raw,
                         gt, dt)
        index += 1
        return frame

    for item in reader.messages([topics.image, topics.info, topics.gt]):
        if item.topic == topics.info:
            info = item
        elif item.topic == topics.image:
            pending.append(item)
        else:
            recent_gt.append((stamp_to_ns(item.msg.header.stamp), item.msg))
        while ready(final=False):
            yield emit()
    if pending and info is None:
        raise BagError(f"bag {reader.path} has no message on {topics.info}: the {len(pending)} images "
                       "cannot be used without intrinsics")
    while ready(final=True):
        yield emit()
