"""A synthetic drive as a rosbag2: what a camera driver would have recorded, plus exact depth.

The bag is the input of the eval-bag live client, so the demo streams frames to the node exactly as
`semdepth eval-bag --live` does. Depth ground truth rides along as a 32FC1 image (+inf = sky, "too
far" in REP 118), registered to the camera, and the bag's metadata names it as the ground truth.
"""
from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from semdepth_ros.bag.io import BagWriter, camera_info_msg, image_msg
from semdepth_ros.bag.markers import DEMO_DRIVE, BagMarks
from semdepth_ros.codec import camera_info_fields, depth_to_image_fields, rgb_to_image_fields
from semdepth_synth import SynthConfig, generate_sequence

IMAGE_TOPIC = "/camera/image_raw"
INFO_TOPIC = "/camera/camera_info"
GT_TOPIC = "/ground_truth/depth"
CAMERA_FRAME = "camera_optical_frame"  # the fixed frame of config/semdepth.rviz: no TF needed
NOMINAL_RATE_HZ = 10.0                        # the synthetic world moves ~0.8 m per frame, KITTI's 10 Hz


def write_drive_bag(path: Path, frames: int, height: int, width: int, seed: int, start_ns: int,
                    rate_hz: float | None) -> None:
    """Render ``frames`` frames at height x width and write them stamped ``1/rate_hz`` apart."""
    period_ns = round(1e9 / (rate_hz or NOMINAL_RATE_HZ))
    config = SynthConfig(height=height, width=width, seed=seed, num_frames=frames)
    with BagWriter(path) as bag:
        BagMarks(source=DEMO_DRIVE, ground_truth=GT_TOPIC).write(bag)
        for frame in tqdm(generate_sequence(config), total=frames, unit="frame", desc="render drive"):
            stamp = start_ns + frame.index * period_ns
            info = camera_info_fields(frame.K, width, height)
            bag.write(INFO_TOPIC, camera_info_msg(info, stamp, CAMERA_FRAME), stamp)
            bag.write(IMAGE_TOPIC, image_msg(rgb_to_image_fields(frame.rgb), stamp, CAMERA_FRAME), stamp)
            bag.write(GT_TOPIC, image_msg(depth_to_image_fields(frame.depth), stamp, CAMERA_FRAME), stamp)
