"""Message fields <-> numpy arrays for images, depth, clouds and camera_info, without rclpy.

Functions take and return plain message fields (names as in sensor_msgs) so the same code serves the
rclpy node and the `rosbags`-based bag tools; `image_fields` / `cloud_fields` / `message_to_rgb` read
those fields from either library's message objects (they share the field names). Byte payloads are
returned as `bytes`; decoders accept anything exposing the buffer protocol (bytes, array.array, numpy).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from semdepth_ros.image_size import MAX_INPUT_PIXELS, HeaderError, encoded_size, pixel_limit_error

ImageFields = dict[str, Any]

# ROS message type names, as rosbag2 and the type stores spell them.
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
POINT_CLOUD = "sensor_msgs/msg/PointCloud2"

# Channel count and the cv2 conversion to RGB for each supported 8-bit input encoding.
_ENCODINGS: dict[str, tuple[int, int | None]] = {
    "rgb8": (3, None),
    "bgr8": (3, cv2.COLOR_BGR2RGB),
    "rgba8": (4, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, cv2.COLOR_BGRA2RGB),
    "mono8": (1, cv2.COLOR_GRAY2RGB),
}
_FROM_RGB: dict[str, int | None] = {
    "rgb8": None,
    "bgr8": cv2.COLOR_RGB2BGR,
    "rgba8": cv2.COLOR_RGB2RGBA,
    "bgra8": cv2.COLOR_RGB2BGRA,
    "mono8": cv2.COLOR_RGB2GRAY,
}
SUPPORTED_ENCODINGS = tuple(_ENCODINGS)

# sensor_msgs/PointField datatypes.
INT8, UINT8, INT16, UINT16, INT32, UINT32, FLOAT32, FLOAT64 = range(1, 9)
_POINTFIELD_DTYPES: dict[int, str] = {
    INT8: "i1", UINT8: "u1", INT16: "i2", UINT16: "u2",
    INT32: "i4", UINT32: "u4", FLOAT32: "f4", FLOAT64: "f8",
}


class InputError(ValueError):
    """A message that cannot be used; the text names the problem so a single log line suffices.

    ``kind`` is a stable name for the class of fault (e.g. "data_size"), whatever numbers the text
    holds: the node throttles its log per kind, so one fault cannot hide another.
    """

    def __init__(self, message: str, kind: str = "bad_input") -> None:
        super().__init__(message)
        self.kind = kind


def _as_bytes_array(data: Any) -> np.ndarray:
    """A flat uint8 view of a message payload without copying where possible."""
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    """Refuse an image above ``max_pixels`` before anything is allocated for it."""
    refusal = pixel_limit_error(width, height, max_pixels, "max_input_pixels")
    if refusal:
        raise InputError(refusal, "image_too_large")


def _check_layout(height: int, width: int, step: int, n_bytes: int, bytes_per_pixel: int) -> None:
    if height <= 0 or width <= 0:
        raise InputError(f"zero-size image ({width}x{height})", "zero_size")
    if step < width * bytes_per_pixel:
        raise InputError(
            f"step {step} is smaller than width * bytes per pixel = {width} * {bytes_per_pixel}", "step_too_small")
    if n_bytes != step * height:
        raise InputError(f"image data has {n_bytes} bytes, expected step * height = {step} * {height}"
                         f" = {step * height}", "data_size")


def _rows(data: Any, height: int, width: int, step: int, bytes_per_pixel: int) -> np.ndarray:
    """HxWxB uint8 view of row-padded pixel data."""
    buf = _as_bytes_array(data)
    _check_layout(height, width, step, buf.size, bytes_per_pixel)
    return buf.reshape(height, step)[:, : width * bytes_per_pixel].reshape(height, width, bytes_per_pixel)


def image_to_rgb(encoding: str, height: int, width: int, step: int, data: Any,
                 is_bigendian: int = 0, max_pixels: int = MAX_INPUT_PIXELS) -> np.ndarray:
    """Decode a sensor_msgs/Image to HxWx3 uint8 RGB (8-bit encodings only, so endianness is moot)."""
    if encoding not in _ENCODINGS:
        raise InputError(f"unsupported image encoding '{encoding}'; expected one of "
                         f"{', '.join(SUPPORTED_ENCODINGS)}", "unsupported_encoding")
    check_pixels(width, height, max_pixels)
    channels, conversion = _ENCODINGS[encoding]
    pixels = _rows(data, height, width, step, channels)
    if conversion is None:
        return np.ascontiguousarray(pixels)
    return cv2.cvtColor(np.ascontiguousarray(pixels), conversion)


def compressed_to_rgb(format: str, data: Any,  # noqa: A002 - the message field name
                      max_pixels: int = MAX_INPUT_PIXELS) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (jpeg or png, as image_transport writes them) to RGB.

    The size is read from the PNG/JPEG header first: an image above ``max_pixels`` is refused
    undecoded, and data cut short is reported as truncated.
    """
    fmt = format.lower()
    known = any(kind in fmt for kind in ("jpeg", "jpg", "png"))
    if (fmt and not known) or "compresseddepth" in fmt:
        raise InputError(f"unsupported compressed format '{format}'; expected jpeg or png", "unsupported_format")
    buf = _as_bytes_array(data)
    if buf.size == 0:
        raise InputError("compressed image has no data", "empty_compressed")
    try:
        size = encoded_size(buf)
    except HeaderError as exc:
        raise InputError(str(exc), "truncated_compressed" if exc.truncated else "corrupt_compressed") from exc
    if size is None:
        raise InputError(f"{buf.size} bytes of '{format or 'unknown'}' data are neither PNG nor JPEG "
                         "(corrupt or not an image)", "corrupt_compressed")
    if size.width == 0 or size.height == 0:
        raise InputError(f"zero-size {size.format} image ({size.width}x{size.height})", "zero_size")
    check_pixels(size.width, size.height, max_pixels)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise InputError(f"could not decode {buf.size} bytes of {size.format} data (corrupt)", "corrupt_compressed")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def image_fields(msg: Any) -> ImageFields:
    """The fields of an Image message (rclpy or rosbags) as `image_to_rgb` / `image_fields_to_depth` take them."""
    return {"encoding": msg.encoding, "height": msg.height, "width": msg.width, "step": msg.step,
            "data": msg.data, "is_bigendian": msg.is_bigendian}


