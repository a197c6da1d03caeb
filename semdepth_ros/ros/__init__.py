"""ROS 2 side of semdepth_ros: the depth node and message <-> numpy conversions.

Importing this package must not import rclpy: `codec` is shared with the rclpy-free bag tools.
"""
