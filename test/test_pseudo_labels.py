"""Pseudo labels: Table 7 mapping class by class, files beside the images, the segmentation hooks."""
from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from semdepth_ros.cli.main import main
from semdepth_training.pseudo_labels import (LabelError, LabelTarget, check_train_ids, find_targets,
                                             labels_from_model, labels_from_pngs, load_segmenter, write_labels)

# Semantic-Guided Representation Enhancement, Appendix C.2, Table 7, typed from the paper (Cityscapes
# train-id order).
TABLE_7 = {
    "road": 0, "sidewalk": 0, "building": 0, "wall": 0, "fence": 0, "pole": 0, "traffic light": 1,
    "traffic sign": 1, "vegetation": 0, "terrain": 0, "sky": 0, "person": 1, "rider": 1, "car": 1,
    "truck": 1, "bus": 1, "train": 1, "motorcycle": 1, "bicycle": 1,
}


def _kitti_tree(root: Path, frames: int = 2) -> list[Path]:
    data = root / "2011_09_26" / "2011_09_26_drive_0001_sync" / "image_02" / "data"
    data.mkdir(parents=True)
    paths = []
    for i in range(frames):
        paths.append(data / f"{i:010d}.png")
        cv2.imwrite(str(paths[-1]), np.full((8, 12, 3), 40 * i, np.uint8))
    return paths


def _ids_for(image_index: int) -> np.ndarray:
    ids = np.zeros((8, 12), np.uint8)
    ids[:, 6:] = 13 if image_index == 0 else 11  # car / person: foreground
    ids[0, 0] = 255
    return ids


def test_table7_mapping_class_by_class(tmp_path: Path) -> None:
    ids = np.array([list(range(19)) + [255]], dtype=np.uint8)
    target = LabelTarget(tmp_path / "x.png", tmp_path / "fg_mask" / "x.png", tmp_path / "classes" / "x.png")
    write_labels(target, ids)
    fg = cv2.imread(str(target.fg_mask), cv2.IMREAD_UNCHANGED)
    assert fg.dtype == np.uint8 and set(np.unique(fg)) <= {0, 255}
    for train_id, (name, expected) in enumerate(TABLE_7.items()):
        assert fg[0, train_id] == 255 * expected, name
    assert fg[0, 19] == 0  # ignore -> background
    assert np.array_equal(cv2.imread(str(target.classes), cv2.IMREAD_UNCHANGED), ids)


def test_pngs_written_beside_kitti_images(tmp_path: Path) -> None:
    root, labels = tmp_path / "kitti", tmp_path / "labels"
    images = _kitti_tree(root)
    for i, image in enumerate(images):
        mirror = labels / image.relative_to(root)
        mirror.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(mirror), _ids_for(i))
    targets = find_targets("kitti", root)
    assert [t.image for t in targets] == images
    assert labels_from_pngs(targets, root, labels) == 2
    camera = images[0].parent.parent
    mask = cv2.imread(str(camera / "fg_mask" / "0000000000.png"), cv2.IMREAD_UNCHANGED)
    assert mask[:, :6].max() == 0 and mask[:, 6:].min() == 255
    assert np.array_equal(cv2.imread(str(camera / "classes" / "0000000001.png"), cv2.IMREAD_UNCHANGED),
                          _ids_for(1))


def test_existing_classes_folder_and_cli(tmp_path: Path) -> None:
    root = tmp_path / "kitti"
    images = _kitti_tree(root)
    classes = images[0].parent.parent / "classes"
    classes.mkdir()
    for i, image in enumerate(images):
        cv2.imwrite(str(classes / image.name), _ids_for(i))
    split = tmp_path / "split.txt"
    split.write_text("2011_09_26/2011_09_26_drive_0001_sync 1 l\n")
    assert main(["pseudo-labels", "--data", str(root), "--kind", "kitti", "--split", str(split)]) == 0
    assert (classes.parent / "fg_mask" / "0000000001.png").is_file()
    assert not (classes.parent / "fg_mask" / "0000000000.png").exists()


