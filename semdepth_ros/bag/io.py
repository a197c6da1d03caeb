"""rosbag2 reading and writing through `rosbags` (pure Python: no ROS install, no rosbag2_py).

Messages are the `rosbags` dataclasses of the ROS 2 Jazzy type store, built from the field dicts of
`semdepth_ros.codec` so the node and the bag tools share one conversion. Reading turns every way a
bag can be unusable (wrong path, truncated or corrupt storage, missing topic) into a `BagError` whose
text names the bag and the problem; an error after some messages were read is a `BagCorruptError`, so
callers can keep what they already computed.
"""
from __future__ import annotations

import functools
import io
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer, WriterError
from rosbags.rosbag2.reader import DirectoryReader
from rosbags.rosbag2.storage_mcap import McapReader
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore

from semdepth_ros.bag.transforms import split_transform
from semdepth_ros.codec import CAMERA_INFO, IMAGE, POINT_CLOUD

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
BAG_VERSION = 9  # the metadata version rosbag2 writes on Jazzy
TF_MESSAGE = "tf2_msgs/msg/TFMessage"
ODOMETRY = "nav_msgs/msg/Odometry"
TF_STATIC = "/tf_static"

_ZERO = QosTime(0, 0)  # rmw "unspecified": the middleware default (infinite) duration


def _qos(durability: QosDurability, depth: int) -> Qos:
    return Qos(QosHistory.KEEP_LAST, depth, QosReliability.RELIABLE, durability, _ZERO, _ZERO,
               QosLiveliness.AUTOMATIC, _ZERO, False)


# /tf_static is offered transient-local like tf2's StaticTransformBroadcaster, so `ros2 bag play`
# latches it and rviz (which subscribes transient-local) receives it; everything else is volatile.
LATCHED_QOS = _qos(QosDurability.TRANSIENT_LOCAL, 1)
VOLATILE_QOS = _qos(QosDurability.VOLATILE, 10)


class BagError(RuntimeError):
    """A bag that cannot be used as asked; the message names the bag and what is wrong."""


class BagCorruptError(BagError):
    """The bag became unreadable part-way (truncated or corrupt); messages before it were valid."""


@functools.cache
def typestore() -> Typestore:
    """The ROS 2 Jazzy message definitions (built once; building takes a noticeable moment)."""
    return get_typestore(Stores.ROS2_JAZZY)


def msg_class(msgtype: str) -> type:
    return typestore().types[msgtype]


# --- message construction --------------------------------------------------------------------

