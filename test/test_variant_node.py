"""A variant checkpoint in the depth node, in its own process over localhost DDS (docs/variants.md):
pixel-adaptive convolutions with a frozen semantic guide, lateral sharing and SIGNet's class-map input
all on; the node computes the class maps itself. A SIGNet checkpoint without a segmenter stops the node
at start-up with one line."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from semdepth_ros import codec
from semdepth_ros.checkpoint import CheckpointMeta, load_guide_weights, save_checkpoint, with_branch_guide
from semdepth_ros.model import ModelConfig, SemDepthNet
from semdepth_ros.ros.node_process import child_env, node_command

pytest.importorskip("rclpy")
from test_node import (FRAME, H, W, Client, Image, context, decoded, make_image, next_header, raw_image,  # noqa: E402,F401
                       start)

GUIDE = Path(__file__).resolve().parents[1] / "semdepth_ros" / "data" / "default_model.pt"


@pytest.fixture(scope="module")
def variant_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    config = with_branch_guide(ModelConfig(num_layers=18, width=0.25, guide="branch", guide_path=str(GUIDE),
                                           pac=True, lateral_sharing=True, semantic_input="onehot",
                                           semantic_input_edges=True))
    model = SemDepthNet(config)
    load_guide_weights(model)
    path = tmp_path_factory.mktemp("variant") / "variant.pt"
    return save_checkpoint(path, model, CheckpointMeta(model_config=config, input_height=H, input_width=W))


def test_variant_checkpoint_runs_in_the_node(tmp_path: Path, variant_checkpoint: Path, context) -> None:
    node = start(tmp_path, "variant", ["-p", f"checkpoint:={variant_checkpoint}", "-p", "publish_colorized:=true",
                                       "-r", "__ns:=/sd_v",
                                       "-r", "image:=/cam_v/image_raw", "-r", "camera_info:=/cam_v/camera_info"])
    client = Client(context, "/sd_v", "/cam_v/image_raw", Image, "/cam_v/camera_info")
    try:
        assert "PAC" in node.log_text() and "onehot-input" in node.log_text()
        header = next_header()
        outputs = client.exchange(raw_image(header, make_image(seed=3)), header)
        out = decoded(outputs)
        assert out["depth"].shape == (H, W) and np.isfinite(out["depth"]).any()
        assert outputs["depth"].header.frame_id == FRAME
        cloud = codec.cloud_fields_to_arrays(**codec.cloud_fields(outputs["points"]))
        assert cloud["x"].size == H * W
    finally:
        client.node.destroy_node()
        assert node.stop() == 0, node.log_text()


def test_semantic_input_without_segmenter_stops_the_node_at_start_up(tmp_path: Path) -> None:
    config = ModelConfig(num_layers=18, width=0.25, semantic_input="onehot")
    path = save_checkpoint(tmp_path / "signet.pt", SemDepthNet(config), CheckpointMeta(config, H, W))
    run = subprocess.run(node_command(["-p", f"checkpoint:={path}"]), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=child_env(), timeout=120)
    assert run.returncode == 1, run.stdout
    assert "takes class maps as input" in run.stdout and "Traceback" not in run.stdout
