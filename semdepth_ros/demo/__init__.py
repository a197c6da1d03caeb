"""`semdepth demo`: the whole pipeline on a synthetic drive, through the real node over DDS.

Renders a short drive with ground truth, replays it through a spawned depth node with the eval-bag
live client, and turns the recorded answers into a montage, a point cloud, metrics and an mcap bag.
"""
