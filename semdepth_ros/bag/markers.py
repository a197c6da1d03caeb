"""What a bag says about itself, and which of its topics hold this package's own outputs.

An evaluation must never grade the model against itself: a bag recorded with `eval-bag --record` or
by `semdepth demo` holds the network's depth and point cloud next to the real sensors. Every bag this
package writes carries marks in its metadata.yaml `custom_data` (rosbag2's map of strings; keys below).
A topic is this package's output when any one of these says so:
1. metadata: the bag lists it under OUTPUT_TOPICS (whatever the topic is called);
2. names: it is one of the node's output topics (the table of `semdepth_ros.outputs`) in a namespace
   that also holds the node's semantic mask or overlay, as `ros2 bag record` of a running node stores
   them (/semdepth/depth beside /semdepth/semantic/mask; a depth camera's /camera/depth beside
   /camera/points is not enough, nor an Ouster's /ouster/points);
3. content: a PointCloud2 with exactly the node's fields x, y, z, rgb, label, which survives remapping
   and recordings made by other tools.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from semdepth_ros.bag.io import BagReader, BagWriter
from semdepth_ros.codec import POINT_CLOUD
from semdepth_ros.outputs import OUTPUTS

SOURCE = "semdepth_ros.source"                    # which tool wrote the bag (KITTI2BAG, RECORD, DEMO_DRIVE)
OUTPUT_TOPICS = "semdepth_ros.output_topics"      # comma-separated topics that hold this package's outputs
GROUND_TRUTH = "semdepth_ros.ground_truth"        # the topic the writer knows to be real ground truth
KITTI_DRIVE = "semdepth_ros.kitti_drive"          # "<date>/<date>_drive_<nnnn>_sync": the data is KITTI raw
KITTI_CALIB_SIZE = "semdepth_ros.kitti_calib_size"  # "WxH": the rectified size the KITTI calibration describes

KITTI2BAG = "kitti2bag"        # every frame of one drive in order: image index = KITTI frame number
RECORD = "eval-bag --record"
DEMO_DRIVE = "semdepth demo drive"
SEMANTIC_OUTPUTS = {"mask", "overlay"}  # outputs no other driver publishes: they mark the node's namespace
CLOUD_FIELDS = ("x", "y", "z", "rgb", "label")  # the node's PointCloud2 layout (`codec.points_to_cloud_fields`)


@dataclasses.dataclass(frozen=True)
class BagMarks:
    source: str | None = None
    output_topics: frozenset[str] = frozenset()
    ground_truth: str | None = None
    kitti_drive: str | None = None
    kitti_calib_size: tuple[int, int] | None = None   # (width, height)

    @classmethod
    def read(cls, custom: Mapping[str, str]) -> "BagMarks":
        """The marks of a bag's custom_data (unknown or malformed entries are ignored)."""
        size = None
        try:
            width, height = (int(v) for v in custom.get(KITTI_CALIB_SIZE, "").split("x"))
            size = (width, height)
        except ValueError:
            pass
        outputs = frozenset(t for t in custom.get(OUTPUT_TOPICS, "").split(",") if t)
        return cls(custom.get(SOURCE), outputs, custom.get(GROUND_TRUTH) or None, custom.get(KITTI_DRIVE) or None,
                   size)

    def write(self, writer: BagWriter) -> None:
        entries = {SOURCE: self.source, OUTPUT_TOPICS: ",".join(sorted(self.output_topics)) or None,
                   GROUND_TRUTH: self.ground_truth, KITTI_DRIVE: self.kitti_drive,
                   KITTI_CALIB_SIZE: "x".join(map(str, self.kitti_calib_size)) if self.kitti_calib_size else None}
        for key, value in entries.items():
            if value:
                writer.set_custom(key, value)

    @property
    def kitti_frame_numbers(self) -> bool:
        """Image i of the bag is KITTI frame i (kitti2bag writes every frame of the drive in order)."""
        return self.source == KITTI2BAG and self.kitti_drive is not None

    def recorded(self, outputs: frozenset[str], ground_truth: str | None) -> "BagMarks":
        """The marks of an eval-bag recording of this bag: its KITTI origin, plus the recorded outputs."""
        return dataclasses.replace(self, source=RECORD, output_topics=self.output_topics | outputs,
                                   ground_truth=ground_truth)


def own_outputs(reader: BagReader, marks: BagMarks) -> dict[str, str]:
    """{topic: why it is this package's output} for every such topic of the bag."""
    found = {t: "listed as a semdepth_ros output in the bag's metadata" for t in marks.output_topics
             if t in reader.topics}
    namespaces: dict[str, dict[str, str]] = {}   # namespace -> {output name: topic}
    for topic, msgtype in reader.topics.items():
        for name, output in OUTPUTS.items():
            if msgtype == output.msgtype and topic.endswith("/" + output.topic):
                namespaces.setdefault(topic[:-len(output.topic) - 1], {})[name] = topic
    for namespace, topics in namespaces.items():
        if SEMANTIC_OUTPUTS & set(topics):
            for topic in topics.values():
                found.setdefault(topic, f"a depth-node output (beside its semantic mask in '{namespace or '/'}')")
    for topic in reader.topics_of_type(POINT_CLOUD):
        if topic not in found and _node_cloud(reader, topic):
            found[topic] = f"a semdepth_ros point cloud (fields {', '.join(CLOUD_FIELDS)})"
    return found


def _node_cloud(reader: BagReader, topic: str) -> bool:
    first = reader.first_message(topic)
    return first is not None and tuple(f.name for f in first.msg.fields) == CLOUD_FIELDS
