"""rosbag2 tools: KITTI raw -> bag, and depth evaluation on recorded bags (offline or through the node).

Built on the pure-Python `rosbags` library, so they run without a ROS installation.
"""
