"""semdepth_ros: monocular depth, foreground mask and point cloud for ROS 2 (seed 000 network)."""
__version__ = "0.1.0"
