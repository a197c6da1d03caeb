"""Depth evaluation: KITTI ground truth, the protocol loop over a dataset, and its report."""
