"""Point Fast DDS at the shipped shared-memory profile whichever Fast DDS major version is loaded.

Fast DDS 2.x (ROS 2 Jazzy) reads FASTRTPS_DEFAULT_PROFILES_FILE, 3.x (Kilted and later) reads
FASTDDS_DEFAULT_PROFILES_FILE. Users set one; the variable is read when the first DDS participant is
created, so mirroring it before rclpy.init() makes either name work. rclpy-free.
"""
from __future__ import annotations

import os
from collections.abc import MutableMapping

PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")


def mirror_profiles_variable(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """Copy whichever profiles variable is set to the other one (left alone when set); return the path."""
    path = next((environ[name] for name in PROFILE_VARIABLES if environ.get(name)), None)
    if path:
        for name in PROFILE_VARIABLES:
            environ.setdefault(name, path)
    return path
