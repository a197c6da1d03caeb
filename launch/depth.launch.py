"""Launch the semdepth depth node with the shipped parameters and Fast DDS shared-memory profile.

  ros2 launch semdepth_ros depth.launch.py image:=/camera/image_raw camera_info:=/camera/camera_info \
      checkpoint:=/path/to/model.pt

Outputs appear under the namespace (default /semdepth: /semdepth/depth, /semdepth/points, ...).
The node gets the shipped Fast DDS shared-memory profile (config/fastdds_shm.xml) unless
FASTDDS_DEFAULT_PROFILES_FILE or FASTRTPS_DEFAULT_PROFILES_FILE is already set; readers on the same
host (rviz, ros2 bag) receive full-resolution clouds without it.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

# Fast DDS 3.x reads the first name, 2.x (Jazzy) the second.
PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")


def _profile_actions(profile: str) -> list:
    """Point Fast DDS at the shipped profile unless the user already chose one."""
    if any(os.environ.get(name) for name in PROFILE_VARIABLES):
        return []
    return [SetEnvironmentVariable(name, profile) for name in PROFILE_VARIABLES]


def _node(context: LaunchContext) -> list:
    """The node; checkpoint and device override the params file only when given."""
    names = ("params_file", "checkpoint", "image", "camera_info", "namespace", "device", "use_sim_time")
    arg = {name: LaunchConfiguration(name).perform(context) for name in names}
    overrides = {"use_sim_time": arg["use_sim_time"].lower() in ("true", "1")}
    overrides.update({name: arg[name] for name in ("checkpoint", "device") if arg[name]})
    return [Node(
        package="semdepth_ros",
        executable="depth_node",
        name="depth_node",
        namespace=arg["namespace"],
        output="screen",
        parameters=[arg["params_file"], overrides],
        remappings=[("image", arg["image"]), ("image/compressed", arg["image"] + "/compressed"),
                    ("camera_info", arg["camera_info"])],
    )]


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("semdepth_ros")
    arguments = [
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "semdepth.yaml"),
                              description="Node parameters (YAML)"),
        DeclareLaunchArgument("checkpoint", default_value="",
                              description="Checkpoint file; empty = the params file's value"),
        DeclareLaunchArgument("image", default_value="/camera/image_raw",
                              description="Input image topic (its /compressed sibling with use_compressed)"),
        DeclareLaunchArgument("camera_info", default_value="/camera/camera_info",
                              description="CameraInfo topic of the input image"),
        DeclareLaunchArgument("namespace", default_value="semdepth", description="Namespace of the outputs"),
        DeclareLaunchArgument("device", default_value="",
                              description="auto, cpu, cuda or cuda:N; empty = the params file's value"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="Use /clock (bag replay)"),
    ]
    profile = os.path.join(share, "config", "fastdds_shm.xml")
    return LaunchDescription([*arguments, *_profile_actions(profile), OpaqueFunction(function=_node)])
