"""Shared test set-up: DDS confined to this machine, a private ROS domain, tiny models.

The environment is set at import time, before any test imports rclpy, so every node a test
starts (in this process or a child) inherits it.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_SPLITS = REPO.parent / "shared" / "splits"

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ["ROS_LOCALHOST_ONLY"] = "1"
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="semdepth-roslog-"))
os.environ.setdefault("HOME", tempfile.gettempdir())
# Fast DDS 2.x (Jazzy) reads the FASTRTPS_ name, 3.x (Kilted) the FASTDDS_ one: set both.
os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(REPO / "config" / "fastdds_shm.xml"))
os.environ.setdefault("FASTRTPS_DEFAULT_PROFILES_FILE", os.environ["FASTDDS_DEFAULT_PROFILES_FILE"])
os.environ.setdefault("MPLBACKEND", "Agg")
# Exported ONNX files (the onnxruntime backend, CPU default) go to a per-run folder that nodes inherit.
os.environ.setdefault("SEMDEPTH_CACHE", tempfile.mkdtemp(prefix="semdepth-cache-"))
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised R18 network with every part of Semantic-Guided Representation Enhancement on, at
    64x192."""
    from semdepth_ros.checkpoint import CheckpointMeta, save_checkpoint
    from semdepth_ros.model import ModelConfig, SemDepthNet
    import torch

    torch.manual_seed(0)
    config = ModelConfig(num_layers=18)
    meta = CheckpointMeta(model_config=config, input_height=64, input_width=192)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, SemDepthNet(config), meta)
    return path


@pytest.fixture(scope="session")
def splits_dir() -> Path:
    """The standard KITTI split lists from ../shared (never committed to this repo)."""
    if not SHARED_SPLITS.is_dir():
        pytest.skip(f"split files not found at {SHARED_SPLITS}")
    return SHARED_SPLITS


@pytest.fixture
def one_thread() -> None:
    """torch on one thread for the test (the machine's cores are shared), restored afterwards."""
    import torch  # here, not at import: node tests need no torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
