"""The repo root is a ROS 2 ament_python package: `colcon build` installs what `ros2 run/launch` need."""
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_package_xml_is_format_3_ament_python():
    root = ElementTree.parse(REPO / "package.xml").getroot()
    assert root.get("format") == "3" and root.findtext("name") == "semdepth_ros"
    assert root.find("export/build_type").text == "ament_python"
    deps = {e.text for e in root.findall("exec_depend")}
    assert {"rclpy", "sensor_msgs", "std_msgs", "geometry_msgs"} <= deps


def test_colcon_build(tmp_path):
    colcon = shutil.which("colcon") or str(Path(sys.executable).with_name("colcon"))
    if not Path(colcon).exists():
        pytest.skip("colcon not installed (pip install colcon-common-extensions)")
    src = tmp_path / "ws" / "src" / "semdepth_ros"
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True).stdout.split()
    files = tracked or [str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file()
                        and ".venv" not in p.parts and ".git" not in p.parts]
    for rel in files:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    res = subprocess.run([colcon, "build", "--packages-select", "semdepth_ros"], cwd=tmp_path / "ws",
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    prefix = tmp_path / "ws" / "install" / "semdepth_ros"
    assert (prefix / "lib" / "semdepth_ros" / "depth_node").exists()
    assert (prefix / "lib" / "semdepth_ros" / "semdepth").exists()
    share = prefix / "share" / "semdepth_ros"
    assert (share / "package.xml").exists()
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / "semdepth_ros").exists()
    for rel in ("launch/depth.launch.py", "config/semdepth.yaml", "config/fastdds_shm.xml",
                "config/semdepth.rviz"):
        assert (share / rel).exists(), rel
