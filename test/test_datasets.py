"""Datasets through their public interface on tiny trees written in the real on-disk layouts."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from semdepth_training.datasets import (ImageFolderDataset, KittiRawDataset, RawSample, SampleDataset,
                                        build_dataset, build_sample, fetch_split, read_split)
from semdepth_training.config import load_config
from semdepth_training.datasets.augment import JitterParams, apply_jitter, hsv_to_rgb, rgb_to_hsv
from semdepth_training.datasets.batch import expand_batch, expand_sample, is_compact
from semdepth_training.trainer import build_datasets
from semdepth_synth.sequence import SynthConfig

HEIGHT, WIDTH = 64, 128  # network input
RAW_W, RAW_H = 256, 128  # stored images (2x, so resizing is exact and flips commute with it)
DATE, DRIVE = "2011_09_26", "2011_09_26_drive_0001_sync"
FRAMES = range(5)
P_RECT = {2: [[100.0, 0.0, 120.0, 50.0], [0.0, 100.0, 40.0, 0.0], [0.0, 0.0, 1.0, 0.0]],
          3: [[100.0, 0.0, 130.0, -330.0], [0.0, 100.0, 40.0, 0.0], [0.0, 0.0, 1.0, 0.0]]}


def frame_image(value: int, width: int = RAW_W, height: int = RAW_H) -> np.ndarray:
    """RGB frame whose green channel encodes ``value``; red marks the left quarter (to see flips)."""
    image = np.full((height, width, 3), value, np.uint8)
    image[:, : width // 4, 0] = 255
    return image


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def write_mask(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), mask)


def green(sample: dict, frame_id: int, scale: int = 0) -> float:
    """The mean green value of a frame, from a sample dict or a compact sample (expanded first)."""
    sample = expand_sample(sample) if is_compact(sample) else sample
    return round(sample[("color", frame_id, scale)][1].mean().item() * 255)


def numbers(values: list[float]) -> str:
    return " ".join(f"{v:.6e}" for v in values)


def write_kitti_calib(date_dir: Path) -> None:
    """calib_cam_to_cam.txt / calib_velo_to_cam.txt in KITTI's exact text format."""
    eye = numbers([1, 0, 0, 0, 1, 0, 0, 0, 1])
    lines = ["calib_time: 09-Jan-2012 13:57:47", "corner_dist: 9.950000e-02"]
    for cam in range(4):
        p_rect = P_RECT.get(cam, P_RECT[2])
        lines += [f"S_0{cam}: {numbers([RAW_W + 10, RAW_H + 8])}",
                  f"K_0{cam}: {numbers([110, 0, 128, 0, 110, 64, 0, 0, 1])}",
                  f"D_0{cam}: {numbers([-0.37, 0.2, 0.002, 0.001, -0.07])}",
                  f"R_0{cam}: {eye}", f"T_0{cam}: {numbers([-0.54 * (cam % 2), 0.0, 0.0])}",
                  f"S_rect_0{cam}: {numbers([RAW_W, RAW_H])}", f"R_rect_0{cam}: {eye}",
                  f"P_rect_0{cam}: {numbers(sum(p_rect, []))}"]
    (date_dir / "calib_cam_to_cam.txt").write_text("\n".join(lines) + "\n")
    (date_dir / "calib_velo_to_cam.txt").write_text(
        "calib_time: 15-Mar-2012 11:37:16\n"
        f"R: {numbers([0, -1, 0, 0, 0, -1, 1, 0, 0])}\n"  # velodyne x forward -> camera z
        f"T: {numbers([0, 0, 0])}\n"
        f"delta_f: {numbers([0, 0])}\ndelta_c: {numbers([0, 0])}\n")


