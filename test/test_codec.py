"""semdepth_ros.codec: message fields <-> numpy, without rclpy; image sizes read from headers."""
from __future__ import annotations

import array

import cv2
import numpy as np
import pytest

from semdepth_ros import codec
from semdepth_ros.codec import InputError
from semdepth_ros.image_size import MAX_INPUT_PIXELS, HeaderError, encoded_size
from semdepth_ros.imageio import read_rgb

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
def test_colour_round_trip(encoding: str) -> None:
    fields = codec.rgb_to_image_fields(RGB, encoding)
    assert fields["encoding"] == encoding and (fields["height"], fields["width"]) == (5, 7)
    assert fields["step"] == 7 * len(encoding.rstrip("8"))
    np.testing.assert_array_equal(codec.image_to_rgb(**fields), RGB)


def test_bgr8_byte_order_is_blue_first() -> None:
    data = codec.rgb_to_image_fields(np.array([[[10, 20, 30]]], np.uint8), "bgr8")["data"]
    assert bytes(data) == bytes([30, 20, 10])


def test_mono8_round_trip_replicates_grey() -> None:
    grey = RNG.integers(0, 256, size=(4, 6), dtype=np.uint8)
    rgb = codec.image_to_rgb("mono8", 4, 6, 6, grey.tobytes())
    np.testing.assert_array_equal(rgb, np.repeat(grey[..., None], 3, axis=2))
    fields = codec.rgb_to_image_fields(rgb, "mono8")
    np.testing.assert_array_equal(np.frombuffer(fields["data"], np.uint8).reshape(4, 6), grey)
    np.testing.assert_array_equal(np.frombuffer(codec.mono8_fields(grey)["data"], np.uint8), grey.ravel())


def test_row_padding_and_buffer_types() -> None:
    padded = np.zeros((5, 7 * 3 + 3), np.uint8)
    padded[:, :21] = RGB.reshape(5, 21)
    for data in (padded.tobytes(), array.array("B", padded.tobytes()), padded):
        np.testing.assert_array_equal(codec.image_to_rgb("rgb8", 5, 7, 24, data), RGB)


@pytest.mark.parametrize("kwargs, message", [
    ({"encoding": "yuv422"}, "unsupported image encoding 'yuv422'"),
    ({"step": 20}, "step 20 is smaller than width"),
    ({"data": bytes(104)}, "image data has 104 bytes, expected step * height"),
    ({"height": 0, "data": b""}, "zero-size image"),
    ({"width": 0}, "zero-size image"),
])
def test_bad_images_name_the_problem(kwargs: dict, message: str) -> None:
    fields = codec.rgb_to_image_fields(RGB) | kwargs
    with pytest.raises(InputError, match=message.replace("*", r"\*")):
        codec.image_to_rgb(**fields)


@pytest.mark.parametrize("ext, fmt", [(".png", "png"), (".png", "rgb8; png compressed bgr8"),
                                      (".jpg", "jpeg"), (".jpg", "bgr8; jpeg compressed bgr8")])
def test_compressed_decodes_to_rgb(ext: str, fmt: str) -> None:
    smooth = np.zeros((16, 24, 3), np.uint8)
    smooth[..., 0], smooth[..., 2] = 200, 40  # strongly red: a channel swap would be obvious
    ok, encoded = cv2.imencode(ext, cv2.cvtColor(smooth, cv2.COLOR_RGB2BGR))
    assert ok
    rgb = codec.compressed_to_rgb(fmt, encoded.tobytes())
    tolerance = 0 if ext == ".png" else 4
    assert rgb.shape == smooth.shape
    assert np.abs(rgb.astype(int) - smooth).max() <= tolerance


