"""QoS profiles of the node's topics (README "ROS interface" lists them per topic)."""
from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

RELIABILITY = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}


def input_qos(reliability: str = "best_effort") -> QoSProfile:
    """Keep last 1 (only the newest frame matters and a deeper queue only adds latency); best effort
    by default, which matches reliable and best-effort camera drivers alike.

    Reliable matches only reliable publishers, but has DDS resend lost fragments of a large frame: a
    multi-megabyte image sent best effort from a process without a large shared-memory transport is
    lost whole when any one fragment is (README, "DDS set-up").
    """
    if reliability not in RELIABILITY:
        raise ValueError(f"input_reliability must be one of {', '.join(RELIABILITY)}, not '{reliability}'")
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=RELIABILITY[reliability],
                      durability=DurabilityPolicy.VOLATILE)


def output_qos(reliability: str, depth: int) -> QoSProfile:
    """Output QoS: reliable by default so rviz and `ros2 bag record` (both reliable readers) receive it."""
    if reliability not in RELIABILITY:
        raise ValueError(f"output_reliability must be one of {', '.join(RELIABILITY)}, not '{reliability}'")
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=RELIABILITY[reliability],
                      durability=DurabilityPolicy.VOLATILE)
