"""The DDS set-up a single-machine demo needs, applied only where the user has not chosen otherwise.

A newcomer's `semdepth demo` must work without exporting anything: discovery stays on this host (no
multicast needed, no other machine's topics), logs go to a writable folder, and Fast DDS gets the
shipped shared-memory profile so point clouds arrive. Child processes inherit os.environ.
"""
from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

from semdepth_ros.ros.fastdds import mirror_profiles_variable

SHARE_CONFIG = Path("share") / "semdepth_ros" / "config"


def shipped_config(name: str) -> Path | None:
    """config/<name> of a source checkout (or editable install), a pip install or a colcon prefix."""
    checkout = Path(__file__).resolve().parents[2] / "config"
    prefixes = [Path(sys.prefix)] + [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    candidates = [checkout / name] + [prefix / SHARE_CONFIG / name for prefix in prefixes]
    return next((path for path in candidates if path.is_file()), None)


def apply_ros_defaults(log_dir: Path, environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """Fill in unset DDS/ROS variables; returns notes on what the user should know (e.g. no profile)."""
    environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if environ.get("ROS_DISTRO") == "humble":  # no discovery range before Iron; later distros warn on this one
        environ.setdefault("ROS_LOCALHOST_ONLY", "1")
    if not environ.get("ROS_LOG_DIR"):
        environ["ROS_LOG_DIR"] = str(log_dir)
    notes = []
    if not mirror_profiles_variable(environ):
        profile = shipped_config("fastdds_shm.xml")
        if profile is None:
            notes.append("config/fastdds_shm.xml not found: Fast DDS uses its default transports "
                         "(large point clouds may be slow or lost)")
        else:
            environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(profile)
            mirror_profiles_variable(environ)
    return notes