def stamp_to_ns(stamp: Any) -> int:
    """builtin_interfaces/Time -> integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def header(stamp_ns: int, frame_id: str) -> Any:
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return msg_class("std_msgs/msg/Header")(msg_class("builtin_interfaces/msg/Time")(sec, nanosec),
                                             frame_id)


def _bytes(data: Any) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=np.uint8) if not isinstance(data, np.ndarray) else data


def image_msg(fields: Mapping[str, Any], stamp_ns: int, frame_id: str) -> Any:
    """sensor_msgs/Image from codec image fields (rgb_to_image_fields, depth_to_image_fields, ...)."""
    return msg_class(IMAGE)(header(stamp_ns, frame_id), fields["height"], fields["width"],
                            fields["encoding"], fields["is_bigendian"], fields["step"],
                            _bytes(fields["data"]))


def camera_info_msg(fields: Mapping[str, Any], stamp_ns: int, frame_id: str) -> Any:
    """sensor_msgs/CameraInfo from `codec.camera_info_fields` output (no binning, full-image ROI)."""
    roi = msg_class("sensor_msgs/msg/RegionOfInterest")(0, 0, 0, 0, False)
    arr = functools.partial(np.asarray, dtype=np.float64)
    return msg_class(CAMERA_INFO)(header(stamp_ns, frame_id), fields["height"], fields["width"],
                                  fields["distortion_model"], arr(fields["d"]), arr(fields["k"]),
                                  arr(fields["r"]), arr(fields["p"]), 0, 0, roi)


def cloud_msg(fields: Mapping[str, Any], stamp_ns: int, frame_id: str) -> Any:
    """sensor_msgs/PointCloud2 from `codec.points_to_cloud_fields`-style fields."""
    point_field = msg_class("sensor_msgs/msg/PointField")
    pfs = [point_field(f["name"], f["offset"], f["datatype"], f["count"]) for f in fields["fields"]]
    return msg_class(POINT_CLOUD)(header(stamp_ns, frame_id), fields["height"], fields["width"], pfs,
                                  bool(fields["is_bigendian"]), fields["point_step"], fields["row_step"],
                                  _bytes(fields["data"]), bool(fields["is_dense"]))


_BUILDERS = {IMAGE: image_msg, CAMERA_INFO: camera_info_msg, POINT_CLOUD: cloud_msg}


def to_message(msgtype: str, fields: Mapping[str, Any], stamp_ns: int, frame_id: str) -> Any:
    """The rosbags message of type ``msgtype`` (Image, CameraInfo or PointCloud2) holding codec ``fields``."""
    return _BUILDERS[msgtype](fields, stamp_ns, frame_id)


def tf_message(transforms: Iterable[tuple[str, str, Sequence[float], Sequence[float]]],
               stamp_ns: int) -> Any:
    """tf2_msgs/TFMessage of (parent, child, translation xyz, quaternion xyzw) transforms.

    The transform maps child-frame coordinates into the parent frame (the pose of the child in the
    parent), as tf2 defines it; the quaternion is in geometry_msgs order x, y, z, w.
    """
    vec = msg_class("geometry_msgs/msg/Vector3")
    quat = msg_class("geometry_msgs/msg/Quaternion")
    transform = msg_class("geometry_msgs/msg/Transform")
    stamped = msg_class("geometry_msgs/msg/TransformStamped")
    return msg_class(TF_MESSAGE)([
        stamped(header(stamp_ns, parent), child,
                transform(vec(*map(float, t)), quat(*map(float, q))))
        for parent, child, t, q in transforms])


def odometry_msg(t_parent_child: np.ndarray, stamp_ns: int, parent: str, child: str,
                 linear: Sequence[float] = (0.0, 0.0, 0.0), angular: Sequence[float] = (0.0, 0.0, 0.0)) -> Any:
    """nav_msgs/Odometry: the pose of ``child`` in ``parent`` (4x4) and its twist in ``child`` (REP 105)."""
    translation, q = split_transform(t_parent_child)
    geometry = "geometry_msgs/msg/"
    vec = msg_class(geometry + "Vector3")
    pose = msg_class(geometry + "Pose")(msg_class(geometry + "Point")(*map(float, translation)),
                                        msg_class(geometry + "Quaternion")(*map(float, q)))
    covariance = np.zeros(36, dtype=np.float64)
    twist = msg_class(geometry + "Twist")(vec(*map(float, linear)), vec(*map(float, angular)))
    return msg_class(ODOMETRY)(header(stamp_ns, parent), child,
                               msg_class(geometry + "PoseWithCovariance")(pose, covariance),
                               msg_class(geometry + "TwistWithCovariance")(twist, covariance.copy()))


# --- writing ----------------------------------------------------------------------------------

class BagWriter:
    """A new rosbag2 (mcap by default, the Jazzy default; sqlite3 on request) written message by message.

    Topics are registered on first write. Closing (also on an exception) writes metadata.yaml, so a
    run that fails midway still leaves a valid, playable bag of what was written.
    """

    def __init__(self, path: str | Path, storage: str = "mcap") -> None:
        if storage not in STORAGES:
            raise BagError(f"unknown storage '{storage}'; expected one of {', '.join(STORAGES)}")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"output bag {self.path} already exists; remove it or choose another path")
        self._writer = Writer(self.path, version=BAG_VERSION, storage_plugin=STORAGES[storage])
        self._connections: dict[str, Any] = {}

    def open(self) -> "BagWriter":
        try:
            self._writer.open()
        except (WriterError, OSError) as exc:
            raise BagError(f"cannot create bag {self.path}: {exc}") from exc
        return self

    def close(self) -> None:
        self._writer.close()

    def set_custom(self, key: str, value: str) -> None:
        """A metadata.yaml custom_data entry (what the bag is, see `bag/markers.py`); written on close."""
        self._writer.set_custom_data(key, value)

    def __enter__(self) -> "BagWriter":
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def write(self, topic: str, msg: Any, time_ns: int) -> None:
        """Serialise and write one message with bag (receive) time ``time_ns``."""
        self.write_raw(topic, msg.__msgtype__, typestore().serialize_cdr(msg, msg.__msgtype__), time_ns)

    def write_raw(self, topic: str, msgtype: str, data: bytes | memoryview, time_ns: int) -> None:
        """Write an already serialised CDR message (from another bag or an rclpy raw subscription)."""
        conn = self._connections.get(topic)
        if conn is None:
            qos = LATCHED_QOS if topic == TF_STATIC else VOLATILE_QOS
            conn = self._writer.add_connection(topic, msgtype, typestore=typestore(),
                                               offered_qos_profiles=[qos])
            self._connections[topic] = conn
        elif conn.msgtype != msgtype:
            raise BagError(f"topic {topic} is {conn.msgtype}; cannot also write {msgtype}")
        self._writer.write(conn, int(time_ns), data)


# --- reading ----------------------------------------------------------------------------------

class BagMessage(NamedTuple):
    topic: str
    time_ns: int      # bag (receive) time
    msg: Any          # deserialised (rosbags dataclass)
    raw: bytes        # the CDR bytes as stored (what rclpy publishes and records unchanged)


_MCAP_MAGIC = b"\x89MCAP0\r\n"
# Footer record (op 0x02, length 20) with no summary, then the closing magic: what an unfinished
# MCAP file lacks. rosbags then scans the data section linearly, as it does for unindexed files.
_EMPTY_FOOTER = b"\x02" + struct.pack("<Q", 20) + bytes(20) + _MCAP_MAGIC


def _complete_records_end(path: Path) -> int:
    """Offset just past the last complete top-level MCAP record (op byte + uint64 length + body)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        pos = len(_MCAP_MAGIC)
        while pos + 9 <= size:
            fh.seek(pos + 1)
            end = pos + 9 + struct.unpack("<Q", fh.read(8))[0]
            if end > size:
                break
            pos = end
    return pos


