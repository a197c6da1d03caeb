"""Geometry: hand-computed values and round trips."""
import math

import numpy as np
import torch

from semdepth_ros.geometry import (axisangle_to_matrix, backproject, depth_to_disp, depth_to_points,
                                   disp_to_depth, intrinsics_4x4, intrinsics_matrix, pose_vec_to_matrix,
                                   project, scale_intrinsics)


def test_disp_depth_range_and_inverse():
    disp = torch.tensor([0.0, 0.5, 1.0])
    _, depth = disp_to_depth(disp, 0.1, 100.0)
    assert math.isclose(depth[0].item(), 100.0, rel_tol=1e-5)
    assert math.isclose(depth[2].item(), 0.1, rel_tol=1e-5)
    # hand value: scaled = 0.01 + 9.99 * 0.5 = 5.005 -> depth 1/5.005
    assert math.isclose(depth[1].item(), 1 / 5.005, rel_tol=1e-5)
    assert torch.allclose(depth_to_disp(depth), disp, atol=1e-6)


def test_scale_intrinsics_pixel_centres():
    k = intrinsics_matrix(100.0, 50.0, 319.5, 95.5)
    k2 = scale_intrinsics(k, 0.5, 0.5)
    assert k2[0, 0] == 50.0 and k2[1, 1] == 25.0
    # the centre of a 640x192 image is the centre of the 320x96 image
    assert k2[0, 2] == 159.5 and k2[1, 2] == 47.5


def test_backproject_then_project_is_identity():
    h, w = 6, 8
    k = intrinsics_4x4(intrinsics_matrix(7.0, 6.0, 3.7, 2.9))
    k_t = torch.from_numpy(k)[None]
    depth = torch.rand(1, 1, h, w) * 10 + 0.5
    points = backproject(depth, torch.linalg.inv(k_t))
    grid = project(points, k_t, torch.eye(4)[None], h, w)
    u = (grid[..., 0] + 1) / 2 * w - 0.5
    v = (grid[..., 1] + 1) / 2 * h - 0.5
    vv, uu = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    assert torch.allclose(u[0], uu, atol=1e-4) and torch.allclose(v[0], vv, atol=1e-4)


def test_point_cloud_equals_hand_formula():
    k = intrinsics_matrix(500.0, 400.0, 320.0, 240.0)
    depth = np.full((4, 5), 2.0, dtype=np.float32)
    depth[1, 2] = np.nan
    pts = depth_to_points(depth, k)
    u, v = 3, 2
    assert np.allclose(pts[v, u], [(u - 320.0) * 2.0 / 500.0, (v - 240.0) * 2.0 / 400.0, 2.0])
    assert np.isnan(pts[1, 2]).all()


def test_axisangle_matches_rodrigues_and_inverse():
    aa = torch.tensor([[[0.0, 0.0, math.pi / 2]]])
    rot = axisangle_to_matrix(aa)[0, :3, :3]
    assert torch.allclose(rot, torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), atol=1e-6)
    aa = torch.randn(3, 1, 3) * 0.3
    t = torch.randn(3, 1, 3)
    fwd = pose_vec_to_matrix(aa, t)
    inv = pose_vec_to_matrix(aa, t, invert=True)
    assert torch.allclose(fwd @ inv, torch.eye(4).expand(3, 4, 4), atol=1e-5)
    assert torch.allclose(fwd[:, :3, 3], t[:, 0], atol=1e-6)
