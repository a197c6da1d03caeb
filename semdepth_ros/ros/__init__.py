"""ROS 2 side of semdepth_ros: the depth node and its parts, and the bag replay client's DDS link.

The only package that imports rclpy (test/test_layers.py checks it). Its rclpy-free helpers
(`fastdds`, `node_process`, `frame_slot`, `stats`, `throttle`) belong to running the node; importing
the package itself imports no rclpy, so the offline tools can start the node as a process.
"""