class _SealedMcap(io.RawIOBase):
    """Read-only view of an unfinished MCAP: its complete records followed by an empty footer."""

    def __init__(self, path: Path, end: int) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._end = end
        self._size = end + len(_EMPTY_FOOTER)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), max(0, self._size - self._pos))
        if self._pos < self._end:
            self._file.seek(self._pos)
            got = self._file.readinto(view[:min(want, self._end - self._pos)]) or 0
        else:
            start = self._pos - self._end
            got = want
            view[:got] = _EMPTY_FOOTER[start:start + got]
        self._pos += got
        return got

    def close(self) -> None:
        self._file.close()
        super().close()


class _RecoveringMcapReader(McapReader):
    """McapReader that also reads an MCAP whose recorder was killed (no footer, cut last chunk).

    rosbag2 finishes an MCAP file only on a clean shutdown; after a crash, power loss or full disk
    the complete chunks are still valid. They are read in order and `messages` then raises, so the
    caller both gets the data and learns the recording was cut.
    """

    cut_at: int | None = None

    def open(self) -> None:
        try:
            super().open()
        except ReaderError as exc:
            if "end magic" not in str(exc):
                raise
            self.cut_at = _complete_records_end(Path(self.path))
            self.bio = io.BufferedReader(_SealedMcap(Path(self.path), self.cut_at))
            try:
                self._open()
            except BaseException:
                self.close()
                raise

    def messages(self, *args: Any, **kwargs: Any) -> Iterator[tuple[Any, int, bytes]]:
        yield from super().messages(*args, **kwargs)
        if self.cut_at is not None:
            size = Path(self.path).stat().st_size
            raise ReaderError(f"MCAP file {self.path} is truncated (no footer; recording interrupted?): "
                              f"the last {size - self.cut_at} of {size} bytes are incomplete")


class _DirectoryReader(DirectoryReader):
    STORAGE_PLUGINS = {**DirectoryReader.STORAGE_PLUGINS, "mcap": _RecoveringMcapReader}


class _Reader(Reader):
    STORAGE_PLUGINS = {**Reader.STORAGE_PLUGINS, "dir": _DirectoryReader, ".mcap": _RecoveringMcapReader}


def _storage_target(path: Path) -> tuple[Path, list[str]]:
    """What to hand to the reader, plus notes: a bag folder lacking metadata.yaml (recorder killed
    before writing it) is read from its single storage file."""
    if not path.exists():
        raise BagError(f"bag {path} does not exist")
    if path.is_file() or (path / "metadata.yaml").exists():
        return path, []
    files = sorted(p for p in path.iterdir() if p.suffix in (".mcap", ".db3"))
    if len(files) != 1:
        found = ", ".join(p.name for p in files) or "none"
        raise BagError(f"{path} is not a rosbag2: no metadata.yaml and not exactly one .mcap/.db3 "
                       f"storage file (found: {found})")
    return files[0], [f"{path} has no metadata.yaml (recording interrupted?); read {files[0].name} directly"]


