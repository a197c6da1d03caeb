"""Seed 000 network: ResNet encoder, semantic + depth decoders, SEEM, self-attention, and the pose net."""
from semdepth_ros.model.config import ModelConfig
from semdepth_ros.model.pose_net import PoseNet
from semdepth_ros.model.resnet import ResNetEncoder
from semdepth_ros.model.semdepth_net import SemDepthNet

__all__ = ["ModelConfig", "PoseNet", "ResNetEncoder", "SemDepthNet"]