@pytest.mark.parametrize("fmt, data, message", [
    ("jpeg", b"", "no data"),
    ("jpeg", b"\xff\xd8 definitely not a jpeg", "corrupt"),
    ("theora", b"abc", "unsupported compressed format 'theora'"),
    ("16UC1; compressedDepth png", b"abc", "unsupported compressed format"),
])
def test_bad_compressed(fmt: str, data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        codec.compressed_to_rgb(fmt, data)


def test_depth_round_trip_keeps_nan() -> None:
    depth = RNG.uniform(0.1, 80, size=(3, 4)).astype(np.float32)
    depth[1, 2] = np.nan
    fields = codec.depth_to_image_fields(depth)
    assert fields["encoding"] == "32FC1" and fields["step"] == 16 and fields["is_bigendian"] == 0
    np.testing.assert_array_equal(codec.image_fields_to_depth(**fields), depth)


def test_depth_16uc1_millimetres_and_big_endian() -> None:
    mm = np.array([[0, 1500]], dtype=">u2")
    out = codec.image_fields_to_depth("16UC1", 1, 2, 4, mm.tobytes(), is_bigendian=1)
    assert np.isnan(out[0, 0]) and out[0, 1] == pytest.approx(1.5)
    with pytest.raises(InputError, match="unsupported depth encoding 'rgb8'"):
        codec.image_fields_to_depth("rgb8", 1, 1, 3, b"abc")


def _grid_points(h: int, w: int) -> np.ndarray:
    points = RNG.normal(size=(h, w, 3)).astype(np.float32)
    points[0, 1] = np.nan
    return points


def test_organised_cloud_round_trip_with_rgb_and_label() -> None:
    points, label = _grid_points(5, 7), RNG.integers(0, 2, size=(5, 7), dtype=np.uint8)
    cloud = codec.points_to_cloud_fields(points, rgb=RGB, label=label)
    assert (cloud["height"], cloud["width"], cloud["is_dense"]) == (5, 7, False)
    assert [(f["name"], f["offset"], f["datatype"]) for f in cloud["fields"]] == [
        ("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("rgb", 12, 7), ("label", 16, 2)]
    assert cloud["point_step"] % 4 == 0 and len(cloud["data"]) == cloud["row_step"] * 5
    arrays = codec.cloud_fields_to_arrays(**cloud)
    np.testing.assert_array_equal(np.stack([arrays["x"], arrays["y"], arrays["z"]], -1), points)
    np.testing.assert_array_equal(codec.unpack_rgb(arrays["rgb"]), RGB)
    np.testing.assert_array_equal(arrays["label"], label)


def test_rgb_packing_is_rviz_uint32() -> None:
    packed = codec.pack_rgb(np.array([[0x12, 0x34, 0x56]], np.uint8))
    assert packed.dtype == np.float32 and packed.view(np.uint32)[0] == 0x00123456


def test_unorganised_cloud_drops_invalid_points() -> None:
    points = _grid_points(2, 3)
    cloud = codec.points_to_cloud_fields(points, rgb=RGB[:2, :3], organised=False)
    assert (cloud["height"], cloud["width"], cloud["is_dense"]) == (1, 5, True)
    arrays = codec.cloud_fields_to_arrays(**cloud)
    valid = np.isfinite(points).all(-1)
    np.testing.assert_array_equal(arrays["z"][0], points[..., 2][valid])
    np.testing.assert_array_equal(codec.unpack_rgb(arrays["rgb"][0]), RGB[:2, :3][valid])


def test_decoder_reads_velodyne_layout_with_row_padding() -> None:
    velo = np.dtype({"names": ["x", "y", "z", "intensity", "ring"], "formats": ["<f4"] * 4 + ["<u2"],
                     "offsets": [0, 4, 8, 16, 20], "itemsize": 32})
    rows = np.zeros((2, 3), velo)
    for name in ("x", "y", "z", "intensity"):
        rows[name] = RNG.normal(size=(2, 3))
    rows["ring"] = [[0, 1, 2], [3, 4, 5]]
    data = np.zeros((2, 3 * 32 + 8), np.uint8)
    data[:, :96] = rows.view(np.uint8).reshape(2, 96)
    fields = [{"name": "x", "offset": 0, "datatype": 7, "count": 1},
              {"name": "y", "offset": 4, "datatype": 7, "count": 1},
              {"name": "z", "offset": 8, "datatype": 7, "count": 1},
              {"name": "intensity", "offset": 16, "datatype": 7, "count": 1},
              {"name": "ring", "offset": 20, "datatype": 4, "count": 1}]
    arrays = codec.cloud_fields_to_arrays(fields, data.tobytes(), 32, 2, 3, row_step=104)
    for name in velo.names:
        np.testing.assert_array_equal(arrays[name], rows[name])
    assert arrays["ring"].dtype == np.uint16


def test_decoder_big_endian_and_bad_layouts() -> None:
    fields = [{"name": "x", "offset": 0, "datatype": 8, "count": 1}]
    out = codec.cloud_fields_to_arrays(fields, np.array([2.5], ">f8").tobytes(), 8, 1, 1, is_bigendian=True)
    assert out["x"][0, 0] == 2.5
    with pytest.raises(InputError, match="cloud data has 8 bytes"):
        codec.cloud_fields_to_arrays(fields, bytes(8), 8, 1, 2)
    with pytest.raises(InputError, match="unknown PointField datatype 9"):
        codec.cloud_fields_to_arrays([fields[0] | {"datatype": 9}], bytes(8), 8, 1, 1)
    with pytest.raises(InputError, match="does not fit in point_step"):
        codec.cloud_fields_to_arrays([fields[0] | {"offset": 4}], bytes(8), 8, 1, 1)


def test_camera_info_helpers() -> None:
    K = np.array([[500.0, 0, 320], [0, 490, 96], [0, 0, 1]])
    info = codec.camera_info_fields(K, 640, 192)
    assert info["p"][:3] == [500.0, 0.0, 320.0] and info["p"][3] == 0.0 and len(info["p"]) == 12
    assert info["r"] == np.eye(3).ravel().tolist() and info["d"] == [0.0] * 5
    np.testing.assert_array_equal(codec.camera_info_to_K(info["k"]), K)
    with pytest.raises(InputError, match="invalid focal length"):
        codec.camera_info_to_K([0.0] * 9)
    with pytest.raises(InputError, match="expected 9"):
        codec.camera_info_to_K([1.0] * 4)


# --- sizes from PNG/JPEG headers, before decoding -----------------------------------------------------
def _encoded(ext: str, height: int = 30, width: int = 50, **params: int) -> bytes:
    image = RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)
    flags = [value for item in params.items() for value in (getattr(cv2, item[0]), item[1])]
    return cv2.imencode(ext, image, flags)[1].tobytes()


@pytest.mark.parametrize("ext, params", [(".png", {}), (".jpg", {}), (".jpg", {"IMWRITE_JPEG_PROGRESSIVE": 1})])
def test_header_size_matches_the_decoded_size(ext: str, params: dict) -> None:
    data = _encoded(ext, **params)
    size = encoded_size(data)
    assert (size.width, size.height) == (50, 30) == cv2.imdecode(np.frombuffer(data, np.uint8), 1).shape[1::-1]
    assert encoded_size(b"GIF89a and so on") is None


def test_jpeg_header_walk_skips_fill_bytes_and_an_exif_thumbnail_end_marker() -> None:
    data = _encoded(".jpg")
    app1 = b"\xff\xe1" + (2 + 10).to_bytes(2, "big") + b"Exif\xff\xd9\x00\x00\x00\x00"   # an early end marker
    patched = data[:2] + b"\xff\xff" + app1 + data[2:]
    assert encoded_size(patched)[1:] == (50, 30)
    with pytest.raises(HeaderError, match="no end-of-image marker: truncated"):
        encoded_size(patched[:len(patched) // 2])


@pytest.mark.parametrize("ext, cut, message", [
    (".png", 20, "inside its header"), (".png", 0.5, "no end chunk: truncated"),
    (".jpg", 9, "before its frame header"), (".jpg", 0.9, "no end-of-image marker: truncated")])
def test_cut_data_is_reported_as_truncated(ext: str, cut: float, message: str) -> None:
    data = _encoded(ext)
    data = data[:cut if isinstance(cut, int) else int(len(data) * cut)]
    with pytest.raises(HeaderError, match=message) as caught:
        encoded_size(data)
    assert caught.value.truncated
    with pytest.raises(InputError, match=message) as caught:
        codec.compressed_to_rgb(ext[1:], data)
    assert caught.value.kind == "truncated_compressed"


def test_oversize_images_are_refused_before_decoding(monkeypatch) -> None:
    def no_decoding(*args):
        raise AssertionError("cv2.imdecode called for an image above the limit")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    jpeg = bytearray(_encoded(".jpg"))
    sof = jpeg.index(b"\xff\xc0") + 5
    jpeg[sof:sof + 4] = (30000).to_bytes(2, "big") * 2                  # claims 30000x30000
    png = bytearray(_encoded(".png"))
    png[16:24] = (5000).to_bytes(4, "big") + (4000).to_bytes(4, "big")   # claims 5000x4000 (CRC now wrong)
    for fmt, data, claim in (("jpeg", jpeg, "30000x30000 = 900.0 MP"), ("png", png, "5000x4000 = 20.0 MP")):
        with pytest.raises(InputError, match=f"image of {claim} exceeds the limit of 12582912 pixels") as caught:
            codec.compressed_to_rgb(fmt, bytes(data))
        assert caught.value.kind == "image_too_large"
    fields = codec.rgb_to_image_fields(RGB)
    with pytest.raises(InputError, match="image of 7x5 = 0.0 MP exceeds the limit of 34 pixels"):
        codec.image_to_rgb(**fields, max_pixels=34)
    np.testing.assert_array_equal(codec.image_to_rgb(**fields, max_pixels=35), RGB)
    assert MAX_INPUT_PIXELS == 4096 * 3072


def test_image_files_are_refused_above_the_limit(tmp_path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(_encoded(".png", 40, 60))
    assert read_rgb(path, max_pixels=2400).shape == (40, 60, 3)
    with pytest.raises(ValueError, match="big.png: image of 60x40 = 0.0 MP exceeds the limit of 2399 pixels"):
        read_rgb(path, max_pixels=2399)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        read_rgb(tmp_path)