def _is_bag(path: Path) -> bool:
    return path.is_file() and path.suffix in (".mcap", ".db3") or (path / "metadata.yaml").is_file()


def find_bags(path: str | Path) -> list[Path]:
    """The bags ``path`` names: itself when it is a bag (a rosbag2 folder, a .mcap/.db3 file, or a folder
    whose recorder died before writing metadata.yaml, holding one storage file), else the bags directly
    inside it (sub-folders and storage files), in name order."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"bag {path} does not exist")
    if _is_bag(path):
        return [path]
    inside = sorted(p for p in path.iterdir() if _is_bag(p))
    folders = [p for p in inside if p.is_dir()]
    if not folders and len(inside) == 1:
        return [path]          # one storage file without metadata.yaml: a bag cut short (see _storage_target)
    if not inside:
        raise BagError(f"{path} is neither a rosbag2 nor a folder of rosbag2s (no metadata.yaml, .mcap or .db3 in it)")
    return inside


class BagReader:
    """An open rosbag2 (folder, or a single .mcap/.db3 file) with typed, deserialised messages."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        target, self.notes = _storage_target(self.path)
        try:
            self._reader = _Reader(target)
            self._reader.open()
        except Exception as exc:  # rosbags, sqlite (apsw) and YAML errors alike: the bag is unusable
            raise BagError(f"cannot open bag {self.path}: {exc}") from exc
        self.topics: dict[str, str] = {c.topic: c.msgtype for c in self._reader.connections}
        self.counts: dict[str, int] = {}
        for conn in self._reader.connections:
            self.counts[conn.topic] = self.counts.get(conn.topic, 0) + conn.msgcount
        # metadata.yaml custom_data (rosbag2 >= Iron); none when the bag is read from its storage file
        self.custom: dict[str, str] = dict(getattr(self._reader.storage.metadata, "custom", None) or {})

    def __enter__(self) -> "BagReader":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._reader.is_open:
            self._reader.close()

    def describe_topics(self) -> str:
        return ", ".join(f"{t} [{m}]" for t, m in sorted(self.topics.items())) or "no topics"

    def topics_of_type(self, *msgtypes: str) -> list[str]:
        return sorted(t for t, m in self.topics.items() if m in msgtypes)

    def require(self, topic: str, msgtypes: Sequence[str], role: str) -> str:
        """The type of ``topic``, or a BagError naming the topics the bag does have."""
        if topic not in self.topics:
            raise BagError(f"bag {self.path} has no topic {topic} ({role}); it has: {self.describe_topics()}")
        if self.topics[topic] not in msgtypes:
            raise BagError(f"topic {topic} in {self.path} is {self.topics[topic]}, but the {role} must be "
                           f"{' or '.join(msgtypes)}")
        return self.topics[topic]

    def first_message(self, topic: str) -> BagMessage | None:
        """The first message of ``topic`` (None when it has none or cannot be read), to look at its content."""
        stream = self.messages([topic])
        try:
            return next(stream, None)
        except BagCorruptError:
            return None
        finally:
            stream.close()

    def messages(self, topics: Iterable[str]) -> Iterator[BagMessage]:
        """Deserialised messages of ``topics`` in bag-time order.

        Whatever goes wrong while reading or decoding becomes a BagCorruptError that says how far the
        read got; the messages yielded before it are intact.
        """
        wanted = set(topics)
        conns = [c for c in self._reader.connections if c.topic in wanted]
        if not conns:
            return
        count, last = 0, None
        stream = self._reader.messages(connections=conns)
        while True:
            try:
                item = next(stream, None)
                if item is None:
                    return
                conn, time_ns, raw = item
                msg = typestore().deserialize_cdr(raw, conn.msgtype)
            except Exception as exc:  # storage libraries raise many types; all mean "unreadable here"
                where = (f"after {count} messages (last good: t={last / 1e9:.6f} s)" if last is not None
                         else "before any requested message")
                raise BagCorruptError(f"bag {self.path} is truncated or corrupt: reading stopped {where}: "
                                      f"{type(exc).__name__}: {exc}") from exc
            count, last = count + 1, time_ns
            yield BagMessage(conn.topic, time_ns, msg, raw)
