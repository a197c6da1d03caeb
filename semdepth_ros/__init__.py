"""semdepth_ros: monocular depth, foreground mask and point cloud for ROS 2.

The network is that of "Semantic-Guided Representation Enhancement for Self-supervised Monocular
Trained Depth Estimation" (docs/references.md lists every paper the code cites).
"""
__version__ = "0.1.0"
