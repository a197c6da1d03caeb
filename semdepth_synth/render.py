"""Ray casting of the street world: exact z-depth, class ids and a Lambertian RGB image per pose.

Rays are built in the camera frame with unit z, so the ray parameter of a hit *is* the depth
(z in the camera frame, not range). Each primitive is intersected only inside its projected screen
rectangle (a conservative bound, exact about which pixel centres it can cover), which keeps a frame
with hundreds of objects fast in plain numpy.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from semdepth_ros.classes import TRAIN_ID
from semdepth_synth.textures import TEXTURES, Surface, sky
from semdepth_synth.world import Material, Shape, World

NEAR = 0.05  # metres; nothing is closer to the camera
SUN = np.array([-0.45, -0.8, 0.4]) / np.linalg.norm([-0.45, -0.8, 0.4])  # towards the sun (y is down)
AMBIENT, DIFFUSE = 0.5, 0.6
_PAIRS = np.array(list(combinations(range(8), 2)))
_UNIT_CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)


@dataclass
class RenderedFrame:
    rgb: np.ndarray  # [H,W,3] uint8
    depth: np.ndarray  # [H,W] float32 metres (camera z), inf where the ray escapes to the sky
    class_ids: np.ndarray  # [H,W] uint8 Cityscapes train ids


def _intersect_box(o: np.ndarray, d: np.ndarray, half: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        t1, t2 = (-half - o) * inv, (half - o) * inv
    t_in = np.minimum(t1, t2).max(axis=1)
    t_out = np.maximum(t1, t2).min(axis=1)
    return np.where((t_in <= t_out) & (t_in > NEAR), t_in, np.inf)


def _intersect_cylinder(o: np.ndarray, d: np.ndarray, half: np.ndarray) -> np.ndarray:
    r, h = half[0], half[1]
    a = d[:, 0] ** 2 + d[:, 2] ** 2
    b = 2 * (o[0] * d[:, 0] + o[2] * d[:, 2])
    c = o[0] ** 2 + o[2] ** 2 - r * r
    disc = b * b - 4 * a * c
    with np.errstate(divide="ignore", invalid="ignore"):
        t_side = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2 * a)
        on_side = (disc >= 0) & (t_side > NEAR) & (np.abs(o[1] + t_side * d[:, 1]) <= h)
        t_side = np.where(on_side, t_side, np.inf)
        t_cap = (-np.sign(d[:, 1]) * h - o[1]) / d[:, 1]  # the cap the ray meets first
    cx, cz = o[0] + t_cap * d[:, 0], o[2] + t_cap * d[:, 2]
    t_cap = np.where((t_cap > NEAR) & (cx * cx + cz * cz <= r * r), t_cap, np.inf)
    return np.minimum(t_side, t_cap)


def _intersect_sphere(o: np.ndarray, d: np.ndarray, half: np.ndarray) -> np.ndarray:
    a = np.einsum("ij,ij->i", d, d)
    b = 2 * d @ o
    disc = b * b - 4 * a * (o @ o - half[0] ** 2)
    t = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2 * a)
    return np.where((disc >= 0) & (t > NEAR), t, np.inf)


def _intersect_plane(o: np.ndarray, d: np.ndarray, half: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -o[1] / d[:, 1]
    return np.where(t > NEAR, t, np.inf)


_INTERSECT = {Shape.BOX: _intersect_box, Shape.CYLINDER: _intersect_cylinder, Shape.SPHERE: _intersect_sphere,
              Shape.PLANE: _intersect_plane}


def _face(shape: np.ndarray, q: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(local normal [n,3], axis [n] of the face it belongs to) at local hit points q."""
    n = np.zeros_like(q)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(q) / half
    radial = np.hypot(rel[:, 0], rel[:, 2])
    box_axis = np.argmax(np.nan_to_num(rel, nan=0.0), axis=1)
    cap = rel[:, 1] > radial
    axis = np.select([shape == Shape.BOX, shape == Shape.CYLINDER], [box_axis, np.where(cap, 1, 0)], 1)
    flat = (shape == Shape.BOX) | ((shape == Shape.CYLINDER) & cap) | (shape == Shape.PLANE)
    rows = np.flatnonzero(flat)
    n[rows, axis[rows]] = np.where(shape[rows] == Shape.PLANE, -1.0, np.sign(q[rows, axis[rows]]))
    curved = np.flatnonzero(~flat)
    n[curved] = q[curved]
    n[curved[shape[curved] == Shape.CYLINDER], 1] = 0.0  # the side of a cylinder: radial
    n[curved] /= np.linalg.norm(n[curved], axis=1, keepdims=True)
    return n, axis


