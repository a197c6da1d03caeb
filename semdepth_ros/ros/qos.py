"""QoS profiles of the node's topics (README "ROS interface" lists them per topic)."""
from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

RELIABILITY = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}


def input_qos() -> QoSProfile:
    """Best effort, keep last 1: only the newest frame matters and a deeper queue only adds latency.

    A best-effort reader also matches reliable camera drivers.
    """
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE)


def output_qos(reliability: str, depth: int) -> QoSProfile:
    """Output QoS: reliable by default so rviz and `ros2 bag record` (both reliable readers) receive it."""
    if reliability not in RELIABILITY:
        raise ValueError(f"output_reliability must be one of {', '.join(RELIABILITY)}, not '{reliability}'")
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=RELIABILITY[reliability],
                      durability=DurabilityPolicy.VOLATILE)