def test_python_callable_hook_on_image_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seq = tmp_path / "data" / "seq0"
    (seq / "images").mkdir(parents=True)
    (tmp_path / "data" / "intrinsics.yaml").write_text("fx: 10\nfy: 10\ncx: 6\ncy: 4\n")
    for i in range(2):
        cv2.imwrite(str(seq / "images" / f"{i:04d}.png"), np.zeros((8, 12, 3), np.uint8))
    (tmp_path / "my_segmenter.py").write_text(
        "import numpy as np\n"
        "def segment(image):\n"
        "    ids = np.full(image.shape[:2], 10, np.uint8)\n"  # sky: background
        "    ids[:4] = 18\n"                                    # bicycle: foreground
        "    return ids\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    targets = find_targets("folder", tmp_path / "data")
    assert labels_from_model(targets, load_segmenter("my_segmenter:segment")) == 2
    mask = cv2.imread(str(seq / "fg_mask" / "0001.png"), cv2.IMREAD_UNCHANGED)
    assert mask[:4].min() == 255 and mask[4:].max() == 0
    assert (seq / "classes" / "0000.png").is_file()


class _TwoClass(torch.nn.Module):
    """car (13) where red > 0.5, road (0) elsewhere, at half the input size, as 19 class scores."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.zeros_like(x[:, :1, ::2, ::2]).expand(-1, 13, -1, -1),
                          (x[:, :1, ::2, ::2] > 0.5).float(),
                          torch.zeros_like(x[:, :1, ::2, ::2]).expand(-1, 5, -1, -1)], dim=1)


@pytest.mark.parametrize("suffix", [".pt", ".pt2"])
def test_model_file_hook_takes_argmax_and_resizes(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"seg{suffix}"
    if suffix == ".pt2":
        torch.export.save(torch.export.export(_TwoClass(), (torch.rand(1, 3, 8, 12),)), str(path))
    else:
        with warnings.catch_warnings():  # torch.jit.script is deprecated, still what many users have
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(torch.jit.script(_TwoClass()), str(path))
    image = np.zeros((8, 12, 3), np.uint8)
    image[:, :6, 0] = 255
    ids = load_segmenter(str(path))(image)
    assert ids.shape == (4, 6) and set(np.unique(ids)) == {0, 13}
    image_path = tmp_path / "img.png"
    cv2.imwrite(str(image_path), image[..., ::-1])
    target = LabelTarget(image_path, tmp_path / "fg_mask" / "img.png", tmp_path / "classes" / "img.png")
    labels_from_model([target], load_segmenter(str(path)), keep_classes=False)
    mask = cv2.imread(str(target.fg_mask), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (8, 12) and mask[:, :6].min() == 255 and mask[:, 6:].max() == 0
    assert not target.classes.exists()


def test_label_ids_and_colour_maps_are_rejected() -> None:
    with pytest.raises(LabelError, match="train ids"):
        check_train_ids(np.array([[7, 26]]), "labels.png")  # Cityscapes label ids road=7, car=26
    with pytest.raises(LabelError, match="single-channel"):
        check_train_ids(np.zeros((2, 2, 3)), "colour.png")


def test_checkpoint_semantic_head_labels_kitti_frames(tmp_path: Path, tiny_checkpoint: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`--checkpoint`: the network's own foreground, at each image's size, 0/255, and no classes/ (it has
    no class ids); a network without a semantic head is one clear error."""
    from semdepth_ros.checkpoint import CheckpointMeta, save_checkpoint
    from semdepth_ros.model import ModelConfig, SemDepthNet
    from semdepth_ros.predictor import Predictor

    root = tmp_path / "kitti"
    images = _kitti_tree(root, frames=3)
    assert main(["pseudo-labels", "--data", str(root), "--checkpoint", str(tiny_checkpoint)]) == 0
    predictor = Predictor.load(tiny_checkpoint, "cpu")
    for image in images:
        mask = cv2.imread(str(image.parent.parent / "fg_mask" / image.name), cv2.IMREAD_UNCHANGED)
        assert mask.shape == (8, 12) and set(np.unique(mask)) <= {0, 255}
        rgb = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB)
        expected = predictor.predict(rgb, output="input", with_points=False).mask
        np.testing.assert_array_equal(mask // 255, expected)
    assert not (images[0].parent.parent / "classes").exists()
    plain = tmp_path / "plain.pt"
    config = ModelConfig(num_layers=18, semantic=False, seem=False, attention=False)
    save_checkpoint(plain, SemDepthNet(config), CheckpointMeta(model_config=config, input_height=64, input_width=192))
    capsys.readouterr()
    assert main(["pseudo-labels", "--data", str(root), "--checkpoint", str(plain)]) != 0
    assert "no semantic head" in capsys.readouterr().err