@pytest.fixture
def kitti_root(tmp_path: Path) -> Path:
    """One drive, frames 0..4 for both cameras (green = 10 * (frame + 1), +5 for image_03),
    a pseudo label and a Velodyne scan (a wall 10 m ahead) for frame 2."""
    root = tmp_path / "kitti"
    drive = root / DATE / DRIVE
    for frame in FRAMES:
        write_rgb(drive / "image_02" / "data" / f"{frame:010d}.png", frame_image(10 * (frame + 1)))
        write_rgb(drive / "image_03" / "data" / f"{frame:010d}.png", frame_image(10 * (frame + 1) + 5))
    mask = np.zeros((RAW_H, RAW_W), np.uint8)
    mask[:, : RAW_W // 2] = 255
    write_mask(drive / "image_02" / "fg_mask" / f"{2:010d}.png", mask)
    y, z = np.meshgrid(np.linspace(-1, 1, 21), np.linspace(-0.5, 0.5, 11))
    scan = np.stack([np.full(y.size, 10.0), y.ravel(), z.ravel(), np.ones(y.size)], 1).astype(np.float32)
    (drive / "velodyne_points" / "data").mkdir(parents=True)
    scan.tofile(drive / "velodyne_points" / "data" / f"{2:010d}.bin")
    write_kitti_calib(root / DATE)
    return root


def write_split(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


@pytest.fixture
def split_file(tmp_path: Path) -> Path:
    return write_split(tmp_path / "train_files.txt",
                       [f"{DATE}/{DRIVE} {f} l" for f in (1, 2, 3)] + [f"{DATE}/{DRIVE} 2 r"])


def test_kitti_sample_keys_shapes_dtypes(kitti_root: Path, split_file: Path) -> None:
    dataset = KittiRawDataset(kitti_root, split_file, height=HEIGHT, width=WIDTH)
    assert len(dataset) == 4
    compact = dataset[0]
    for f in (0, -1, 1):  # what a loader worker returns: uint8 at the training size
        assert compact[("image", f)].shape == (3, HEIGHT, WIDTH) and compact[("image", f)].dtype == torch.uint8
    assert compact["flip"].dtype == torch.bool and compact["jitter"].shape == (8,)
    sample = expand_sample(compact)
    assert not any(isinstance(k, tuple) and k[0] == "image" for k in sample) and "jitter" not in sample
    for s in range(4):
        for f in (0, -1, 1):
            for key in ("color", "color_aug") if s == 0 else ("color",):
                tensor = sample[(key, f, s)]
                assert tensor.shape == (3, HEIGHT // 2 ** s, WIDTH // 2 ** s)
                assert tensor.dtype == torch.float32
                assert 0.0 <= tensor.min() and tensor.max() <= 1.0
            assert s == 0 or ("color_aug", f, s) not in sample  # no network reads jittered scales 1-3
        assert sample[("K", s)].shape == (4, 4) and sample[("K", s)].dtype == torch.float32
        assert torch.allclose(sample[("K", s)] @ sample[("inv_K", s)], torch.eye(4), atol=1e-5)
    for key in ("fg_mask", "depth_gt"):
        assert sample[key].shape == (1, HEIGHT, WIDTH) and sample[key].dtype == torch.float32
    assert sample["fg_valid"].shape == () and sample["depth_valid"].shape == ()
    assert sample["index"] == 0
    batch = expand_batch(torch.utils.data.default_collate([dataset[0], dataset[1]]))
    assert batch[("color", 0, 0)].shape == (2, 3, HEIGHT, WIDTH)


def test_kitti_neighbours_are_the_right_frames(kitti_root: Path, split_file: Path) -> None:
    dataset = KittiRawDataset(kitti_root, split_file, height=HEIGHT, width=WIDTH)
    for index, target in enumerate((1, 2, 3)):
        sample = dataset[index]
        for scale in (0, 3):
            expected = [10 * (target + d + 1) for d in (-1, 0, 1)]
            assert [green(sample, f, scale) for f in (-1, 0, 1)] == expected
    assert green(dataset[3], 0) == 35  # 'r' reads image_03


def test_kitti_monodepth2_intrinsics_per_scale(kitti_root: Path, split_file: Path) -> None:
    sample = KittiRawDataset(kitti_root, split_file, height=HEIGHT, width=WIDTH)[0]
    for s in range(4):
        w, h = WIDTH / 2 ** s, HEIGHT / 2 ** s
        expected = np.array([[0.58 * w, 0, 0.5 * w], [0, 1.92 * h, 0.5 * h], [0, 0, 1]])
        np.testing.assert_allclose(sample[("K", s)][:3, :3].numpy(), expected, rtol=1e-6)


def test_kitti_calibration_intrinsics(kitti_root: Path, split_file: Path) -> None:
    dataset = KittiRawDataset(kitti_root, split_file, height=HEIGHT, width=WIDTH, intrinsics="calib")
    # P_rect_02 fx=fy=100, cx=120, cy=40 at 256x128; scale s has 128/2^s x 64/2^s pixels.
    for s, (fx, cx, cy) in enumerate([(50, 60, 20), (25, 30, 10), (12.5, 15, 5), (6.25, 7.5, 2.5)]):
        np.testing.assert_allclose(dataset[0][("K", s)][:3, :3].numpy(),
                                   [[fx, 0, cx], [0, fx, cy], [0, 0, 1]], rtol=1e-6)
    assert dataset[3][("K", 0)][0, 2].item() == pytest.approx(65.0)  # P_rect_03 cx=130


def test_kitti_labels_when_present(kitti_root: Path, split_file: Path) -> None:
    dataset = KittiRawDataset(kitti_root, split_file, height=HEIGHT, width=WIDTH)
    with_labels, without = dataset[1], dataset[0]
    assert with_labels["fg_valid"] == 1 and without["fg_valid"] == 0 and without["fg_mask"].sum() == 0
    assert with_labels["fg_mask"][0, :, : WIDTH // 2].eq(1).all()
    assert with_labels["fg_mask"][0, :, WIDTH // 2:].eq(0).all()
    depth = with_labels["depth_gt"]
    assert with_labels["depth_valid"] == 1 and without["depth_valid"] == 0
    assert (depth > 0).sum() > 0 and torch.allclose(depth[depth > 0], torch.tensor(10.0), atol=1e-4)
    no_scan = KittiRawDataset(kitti_root, split_file, height=HEIGHT, width=WIDTH, velodyne_gt=False)
    assert no_scan[1]["depth_valid"] == 0


def test_kitti_training_set_skips_the_velodyne_projection(kitti_root: Path, split_file: Path,
                                                          tmp_path: Path) -> None:
    """Training never reads depth_gt; the validation set keeps it (per-epoch AbsRel)."""
    split_dir = tmp_path / "split"
    split_dir.mkdir()
    for name in ("train_files.txt", "val_files.txt"):
        (split_dir / name).write_text(split_file.read_text())
    config = load_config(values={"data.dataset": "kitti", "data.path": str(kitti_root), "data.split": str(split_dir),
                                 "data.height": HEIGHT, "data.width": WIDTH, "data.num_workers": 0,
                                 "model.num_layers": 18})
    train, val = build_datasets(config, tmp_path / "run")
    assert train[1]["depth_valid"] == 0 and val[1]["depth_valid"] == 1  # index 1 = frame 2, which has a scan


def test_kitti_drive_ends_are_skipped_and_counted(kitti_root: Path, tmp_path: Path) -> None:
    split = write_split(tmp_path / "s.txt", [f"{DATE}/{DRIVE} {f} l" for f in FRAMES])
    dataset = KittiRawDataset(kitti_root, split, height=HEIGHT, width=WIDTH)
    assert (len(dataset), dataset.num_skipped) == (3, 2)
    assert len(KittiRawDataset(kitti_root, split, height=HEIGHT, width=WIDTH, frame_ids=(0,))) == 5


def test_kitti_jpg(tmp_path: Path) -> None:
    root = tmp_path / "kitti"
    for frame in range(3):
        write_rgb(root / DATE / DRIVE / "image_02" / "data" / f"{frame:010d}.jpg", frame_image(100))
    split = write_split(tmp_path / "s.txt", [f"{DATE}/{DRIVE} 1 l"])
    sample = KittiRawDataset(root, split, height=HEIGHT, width=WIDTH, ext="jpg")[0]
    assert green(sample, 0) == pytest.approx(100, abs=3)
    with pytest.raises(FileNotFoundError, match=r"0000000001\.png.*found \.jpg"):
        KittiRawDataset(root, split, height=HEIGHT, width=WIDTH)


def test_kitti_errors(kitti_root: Path, split_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="multiples of 32.*height=100"):
        KittiRawDataset(kitti_root, split_file, height=100, width=WIDTH)
    with pytest.raises(FileNotFoundError, match="KITTI root not found"):
        KittiRawDataset(tmp_path / "nowhere", split_file)
    with pytest.raises(ValueError, match="no entries"):
        KittiRawDataset(kitti_root, write_split(tmp_path / "empty.txt", []))
    missing = write_split(tmp_path / "missing.txt", [f"{DATE}/{DRIVE} 9 l"])
    with pytest.raises(FileNotFoundError, match=r"frame file missing: .*image_02/data/0000000009\.png"):
        KittiRawDataset(kitti_root, missing)
    (kitti_root / DATE / "calib_cam_to_cam.txt").unlink()
    with pytest.raises(FileNotFoundError, match="calib_cam_to_cam.txt"):
        KittiRawDataset(kitti_root, split_file, intrinsics="calib")


def test_real_eigen_zhou_split_parses(splits_dir: Path) -> None:
    entries = read_split(splits_dir / "eigen_zhou" / "train_files.txt")
    assert len(entries) == 39810
    first = entries[0]
    assert (first.folder, first.frame, first.side) == ("2011_09_26/2011_09_26_drive_0022_sync", 473, "r")


def test_fetch_split_from_local_folder_and_file_url(splits_dir: Path, tmp_path: Path) -> None:
    folder = fetch_split("eigen", tmp_path / "a", url=splits_dir)
    assert folder == tmp_path / "a" / "eigen" and len(read_split(folder / "test_files.txt")) == 697
    folder = fetch_split("eigen_zhou", tmp_path / "b", url=splits_dir.as_uri())
    assert len(read_split(folder / "val_files.txt")) == 4424
    with pytest.raises(ValueError, match="unknown split"):
        fetch_split("nope", tmp_path)


def write_sequence(folder: Path, count: int, values: list[int] | None = None) -> None:
    for i in range(count):
        write_rgb(folder / "images" / f"{i:06d}.png", frame_image(values[i] if values else 10 * (i + 1)))


def test_image_folder_with_intrinsics_yaml(tmp_path: Path) -> None:
    write_sequence(tmp_path / "seq_a", 4)
    write_sequence(tmp_path / "seq_b", 3)
    (tmp_path / "intrinsics.yaml").write_text(yaml.safe_dump({"fx": 200.0, "fy": 180.0, "cx": 128.0, "cy": 64.0,
                                                             "width": RAW_W, "height": RAW_H}))
    (tmp_path / "seq_a" / "depth").mkdir()
    np.save(tmp_path / "seq_a" / "depth" / "000001.npy", np.full((RAW_H, RAW_W), 7.0, np.float32))
    dataset = ImageFolderDataset(tmp_path, height=HEIGHT, width=WIDTH)
    assert len(dataset) == 2 + 1  # targets 1, 2 of seq_a and 1 of seq_b
    assert [green(dataset[0], f) for f in (-1, 0, 1)] == [10, 20, 30]
    assert dataset[0]["depth_valid"] == 1 and dataset[0]["depth_gt"].eq(7.0).all()
    assert dataset[1]["depth_valid"] == 0 and dataset[0]["fg_valid"] == 0
    np.testing.assert_allclose(dataset[0][("K", 1)][:3, :3].numpy(), [[50, 0, 32], [0, 45, 16], [0, 0, 1]])
    (tmp_path / "seq_a" / "intrinsics.yaml").write_text("fx: 400\nfy: 180\ncx: 128\ncy: 64\n")
    own = ImageFolderDataset(tmp_path, height=HEIGHT, width=WIDTH)  # a sequence's own file wins
    assert own[0][("K", 0)][0, 0] == 200 and own[2][("K", 0)][0, 0] == 100
    strided = ImageFolderDataset(tmp_path / "seq_a", height=HEIGHT, width=WIDTH, stride=2, frame_ids=(0, -1))
    assert len(strided) == 2 and [green(strided[1], f) for f in (-1, 0)] == [20, 40]


def test_image_folder_with_camera_info_yaml(tmp_path: Path) -> None:
    write_sequence(tmp_path, 3)
    (tmp_path / "camera_info.yaml").write_text(
        "image_width: 256\nimage_height: 128\ncamera_name: front\n"
        "camera_matrix:\n  rows: 3\n  cols: 3\n  data: [200.0, 0.0, 100.0, 0.0, 180.0, 60.0, 0.0, 0.0, 1.0]\n"
        "distortion_model: plumb_bob\n"
        "distortion_coefficients:\n  rows: 1\n  cols: 5\n  data: [0.0, 0.0, 0.0, 0.0, 0.0]\n")
    mask = np.zeros((RAW_H, RAW_W), np.uint8)
    mask[: RAW_H // 2] = 255
    write_mask(tmp_path / "fg_mask" / "000001.png", mask)
    sample = ImageFolderDataset(tmp_path, height=HEIGHT, width=WIDTH)[0]
    np.testing.assert_allclose(sample[("K", 0)][:3, :3].numpy(), [[100, 0, 50], [0, 90, 30], [0, 0, 1]])
    assert sample["fg_valid"] == 1 and sample["fg_mask"].mean() == 0.5 and sample["fg_mask"][0, 0, 0] == 1


def test_image_folder_errors(tmp_path: Path) -> None:
    write_sequence(tmp_path / "seq", 3)
    with pytest.raises(FileNotFoundError, match="no intrinsics for sequence .*intrinsics.yaml"):
        ImageFolderDataset(tmp_path, height=HEIGHT, width=WIDTH)
    (tmp_path / "intrinsics.yaml").write_text("fx: [1, 2\n")
    with pytest.raises(ValueError, match="intrinsics.yaml"):
        ImageFolderDataset(tmp_path, height=HEIGHT, width=WIDTH)
    (tmp_path / "intrinsics.yaml").write_text("fx: 100\nfy: 100\ncx: 50\n")
    with pytest.raises(ValueError, match="missing cy"):
        ImageFolderDataset(tmp_path, height=HEIGHT, width=WIDTH)
    (tmp_path / "intrinsics.yaml").write_text("fx: 100\nfy: 100\ncx: 50\ncy: 50\nwidth: 640\nheight: 480\n")
    with pytest.raises(ValueError, match="640x480 images but .* is 256x128"):
        ImageFolderDataset(tmp_path, height=HEIGHT, width=WIDTH)
    (tmp_path / "empty" / "images").mkdir(parents=True)
    with pytest.raises(ValueError, match="no images"):
        ImageFolderDataset(tmp_path / "empty", height=HEIGHT, width=WIDTH)
    with pytest.raises(ValueError, match="multiples of 32"):
        ImageFolderDataset(tmp_path, height=HEIGHT, width=100)


def raw_sample(values: tuple[int, int, int] = (10, 20, 30)) -> RawSample:
    depth = np.zeros((RAW_H, RAW_W), np.float32)
    depth[:, :8] = 5.0
    mask = np.zeros((RAW_H, RAW_W), np.uint8)
    mask[:, -8:] = 1
    K = np.array([[100.0, 0.0, 100.0], [0.0, 100.0, 64.0], [0.0, 0.0, 1.0]])
    return RawSample({f: frame_image(v) for f, v in zip((-1, 0, 1), values)}, K, mask, depth)


def test_flip_is_consistent_across_images_labels_and_intrinsics() -> None:
    plain = build_sample(raw_sample(), 0, HEIGHT, WIDTH)
    flipped = build_sample(raw_sample(), 0, HEIGHT, WIDTH, flip=True)
    for f in (-1, 0, 1):
        for s in range(4):
            assert torch.equal(flipped[("color", f, s)], plain[("color", f, s)].flip(-1))
    for key in ("fg_mask", "depth_gt"):
        assert torch.equal(flipped[key], plain[key].flip(-1)) and plain[key].sum() > 0
    for s in range(4):
        w = WIDTH // 2 ** s
        assert plain[("K", s)][0, 2].item() == pytest.approx(100 / RAW_W * w)
        assert flipped[("K", s)][0, 2].item() == pytest.approx(w - 100 / RAW_W * w)  # cx -> W - cx
        assert torch.equal(flipped[("K", s)][1], plain[("K", s)][1])


def test_jitter_is_shared_by_all_frames_and_absent_from_color() -> None:
    brighter = JitterParams(brightness=1.2, contrast=1.0, saturation=1.0, hue=0.0, order=(0, 1, 2, 3))
    sample = build_sample(raw_sample((50, 80, 110)), 0, HEIGHT, WIDTH, jitter=brighter)
    for f, value in zip((-1, 0, 1), (50, 80, 110)):
        assert green(sample, f) == value  # "color" is untouched
        ratio = sample[("color_aug", f, 0)][1] / sample[("color", f, 0)][1]
        assert torch.allclose(ratio, torch.tensor(1.2))
    # Full random jitter on identical frames: identical results for every frame.
    dataset = _IdenticalFrames(augment=True)
    jittered = 0
    for epoch in range(6):
        dataset.set_epoch(epoch)
        sample = expand_sample(dataset[0])
        assert torch.equal(sample[("color_aug", -1, 0)], sample[("color_aug", 0, 0)])
        assert torch.equal(sample[("color_aug", 1, 0)], sample[("color_aug", 0, 0)])
        jittered += not torch.equal(sample[("color_aug", 0, 0)], sample[("color", 0, 0)])
    assert 0 < jittered < 6


class _IdenticalFrames(SampleDataset):
    """Three identical random frames in memory, to watch augmentation alone."""

    def __init__(self, augment: bool) -> None:
        super().__init__(HEIGHT, WIDTH, augment=augment)

    def __len__(self) -> int:
        return 2

    def load(self, index: int, size: tuple[int, int] | None = None) -> RawSample:
        rng = np.random.default_rng(index)
        image = rng.integers(0, 256, (RAW_H, RAW_W, 3), dtype=np.uint8)
        return RawSample({f: image for f in (-1, 0, 1)}, raw_sample().K)


def test_augmentation_depends_only_on_seed_epoch_index() -> None:
    a, b = _IdenticalFrames(augment=True), _IdenticalFrames(augment=True)
    b[1]  # consuming other samples first must not change anything (resume, worker order)
    b.set_epoch(3)
    a.set_epoch(3)
    sample_a, sample_b = a[0], b[0]
    assert sample_a.keys() == sample_b.keys()
    assert all(torch.equal(torch.as_tensor(sample_a[k]), torch.as_tensor(sample_b[k])) for k in sample_a)
    views = set()
    for epoch in range(8):
        a.set_epoch(epoch)
        views.add(expand_sample(a[0])[("color_aug", 0, 0)][:, 0, :5].sum().item())  # flip and jitter
    assert len(views) > 2
    plain = expand_sample(_IdenticalFrames(augment=False)[0])
    assert all(torch.equal(plain[("color_aug", f, 0)], plain[("color", f, 0)]) for f in (-1, 0, 1))


def test_colour_ops() -> None:
    image = torch.rand(3, 8, 8)
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(image)), image, atol=1e-5)
    identity = JitterParams(1.0, 1.0, 1.0, 0.0, (3, 2, 1, 0))
    assert torch.allclose(apply_jitter(image, identity), image, atol=1e-5)
    red = torch.zeros(3, 1, 1)
    red[0] = 1.0
    green_ = apply_jitter(red, JitterParams(1.0, 1.0, 1.0, 1 / 3, (0, 1, 2, 3)))
    assert torch.allclose(green_.flatten(), torch.tensor([0.0, 1.0, 0.0]), atol=1e-5)


def test_synthetic_sequences_are_labelled_and_reproducible() -> None:
    config = SynthConfig(height=HEIGHT, width=WIDTH, num_frames=4)
    dataset = build_dataset("synthetic", num_sequences=1, config=config, height=HEIGHT, width=WIDTH, seed=1)
    assert len(dataset) == 2
    first, second = expand_sample(dataset[0]), expand_sample(dataset[1])
    assert torch.equal(first[("color", 1, 0)], second[("color", 0, 0)])  # neighbours share frames
    assert first["fg_valid"] == 1 and first["depth_valid"] == 1
    depth = first["depth_gt"]
    assert torch.isfinite(depth).all() and (depth == 0).any() and (depth > 0).any()  # sky -> 0
    again = build_dataset("synthetic", num_sequences=1, config=config, height=HEIGHT, width=WIDTH, seed=1)[0]
    assert torch.equal(expand_sample(again)[("color", -1, 2)], first[("color", -1, 2)])
    other = build_dataset("synthetic", num_sequences=1, config=config, height=HEIGHT, width=WIDTH, seed=2)[0]
    assert not torch.equal(expand_sample(other)[("color", 0, 0)], first[("color", 0, 0)])


def test_build_dataset_factory(tmp_path: Path) -> None:
    write_sequence(tmp_path, 3)
    (tmp_path / "intrinsics.yaml").write_text("fx: 100\nfy: 100\ncx: 128\ncy: 64\n")
    dataset = build_dataset("folder", root=tmp_path, height=HEIGHT, width=WIDTH)
    assert isinstance(dataset, ImageFolderDataset) and len(dataset) == 1
    with pytest.raises(ValueError, match="unknown dataset kind 'nope'"):
        build_dataset("nope")