class Renderer:
    """Renders a :class:`World` through a pinhole camera ``K`` at (height, width)."""

    def __init__(self, world: World, K: np.ndarray, height: int, width: int) -> None:
        self.world, self.K, self.height, self.width = world, np.asarray(K, dtype=np.float64), height, width
        fx, fy, cx, cy = self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2]
        u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
        self._rays = np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u)], axis=-1)
        prims = world.primitives
        local = _UNIT_CORNERS[None] * prims.half[:, None, :]
        self._corners = np.einsum("nij,nkj->nki", prims.rotation, local) + prims.center[:, None, :]

    def _windows(self, rotation: np.ndarray, position: np.ndarray) -> list[tuple[int, int, int, int, int]]:
        """(primitive, v0, v1, u0, u1) screen rectangles (inclusive) that may hold a hit."""
        prims, K = self.world.primitives, self.K
        cam = (self._corners - position) @ rotation  # [N,8,3] camera frame
        z = cam[..., 2]
        a, b = cam[:, _PAIRS[:, 0]], cam[:, _PAIRS[:, 1]]
        za, zb = a[..., 2], b[..., 2]
        crosses = (za - NEAR) * (zb - NEAR) < 0  # segments through the near plane: clip there
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(crosses, (NEAR - za) / (zb - za), 0.0)
        points = np.concatenate([cam, a + t[..., None] * (b - a)], axis=1)
        valid = np.concatenate([z >= NEAR, crosses], axis=1)
        pz = np.where(valid, np.maximum(points[..., 2], NEAR), 1.0)
        u = K[0, 0] * points[..., 0] / pz + K[0, 2]
        v = K[1, 1] * points[..., 1] / pz + K[1, 2]
        u0 = np.floor(np.where(valid, u, np.inf).min(axis=1))
        u1 = np.ceil(np.where(valid, u, -np.inf).max(axis=1))
        v0 = np.floor(np.where(valid, v, np.inf).min(axis=1))
        v1 = np.ceil(np.where(valid, v, -np.inf).max(axis=1))
        plane = prims.shape == Shape.PLANE
        keep = plane | ((u1 >= 0) & (u0 <= self.width - 1) & (v1 >= 0) & (v0 <= self.height - 1))
        u0 = np.where(plane, 0, np.clip(u0, 0, self.width - 1))
        u1 = np.where(plane, self.width - 1, np.clip(u1, 0, self.width - 1))
        v0 = np.where(plane, 0, np.clip(v0, 0, self.height - 1))
        v1 = np.where(plane, self.height - 1, np.clip(v1, 0, self.height - 1))
        return [(i, int(v0[i]), int(v1[i]), int(u0[i]), int(u1[i])) for i in np.flatnonzero(keep)]

    def render(self, pose: np.ndarray) -> RenderedFrame:
        """Ray cast one camera-to-world ``pose`` (4x4, optical frame)."""
        prims = self.world.primitives
        rotation, position = pose[:3, :3], pose[:3, 3]
        rays = self._rays @ rotation.T  # world directions, still with unit camera z
        depth = np.full((self.height, self.width), np.inf)
        index = np.full((self.height, self.width), -1, dtype=np.int64)
        for i, v0, v1, u0, u1 in self._windows(rotation, position):
            r = prims.rotation[i]
            d = rays[v0:v1 + 1, u0:u1 + 1].reshape(-1, 3) @ r
            t = _INTERSECT[Shape(prims.shape[i])](r.T @ (position - prims.center[i]), d, prims.half[i])
            t = t.reshape(v1 - v0 + 1, u1 - u0 + 1)
            depth_win, index_win = depth[v0:v1 + 1, u0:u1 + 1], index[v0:v1 + 1, u0:u1 + 1]
            closer = t < depth_win
            depth_win[closer] = t[closer]
            index_win[closer] = i
        rgb = self._shade(rays, position, depth, index)
        class_ids = np.where(index >= 0, prims.class_id[np.maximum(index, 0)], TRAIN_ID["sky"])
        return RenderedFrame(rgb=rgb, depth=depth.astype(np.float32), class_ids=class_ids.astype(np.uint8))

    def _shade(self, rays: np.ndarray, position: np.ndarray, depth: np.ndarray,
               index: np.ndarray) -> np.ndarray:
        prims = self.world.primitives
        rays, depth, index = rays.reshape(-1, 3), depth.reshape(-1), index.reshape(-1)
        unit = rays / np.linalg.norm(rays, axis=1, keepdims=True)
        pixel_angle = 1.0 / self.K[0, 0]
        rgb = np.empty((len(depth), 3))
        hit = np.flatnonzero(index >= 0)
        escaped = np.flatnonzero(index < 0)
        rgb[escaped] = sky(unit[escaped], pixel_angle)

        idx = index[hit]
        p = position + depth[hit, None] * rays[hit]
        rot = prims.rotation[idx]
        q = np.einsum("nji,nj->ni", rot, p - prims.center[idx])
        normal, axis = _face(prims.shape[idx], q, prims.half[idx])
        normal_world = np.einsum("nij,nj->ni", rot, normal)
        facing = np.abs(np.einsum("ij,ij->i", normal_world, unit[hit]))
        # Metres per pixel along the surface, with a geometric mean of the stretch at grazing angles.
        footprint = depth[hit] * pixel_angle / np.sqrt(np.maximum(facing, 0.02))
        albedo = np.empty((len(hit), 3))
        material = prims.material[idx]
        for m in np.unique(material):
            sel = np.flatnonzero(material == m)
            j = idx[sel]
            surface = Surface(p=p[sel], q=q[sel], axis=axis[sel], sign=np.sign(q[sel, axis[sel]]),
                              half=prims.half[j], color=prims.color[j], variant=prims.variant[j],
                              footprint=footprint[sel], road_half_width=self.world.road_half_width)
            albedo[sel] = TEXTURES[Material(int(m))](surface)
        light = AMBIENT + DIFFUSE * np.maximum(normal_world @ SUN, 0.0)
        rgb[hit] = albedo * light[:, None]
        image = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return image.reshape(self.height, self.width, 3)
