"""codec field dicts -> rclpy messages (the node's outputs, and inputs sent by the bag replay client).

Payloads go in as array.array('B'): the generated setters take that as-is, while bytes or lists are
checked element by element (seconds for a 10 MB cloud).
"""
from __future__ import annotations

import array
import time
from typing import Any, Callable

from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import Header

from semdepth_ros.codec import CAMERA_INFO, IMAGE, POINT_CLOUD


def _payload(data: Any) -> array.array:
    return data if isinstance(data, array.array) else array.array("B", bytes(data))


def image_msg(header: Header, fields: dict[str, Any]) -> Image:
    msg = Image(header=header, height=fields["height"], width=fields["width"], encoding=fields["encoding"],
                is_bigendian=int(fields["is_bigendian"]), step=fields["step"])
    msg.data = _payload(fields["data"])
    return msg


def cloud_msg(header: Header, fields: dict[str, Any]) -> PointCloud2:
    msg = PointCloud2(header=header, height=fields["height"], width=fields["width"],
                      fields=[PointField(**field) for field in fields["fields"]],
                      is_bigendian=bool(fields["is_bigendian"]), point_step=fields["point_step"],
                      row_step=fields["row_step"], is_dense=bool(fields["is_dense"]))
    msg.data = _payload(fields["data"])
    return msg


def camera_info_msg(header: Header, fields: dict[str, Any]) -> CameraInfo:
    return CameraInfo(header=header, width=fields["width"], height=fields["height"],
                      distortion_model=fields["distortion_model"], d=fields["d"], k=fields["k"],
                      r=fields["r"], p=fields["p"])


# ROS type name -> (rclpy class, builder from codec fields), for the types in the outputs table.
MESSAGES: dict[str, tuple[type, Callable[[Header, dict[str, Any]], Any]]] = {
    IMAGE: (Image, image_msg), CAMERA_INFO: (CameraInfo, camera_info_msg), POINT_CLOUD: (PointCloud2, cloud_msg),
}


def message_class(msgtype: str) -> type:
    """The rclpy class of a ROS type name such as 'sensor_msgs/msg/Image'."""
    return MESSAGES[msgtype][0]


def to_message(msgtype: str, header: Header, fields: dict[str, Any]) -> Any:
    """The rclpy message of type ``msgtype`` holding ``fields``, stamped with ``header``."""
    return MESSAGES[msgtype][1](header, fields)


def stamp_seconds(stamp: Time) -> float:
    """A header stamp as float seconds: the key that matches a node's outputs to the frame they answer."""
    return stamp.sec + stamp.nanosec * 1e-9


def publish_frame(image_pub: Any, info_pub: Any, image_fields: dict[str, Any], info_fields: dict[str, Any],
                  frame_id: str = "camera_optical_frame") -> float:
    """Publish one camera frame (camera_info, then the image) under one header stamped with the wall
    clock now, as a camera driver does; returns that stamp in seconds (see ``stamp_seconds``)."""
    now = time.time()
    header = Header(stamp=Time(sec=int(now), nanosec=int((now % 1) * 1e9)), frame_id=frame_id)
    info_pub.publish(camera_info_msg(header, info_fields))
    image_pub.publish(image_msg(header, image_fields))
    return stamp_seconds(header.stamp)