def message_to_rgb(msg: Any, max_pixels: int = MAX_INPUT_PIXELS) -> np.ndarray:
    """HxWx3 uint8 RGB of an Image or CompressedImage message (a CompressedImage has ``format``);
    images above ``max_pixels`` are refused before they are decoded."""
    if hasattr(msg, "format"):
        return compressed_to_rgb(msg.format, msg.data, max_pixels)
    return image_to_rgb(**image_fields(msg), max_pixels=max_pixels)


def rgb_to_image_fields(rgb: np.ndarray, encoding: str = "rgb8") -> ImageFields:
    """Image fields (height, width, encoding, is_bigendian, step, data) for an HxWx3 uint8 RGB array."""
    if encoding not in _FROM_RGB:
        raise InputError(f"cannot encode to '{encoding}'; expected one of {', '.join(_FROM_RGB)}",
                         "unsupported_encoding")
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"expected an HxWx3 RGB array, got shape {rgb.shape}")
    conversion = _FROM_RGB[encoding]
    pixels = rgb if conversion is None else cv2.cvtColor(rgb, conversion)
    return _fields(pixels, encoding)


def _fields(pixels: np.ndarray, encoding: str) -> ImageFields:
    """Fields for a C-contiguous HxW[xC] array; little-endian when multi-byte."""
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    return {"height": int(height), "width": int(width), "encoding": encoding, "is_bigendian": 0,
            "step": int(pixels.strides[0]), "data": pixels.tobytes()}


def depth_to_image_fields(depth: np.ndarray) -> ImageFields:
    """32FC1 image fields for an HxW depth map in metres (NaN = invalid, REP 118)."""
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise InputError(f"expected an HxW depth array, got shape {depth.shape}")
    return _fields(depth.astype("<f4", copy=False), "32FC1")


def mono8_fields(image: np.ndarray) -> ImageFields:
    """mono8 image fields for an HxW uint8 array, values unchanged (scale a {0,1} mask by 255 first)."""
    image = np.asarray(image)
    if image.ndim != 2 or image.dtype != np.uint8:
        raise InputError(f"expected an HxW uint8 array, got {image.dtype} shape {image.shape}")
    return _fields(image, "mono8")


DEPTH_ENCODINGS = ("32FC1", "16UC1")  # REP 118: metres / millimetres


