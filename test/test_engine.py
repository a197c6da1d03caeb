"""The inference engine's fast paths against the reference path (host stages, PyTorch fp32 eager).

The device stages are torch code that runs on the GPU in production; here they run on the CPU against
the OpenCV/numpy reference, stage by stage and through `Predictor.predict`. ONNX Runtime (and OpenVINO
where installed) must give PyTorch's outputs. Tests named *cuda* need a GPU (scripts/gpu_check.sh).
"""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from semdepth_ros.checkpoint import load_checkpoint, save_checkpoint
from semdepth_ros.codec import cloud_fields_to_arrays, unpack_rgb
from semdepth_ros.engine import device_stages
from semdepth_ros.engine.onnx_export import cache_dir
from semdepth_ros.engine.options import EngineError, EngineOptions, installed
from semdepth_ros.geometry import depth_to_points
from semdepth_ros.intrinsics import kitti_like_intrinsics
from semdepth_ros.outputs import OutputSettings, build_outputs, enabled, pack_cloud, valid_depth
from semdepth_ros.prediction import Prediction
from semdepth_ros.predictor import Predictor
from semdepth_ros.scale import GroundPlaneScale

REFERENCE = EngineOptions(backend="torch", channels_last=False, device_stages=False)
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def camera_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth image with edges (a camera's statistics, not white noise), uint8 RGB."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, height // 8), max(2, width // 8), 3), dtype=np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    image[height // 3: height // 2, width // 4: width // 2] = (200, 40, 40)  # a sharp-edged block
    return image


def predictors(checkpoint, device: str = "cpu", **fast) -> tuple[Predictor, Predictor]:
    """(reference, fast) predictors of the same weights."""
    ref_model, meta = load_checkpoint(checkpoint)
    fast_model, _ = load_checkpoint(checkpoint)
    return (Predictor(ref_model, meta, "cpu", REFERENCE),
            Predictor(fast_model, meta, device, EngineOptions(**fast)))


# --- device stages against OpenCV / numpy ----------------------------------------------------------

@pytest.mark.parametrize("size", [(375, 1242), (128, 384), (90, 300), (48, 150)])
def test_image_resize_is_opencv_area(size) -> None:
    """Downscaling gives cv2 INTER_AREA's uint8 result (float rounding may flip a rare .5 tie by one
    level); upscaling (cv2: fixed-point linear weights) is within one level."""
    image = np.random.default_rng(1).integers(0, 256, (*size, 3), dtype=np.uint8)
    expected = cv2.resize(image, (192, 64) if size != (375, 1242) else (640, 192), interpolation=cv2.INTER_AREA)
    out_hw = expected.shape[:2]
    got = device_stages.resize_image(torch.from_numpy(image)[None], out_hw)[0].permute(1, 2, 0).numpy()
    diff = np.abs(got - expected)
    assert diff.max() <= 1.0
    assert (diff > 0).mean() < (1e-4 if size[0] > out_hw[0] else 0.2)


def test_map_resize_is_opencv_linear() -> None:
    maps = np.random.default_rng(2).random((2, 64, 192), dtype=np.float32) * 80
    got = device_stages.resize_maps(torch.from_numpy(maps)[None], (375, 1242))[0].numpy()
    for channel in range(2):
        expected = cv2.resize(maps[channel], (1242, 375), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(got[channel], expected, rtol=1e-5, atol=1e-4)


def test_points_match_depth_image_proc_formula() -> None:
    depth = np.random.default_rng(3).random((2, 40, 60), dtype=np.float32) * 50 + 0.5
    depth[0, 3, 4] = np.nan
    ks = np.stack([kitti_like_intrinsics(60, 40), kitti_like_intrinsics(120, 30)]).astype(np.float32)
    got = device_stages.depth_to_points(torch.from_numpy(depth), torch.from_numpy(ks)).numpy()
    for i in range(2):
        np.testing.assert_allclose(got[i], depth_to_points(depth[i], ks[i]), rtol=1e-6, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("step", [1, 3])
def test_cloud_packing_gives_the_reference_records(step: int) -> None:
    """Same bytes for rgb (rviz packing), label and padding, the same NaN rule (`outputs.valid_depth`:
    not finite, saturated at the network's cap, beyond the range), points equal to float rounding."""
    rng = np.random.default_rng(4)
    h, w = 30, 50
    depth = (rng.random((h, w), dtype=np.float32) * 30).astype(np.float32)
    depth[0, :5] = np.nan
    depth[1, :7] = 25.0  # at the cap of 25 m: saturated
    k = kitti_like_intrinsics(w, h)
    points = depth_to_points(depth, k)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = rng.integers(0, 2, (h, w), dtype=np.uint8)
    pred = Prediction(depth, mask.astype(np.float32), mask, points, k, {}, depth_cap=25.0)
    valid = valid_depth(pred, 20.0)
    expected = pack_cloud(points, valid, rgb, mask, step)
    packed = device_stages.pack_cloud(torch.from_numpy(depth)[None], torch.from_numpy(points)[None],
                                      torch.from_numpy(rgb)[None].float(), torch.from_numpy(mask)[None],
                                      20.0, torch.tensor([25.0]), step)[0].numpy()
    got = packed.view(expected.dtype).reshape(expected.shape)
    assert got.dtype.itemsize == 20 and got.shape == expected.shape
    tail = (np.ascontiguousarray(r).view(np.uint8).reshape(*r.shape, 20)[..., 12:] for r in (got, expected))
    np.testing.assert_array_equal(*tail)  # rgb bits, label, zero padding: byte for byte
    for name in "xyz":
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-6, equal_nan=True)
    assert np.isnan(got["z"]).sum() == (~valid[::step, ::step]).sum() > 0


def test_saturated_depth_is_left_out_on_both_paths(tiny_checkpoint) -> None:
    """A disparity head pushed to ~0 puts every pixel at the network's cap (the sky case):
    both paths leave exactly the `valid_depth` rejects out of the cloud."""
    ref, fast = predictors(tiny_checkpoint, backend="torch", device_stages=True, channels_last=False)
    for predictor in (ref, fast):
        head = predictor.model.depth_decoder.heads[0].conv
        head.bias.data.fill_(-30.0)
    image, k = camera_image(64, 192), kitti_like_intrinsics(192, 64)
    settings = OutputSettings(max_point_range=1e4)
    for pred in (p.predict(image, k, cloud=settings, scale=2.0) for p in (ref, fast)):
        assert pred.depth_cap == pytest.approx(200.0)
        nan = np.isnan(pred.cloud.records["z"])
        assert nan.all() and not valid_depth(pred, settings.max_point_range).any()


# --- the device path through Predictor.predict ----------------------------------------------------

def _compare(ref, fast, image, k, output, rtol=1e-5, cloud=OutputSettings(max_point_range=30.0)) -> None:
    a = ref.predict(image, k, output, cloud=cloud)
    b = fast.predict(image, k, output, cloud=cloud)
    assert b.depth.shape == a.depth.shape and b.depth.dtype == np.float32 and b.mask.dtype == np.uint8
    np.testing.assert_allclose(b.depth, a.depth, rtol=rtol)
    np.testing.assert_allclose(b.fg_prob, a.fg_prob, atol=rtol)
    assert (b.mask != a.mask).mean() < 1e-3
    np.testing.assert_allclose(b.points, a.points, rtol=rtol, atol=1e-5)
    np.testing.assert_allclose(b.intrinsics, a.intrinsics)
    assert set(b.timings) == {"preprocess", "network", "postprocess", "pointcloud"} and b.scale == a.scale
    fa, fb = (build_outputs(p, image, enabled(), None, cloud) for p in (a, b))
    assert fa.keys() == fb.keys() and "points" in fb
    ca, cb = (cloud_fields_to_arrays(**f["points"]) for f in (fa, fb))
    for name in "xyz":
        np.testing.assert_allclose(cb[name], ca[name], rtol=rtol, atol=1e-5, equal_nan=True)
    assert (unpack_rgb(cb["rgb"]) != unpack_rgb(ca["rgb"])).any(axis=-1).mean() < 1e-3


@pytest.mark.parametrize("output", ["network", "input"])
def test_device_stages_on_cpu_match_the_host_path(tiny_checkpoint, output: str) -> None:
    ref, fast = predictors(tiny_checkpoint, backend="torch", device_stages=True)
    image = camera_image(120, 400)
    _compare(ref, fast, image, kitti_like_intrinsics(400, 120), output)


def test_device_stages_batch_decimated_cloud_and_ground_plane(tiny_checkpoint) -> None:
    ref, fast = predictors(tiny_checkpoint, backend="torch", device_stages=True)
    images = [camera_image(96, 288, seed) for seed in range(3)]
    k = kitti_like_intrinsics(288, 96)
    cloud = OutputSettings(max_point_range=25.0, decimation=2)
    a = ref.predict_batch(images, k, cloud=cloud, scale=GroundPlaneScale(1.65, 5.0))
    b = fast.predict_batch(images, k, cloud=cloud, scale=GroundPlaneScale(1.65, 5.0))
    for pa, pb, image in zip(a, b, images):
        assert pb.scale.source == pa.scale.source and pb.scale.factor == pytest.approx(pa.scale.factor, rel=1e-4)
        np.testing.assert_allclose(pb.depth, pa.depth, rtol=1e-4)
        fa, fb = (build_outputs(p, image, {"points"}, None, cloud)["points"] for p in (pa, pb))
        assert (fa["height"], fa["is_dense"]) == (fb["height"], fb["is_dense"]) == (1, True)
        assert abs(fa["width"] - fb["width"]) <= 2  # a point at the range limit may flip
    assert b[0].cloud.records.shape == (32, 96)  # organised grid of every 2nd pixel before dropping NaN


def test_images_of_different_sizes_in_one_batch(tiny_checkpoint) -> None:
    _, fast = predictors(tiny_checkpoint, backend="torch", device_stages=True)
    preds = fast.predict_batch([camera_image(64, 192), camera_image(90, 300)], output="input", with_points=False)
    assert [p.depth.shape for p in preds] == [(64, 192), (90, 300)] and preds[0].points is None


# --- ONNX Runtime / OpenVINO ------------------------------------------------------------------------

def test_onnxruntime_matches_pytorch_and_exports_once(tiny_checkpoint, tmp_path) -> None:
    ref, fast = predictors(tiny_checkpoint, backend="onnxruntime", cache_dir=str(tmp_path))
    assert fast.engine.startswith("onnxruntime CPUExecutionProvider")
    exported = sorted(tmp_path.glob("*.onnx"))
    assert len(exported) == 1
    image = camera_image(120, 400)
    _compare(ref, fast, image, kitti_like_intrinsics(400, 120), "network")
    batch = [camera_image(120, 400, seed) for seed in (5, 6)]
    for a, b in zip(ref.predict_batch(batch), fast.predict_batch(batch)):
        np.testing.assert_allclose(b.depth, a.depth, rtol=1e-5)
    _, again = predictors(tiny_checkpoint, backend="onnxruntime", cache_dir=str(tmp_path))
    assert sorted(tmp_path.glob("*.onnx")) == exported and exported[0].stat().st_mtime_ns > 0


def test_cpu_default_is_the_fastest_installed_runtime(tiny_checkpoint) -> None:
    predictor = Predictor.load(tiny_checkpoint, device="cpu")
    expected = "openvino" if installed("openvino") else "onnxruntime"
    assert predictor.options.backend == expected and not predictor.options.device_stages
    assert any(cache_dir().glob("*.onnx"))
    assert Predictor.load(tiny_checkpoint, device="cpu", options=EngineOptions(precision="bf16")).options.backend \
        == "torch"


@pytest.mark.skipif(not installed("openvino"), reason="openvino not installed (optional extra)")
def test_openvino_matches_pytorch(tiny_checkpoint) -> None:
    ref, fast = predictors(tiny_checkpoint, backend="openvino")
    _compare(ref, fast, camera_image(120, 400), kitti_like_intrinsics(400, 120), "network", rtol=1e-4)


# --- option errors: one sentence each --------------------------------------------------------------

@pytest.mark.parametrize("options, text", [
    (EngineOptions(backend="tensorrt"), "backend must be one of auto, torch, onnxruntime, openvino, not 'tensorrt'"),
    (EngineOptions(precision="int8"), "precision must be one of fp32, fp16, bf16"),
    (EngineOptions(backend="onnxruntime", precision="bf16"), "backend 'onnxruntime' runs fp32"),
    (EngineOptions(backend="torch", precision="fp16"), "precision 'fp16' needs a CUDA device"),
])
def test_bad_engine_options_are_one_sentence(tiny_checkpoint, options, text) -> None:
    with pytest.raises(EngineError, match=text) as error:
        Predictor.load(tiny_checkpoint, device="cpu", options=options)
    assert "\n" not in str(error.value)


@pytest.mark.skipif(installed("openvino"), reason="openvino is installed here")
def test_missing_openvino_says_how_to_install(tiny_checkpoint) -> None:
    with pytest.raises(EngineError, match=r"pip install 'semdepth_ros\[openvino\]'"):
        Predictor.load(tiny_checkpoint, device="cpu", options=EngineOptions(backend="openvino"))


def test_cli_reports_a_bad_engine_choice_in_one_line(tiny_checkpoint, tmp_path) -> None:
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), camera_image(64, 192))
    run = subprocess.run([sys.executable, "-m", "semdepth_ros.cli.main", "predict", str(image), "--out",
                          str(tmp_path / "out"), "--checkpoint", str(tiny_checkpoint), "--device", "cpu",
                          "--precision", "fp16"], capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [
        "semdepth predict: error: precision 'fp16' needs a CUDA device; use 'bf16' or 'fp32' on the CPU"]


# --- CUDA (run by scripts/gpu_check.sh) -----------------------------------------------------------

@pytest.fixture(scope="module")
def decisive_checkpoint(tiny_checkpoint, tmp_path_factory):
    """The tiny network with a decisive foreground head, as a trained one has: a random head puts pixels
    within rounding noise of 0.5, where GPU and CPU kernels may pick different masks and SEEM points."""
    model, meta = load_checkpoint(tiny_checkpoint)
    model.semantic_decoder.heads[0].conv.weight.data.mul_(100.0)
    return save_checkpoint(tmp_path_factory.mktemp("decisive") / "decisive.pt", model, meta)


@pytest.fixture
def exact_fp32(monkeypatch):
    """No TF32 in cuDNN convolutions or matmuls: fp32 on the GPU is then comparable with the CPU at 1e-4."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)


def _tiny_cuda_pair(checkpoint, **fast) -> tuple[Predictor, Predictor]:
    return predictors(checkpoint, "cuda", **fast)


@CUDA
@pytest.mark.parametrize("output", ["network", "input"])
def test_cuda_graph_fp32_path_matches_the_cpu_reference(decisive_checkpoint, exact_fp32, output: str) -> None:
    ref, fast = _tiny_cuda_pair(decisive_checkpoint, channels_last=False)
    assert fast.engine == "torch fp32 cuda_graph, device stages"
    image = camera_image(120, 400)
    for seed in range(3):  # replays with new inputs: nothing stale from the capture
        image = camera_image(120, 400, seed)
        _compare(ref, fast, image, kitti_like_intrinsics(400, 120), output, rtol=1e-3)


@CUDA
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_cuda_reduced_precision_stays_close(decisive_checkpoint, precision: str) -> None:
    ref, fast = _tiny_cuda_pair(decisive_checkpoint, precision=precision)
    image, k = camera_image(120, 400), kitti_like_intrinsics(400, 120)
    a, b = ref.predict(image, k), fast.predict(image, k)
    rel = np.abs(b.depth - a.depth) / a.depth
    assert np.median(rel) < 2e-2 and (a.mask == b.mask).mean() > 0.95


@CUDA
def test_cuda_batch_and_ground_plane(decisive_checkpoint, exact_fp32) -> None:
    ref, fast = _tiny_cuda_pair(decisive_checkpoint, channels_last=False)
    images = [camera_image(375, 1242, seed) for seed in range(4)]
    k = kitti_like_intrinsics(1242, 375)
    cloud = OutputSettings()
    a = ref.predict_batch(images, k, cloud=cloud, scale=GroundPlaneScale(1.65, 5.0))
    b = fast.predict_batch(images, k, cloud=cloud, scale=GroundPlaneScale(1.65, 5.0))
    for pa, pb in zip(a, b):
        np.testing.assert_allclose(pb.depth, pa.depth, rtol=1e-3)
        assert pb.scale.factor == pytest.approx(pa.scale.factor, rel=1e-3)


@CUDA
@pytest.mark.skipif(not installed("onnxruntime"), reason="onnxruntime not installed")
def test_cuda_onnxruntime_provider_when_installed(decisive_checkpoint, exact_fp32) -> None:
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(EngineError, match="needs onnxruntime-gpu"):
            _tiny_cuda_pair(decisive_checkpoint, backend="onnxruntime")
        return
    ref, fast = _tiny_cuda_pair(decisive_checkpoint, backend="onnxruntime")
    _compare(ref, fast, camera_image(120, 400), kitti_like_intrinsics(400, 120), "network", rtol=1e-3)
