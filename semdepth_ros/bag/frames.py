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

from semdepth_ros.bag.ground_truth import cloud_xyz, depth_image_gt, project_to_depth
from semdepth_ros.bag.io import TF_MESSAGE, TF_STATIC, BagCorruptError, BagError, BagMessage, BagReader, stamp_to_ns
from semdepth_ros.bag.transforms import StaticTransforms
from semdepth_ros.codec import CAMERA_INFO, COMPRESSED_IMAGE, IMAGE, POINT_CLOUD, message_to_rgb
from semdepth_ros.intrinsics import Camera, camera_for_image

DEFAULT_IMAGE_TOPIC = "/camera/image_raw"


@dataclasses.dataclass(frozen=True)
class BagTopics:
    image: str
    info: str
    gt: str
    gt_kind: str  # "lidar" (PointCloud2) or "depth" (Image)


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


def _pick(reader: BagReader, topic: str | None, msgtypes: tuple[str, ...], role: str, hint: str,
          preferred: str | None = None) -> str:
    """The user's topic (checked), else ``preferred`` if present, else the bag's only topic of that type."""
    if topic:
        reader.require(topic, msgtypes, role)
        return topic
    if preferred and reader.topics.get(preferred) in msgtypes:
        return preferred
    candidates = reader.topics_of_type(*msgtypes)
    if len(candidates) == 1:
        return candidates[0]
    found = f"candidates: {', '.join(candidates)}" if candidates else f"topics: {reader.describe_topics()}"
    raise BagError(f"cannot tell the {role} in {reader.path} ({found}); {hint}")


def _sibling_info(image_topic: str) -> str:
    """image_transport layout: /ns/image_raw[/compressed] -> /ns/camera_info."""
    parts = image_topic.rstrip("/").split("/")
    if parts[-1] == "compressed":
        parts = parts[:-1]
    return "/".join(parts[:-1] + ["camera_info"])


def camera_topics(reader: BagReader, image: str | None = None, info: str | None = None,
                  need_info: str | None = "to project the ground truth and to run the node") -> tuple[str, str | None]:
    """The image topic and its camera_info topic (None when the bag has none and ``need_info`` is None;
    otherwise a BagError saying what the intrinsics are needed for)."""
    image = _pick(reader, image, (IMAGE, COMPRESSED_IMAGE), "image topic", "pass --image-topic",
                  DEFAULT_IMAGE_TOPIC)
    if not reader.topics_of_type(CAMERA_INFO) and not info:
        if need_info is None:
            return image, None
        raise BagError(f"bag {reader.path} has no sensor_msgs/CameraInfo topic: intrinsics are needed {need_info}; "
                       f"record {_sibling_info(image)} together with {image} (topics: {reader.describe_topics()})")
    return image, _pick(reader, info, (CAMERA_INFO,), "camera_info topic", "pass --info-topic", _sibling_info(image))


def resolve_topics(reader: BagReader, image: str | None = None, info: str | None = None,
                   lidar: str | None = None, depth: str | None = None) -> BagTopics:
    """Decide the topics to evaluate, with errors that list what the bag does have."""
    if lidar and depth:
        raise BagError("give either a LiDAR topic or a depth topic as ground truth, not both")
    image, info = camera_topics(reader, image, info)
    if depth:
        reader.require(depth, (IMAGE,), "depth ground-truth topic")
        return BagTopics(image, info, depth, "depth")
    lidar = _pick(reader, lidar, (POINT_CLOUD,), "LiDAR ground-truth topic",
                  "pass --lidar-topic (sensor_msgs/PointCloud2) or --depth-topic (32FC1/16UC1 Image)")
    return BagTopics(image, info, lidar, "lidar")


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


class GroundTruth:
    """Turns a frame's ground-truth message into a depth map at the image's size and intrinsics."""

    def __init__(self, kind: str, transforms: StaticTransforms, extrinsic: np.ndarray | None = None) -> None:
        self.kind = kind
        self.transforms = transforms
        self.extrinsic = extrinsic
        self._cache: dict[tuple[str, str], np.ndarray] = {}

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
        if self.kind == "depth":
            return depth_image_gt(frame.gt)
        t = self.camera_from_lidar(frame.camera_frame, frame.gt.header.frame_id)
        return project_to_depth(cloud_xyz(frame.gt), t, k, height, width)


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