def image_fields_to_depth(encoding: str, height: int, width: int, step: int, data: Any,
                          is_bigendian: int = 0) -> np.ndarray:
    """Depth image (32FC1 metres or 16UC1 millimetres, REP 118) to HxW float32 metres, NaN invalid."""
    sizes = dict(zip(DEPTH_ENCODINGS, (("f4", 4), ("u2", 2))))
    if encoding not in sizes:
        raise InputError(f"unsupported depth encoding '{encoding}'; expected 32FC1 or 16UC1", "unsupported_encoding")
    kind, size = sizes[encoding]
    dtype = np.dtype(kind).newbyteorder(">" if is_bigendian else "<")
    raw = np.ascontiguousarray(_rows(data, height, width, step, size)).view(dtype)[..., 0]
    if encoding == "16UC1":
        return np.where(raw == 0, np.nan, raw.astype(np.float32) / 1000.0).astype(np.float32)
    return raw.astype(np.float32)


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 [..., 3] -> float32 holding uint32 0x00RRGGBB, the packing rviz's RGB8 transformer reads."""
    rgb = np.asarray(rgb, dtype=np.uint32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    return packed.astype(np.uint32).view(np.float32)


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """Inverse of `pack_rgb`: float32 (or uint32) packed colours -> uint8 [..., 3]."""
    bits = np.ascontiguousarray(packed).view(np.uint32)
    return np.stack([(bits >> 16) & 0xFF, (bits >> 8) & 0xFF, bits & 0xFF], axis=-1).astype(np.uint8)


def points_to_cloud_fields(points: np.ndarray, rgb: np.ndarray | None = None,
                           label: np.ndarray | None = None, organised: bool = True) -> dict[str, Any]:
    """PointCloud2 fields for points [H,W,3] (or [N,3]) with optional rgb [...,3] uint8 and label uint8.

    Organised keeps the image grid (height=H, width=W) with NaN points for invalid pixels, as
    depth_image_proc does; unorganised drops non-finite points and sets is_dense.
    """
    return records_to_cloud_fields(cloud_records(points, rgb, label), organised)


def cloud_dtype(rgb: bool, label: bool) -> np.dtype:
    """The point record: x, y, z float32, then rgb float32 (`pack_rgb`) and label uint8, 4-byte aligned."""
    names: list[tuple[str, str]] = [("x", "f4"), ("y", "f4"), ("z", "f4")]
    names += [("rgb", "f4")] * rgb + [("label", "u1")] * label
    offsets = np.cumsum([0] + [np.dtype(kind).itemsize for _, kind in names[:-1]]).tolist()
    itemsize = -(-(offsets[-1] + np.dtype(names[-1][1]).itemsize) // 4) * 4  # keep 4-byte alignment
    return np.dtype({"names": [n for n, _ in names], "formats": ["<" + k for _, k in names],
                     "offsets": offsets, "itemsize": itemsize})


def cloud_records(points: np.ndarray, rgb: np.ndarray | None = None,
                  label: np.ndarray | None = None) -> np.ndarray:
    """Point records (`cloud_dtype`) on the grid of points [H,W,3] (or [N,3] as [1,N]); padding bytes are 0."""
    points = np.asarray(points, dtype=np.float32)
    if points.ndim not in (2, 3) or points.shape[-1] != 3:
        raise InputError(f"expected points of shape [H,W,3] or [N,3], got {points.shape}")
    grid = points.shape[:-1] if points.ndim == 3 else (1, points.shape[0])
    columns: dict[str, np.ndarray] = {"x": points[..., 0], "y": points[..., 1], "z": points[..., 2]}
    if rgb is not None:
        columns["rgb"] = pack_rgb(_same_grid(rgb, points.shape[:-1], "rgb", 3))
    if label is not None:
        columns["label"] = _same_grid(label, points.shape[:-1], "label", None)
    cloud = np.zeros(grid, dtype=cloud_dtype(rgb is not None, label is not None))
    for name, values in columns.items():
        cloud[name] = values.reshape(grid)
    return cloud


def records_to_cloud_fields(cloud: np.ndarray, organised: bool = True) -> dict[str, Any]:
    """PointCloud2 fields of point records [H,W] (`cloud_records`); unorganised drops non-finite points."""
    if not organised:
        finite = np.isfinite(cloud["x"]) & np.isfinite(cloud["y"]) & np.isfinite(cloud["z"])
        cloud = cloud[finite].reshape(1, -1)
    height, width = cloud.shape
    dtype = cloud.dtype
    fields = [{"name": n, "offset": int(dtype.fields[n][1]), "datatype": FLOAT32 if dtype.fields[n][0].kind == "f"
               else UINT8, "count": 1} for n in dtype.names]
    return {"height": int(height), "width": int(width), "fields": fields, "is_bigendian": False,
            "point_step": dtype.itemsize, "row_step": dtype.itemsize * int(width),
            "data": np.ascontiguousarray(cloud).tobytes(), "is_dense": not organised}


def _same_grid(values: np.ndarray, grid: tuple[int, ...], name: str, channels: int | None) -> np.ndarray:
    values = np.asarray(values, dtype=np.uint8)
    expected = grid + ((channels,) if channels else ())
    if values.shape != expected:
        raise InputError(f"{name} has shape {values.shape}, expected {expected} to match the points")
    return values


def _field_attr(field: Any, name: str) -> Any:
    return field[name] if isinstance(field, Mapping) else getattr(field, name)


def cloud_fields(msg: Any) -> dict[str, Any]:
    """The fields of a PointCloud2 message (rclpy or rosbags) as `cloud_fields_to_arrays` takes them."""
    return {"fields": msg.fields, "data": msg.data, "point_step": msg.point_step, "height": msg.height,
            "width": msg.width, "row_step": msg.row_step, "is_bigendian": msg.is_bigendian}


def cloud_fields_to_arrays(fields: Sequence[Any], data: Any, point_step: int, height: int, width: int,
                           row_step: int | None = None, is_bigendian: bool = False,
                           is_dense: bool | None = None) -> dict[str, np.ndarray]:
    """Decode any PointCloud2 layout (e.g. Velodyne x,y,z,intensity,ring) into one array per field.

    `fields` are PointField messages or dicts with name/offset/datatype/count. Arrays have shape
    (height, width) or (height, width, count). `is_dense` is accepted so the output of
    `points_to_cloud_fields` can be passed back with `**`; decoding does not need it.
    """
    del is_dense
    row_step = point_step * width if row_step is None else row_step
    buf = _as_bytes_array(data)
    if height < 0 or width < 0 or point_step <= 0 or row_step < point_step * width:
        raise InputError(f"inconsistent cloud layout: height {height}, width {width}, "
                         f"point_step {point_step}, row_step {row_step}")
    if buf.size < row_step * height:
        raise InputError(f"cloud data has {buf.size} bytes, expected row_step * height = "
                         f"{row_step * height}")
    order = ">" if is_bigendian else "<"
    arrays: dict[str, np.ndarray] = {}
    for field in fields:
        name, offset = _field_attr(field, "name"), int(_field_attr(field, "offset"))
        datatype, count = int(_field_attr(field, "datatype")), max(int(_field_attr(field, "count")), 1)
        if datatype not in _POINTFIELD_DTYPES:
            raise InputError(f"field '{name}' has unknown PointField datatype {datatype}")
        dtype = np.dtype(order + _POINTFIELD_DTYPES[datatype])
        if offset + dtype.itemsize * count > point_step:
            raise InputError(f"field '{name}' (offset {offset}) does not fit in point_step {point_step}")
        view = np.ndarray(shape=(height, width, count), dtype=dtype, buffer=buf, offset=offset,
                          strides=(row_step, point_step, dtype.itemsize))
        native = view.astype(dtype.newbyteorder("="))
        arrays[name] = native[..., 0] if count == 1 else native
    return arrays


def camera_info_to_K(k: Sequence[float]) -> np.ndarray:
    """3x3 intrinsics from camera_info.k, rejecting uncalibrated (zero focal) cameras."""
    values = np.asarray(k, dtype=np.float64).reshape(-1)
    if values.size != 9:
        raise InputError(f"camera_info k has {values.size} values, expected 9", "invalid_camera_info")
    K = values.reshape(3, 3)
    if not (np.isfinite(K).all() and K[0, 0] > 0 and K[1, 1] > 0):
        raise InputError(f"camera_info has an invalid focal length (fx={K[0, 0]}, fy={K[1, 1]}); "
                         "is the camera calibrated?", "invalid_camera_info")
    return K


def camera_info_fields(K: np.ndarray, width: int, height: int, distortion: Sequence[float] | None = None,
                       distortion_model: str = "plumb_bob") -> dict[str, Any]:
    """camera_info fields (width, height, distortion_model, d, k, r, p) for intrinsics K of that image."""
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    P = np.hstack([K, np.zeros((3, 1))])
    d = [0.0] * 5 if distortion is None else [float(v) for v in distortion]
    return {"width": int(width), "height": int(height), "distortion_model": distortion_model, "d": d,
            "k": K.reshape(-1).tolist(), "r": np.eye(3).reshape(-1).tolist(), "p": P.reshape(-1).tolist()}

