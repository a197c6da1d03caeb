"""codec field dicts -> rclpy messages (the node's outputs, and inputs sent by the bag replay client).

Payloads go in as array.array('B'): the generated setters take that as-is, while bytes or lists are
checked element by element (seconds for a 10 MB cloud).
"""
from __future__ import annotations

import array
from typing import Any, Callable

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
