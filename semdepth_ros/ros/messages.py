"""codec field dicts -> rclpy messages, and back for the few inputs the node reads.

Payloads go in as array.array('B'): the generated setters take that as-is, while bytes or lists are
checked element by element (seconds for a 10 MB cloud).
"""
from __future__ import annotations

import array
from typing import Any

from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField
from std_msgs.msg import Header


def _payload(data: Any) -> array.array:
    return data if isinstance(data, array.array) else array.array("B", bytes(data))


def image_msg(header: Header, fields: dict[str, Any]) -> Image:
    msg = Image(header=header, height=fields["height"], width=fields["width"], encoding=fields["encoding"],
                is_bigendian=int(fields["is_bigendian"]), step=fields["step"])
    msg.data = _payload(fields["data"])
    return msg


def compressed_msg(header: Header, format: str, data: bytes) -> CompressedImage:  # noqa: A002 - field name
    msg = CompressedImage(header=header, format=format)
    msg.data = _payload(data)
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


def image_fields(msg: Image) -> dict[str, Any]:
    """The codec arguments of an Image message (image_to_rgb, image_fields_to_depth)."""
    return {"encoding": msg.encoding, "height": msg.height, "width": msg.width, "step": msg.step,
            "data": msg.data, "is_bigendian": msg.is_bigendian}


def cloud_fields(msg: PointCloud2) -> dict[str, Any]:
    """The codec arguments of a PointCloud2 message (cloud_fields_to_arrays)."""
    return {"fields": msg.fields, "data": msg.data, "point_step": msg.point_step, "height": msg.height,
            "width": msg.width, "row_step": msg.row_step, "is_bigendian": msg.is_bigendian}
