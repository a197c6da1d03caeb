"""Ray casting of the street world: exact z-depth, class ids and linear radiance per pose.

Rays are built in the camera frame with unit z, so the ray parameter of a hit *is* the depth
(z in the camera frame, not range). Each primitive is intersected only inside its projected screen
rectangle (a conservative bound, exact about which pixel centres it can cover), which keeps a frame
with hundreds of objects fast in plain numpy. Hard shadows are rays towards the sun from every lit
hit point, tested only against primitives whose bounding sphere the ray can pass (points sorted
across the sun direction), which keeps them to a fraction of the primary cost.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from semdepth_ros.classes import TRAIN_ID
from semdepth_synth.lighting import Lighting, basic_lighting, sky_radiance
from semdepth_synth.patterns import Surface, value_noise
from semdepth_synth.textures import TEXTURES, sky
from semdepth_synth.world import Material, Shape, World

NEAR = 0.05  # metres; nothing is closer to the camera
_PAIRS = np.array(list(combinations(range(8), 2)))
_UNIT_CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
# Flat ground covers cast no shadow worth a ray (the kerb's 15 cm aside).
_NO_SHADOW = (Material.ROAD, Material.ASPHALT, Material.SIDEWALK, Material.PAVING, Material.GRASS)
_LEAFY = (Material.FOLIAGE, Material.LEAVES, Material.HEDGE)  # dappled shadows: light through the gaps
_UP = np.array([0.0, -1.0, 0.0])


@dataclass
class RenderedFrame:
    radiance: np.ndarray  # [H,W,3] float64 linear (basic world: display values in [0, 1])
    depth: np.ndarray  # [H,W] float32 metres (camera z), inf where the ray escapes to the sky
    class_ids: np.ndarray  # [H,W] uint8 Cityscapes train ids


def _dot(d: np.ndarray, o: np.ndarray) -> np.ndarray:
    """Row-wise dot of directions d [n,3] with an origin o [3] (camera rays) or origins [n,3]."""
    return d @ o if o.ndim == 1 else np.einsum("ij,ij->i", np.broadcast_to(d, o.shape), o)


def _intersect_box(o: np.ndarray, d: np.ndarray, half: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        t1, t2 = (-half - o) * inv, (half - o) * inv
    lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
    t_in = np.maximum(np.maximum(lo[:, 0], lo[:, 1]), lo[:, 2])  # column-wise: faster than .max(axis=1)
    t_out = np.minimum(np.minimum(hi[:, 0], hi[:, 1]), hi[:, 2])
    return np.where((t_in <= t_out) & (t_in > NEAR), t_in, np.inf)


def _intersect_cylinder(o: np.ndarray, d: np.ndarray, half: np.ndarray) -> np.ndarray:
    r, h = half[0], half[1]
    ox, oy, oz = o[..., 0], o[..., 1], o[..., 2]
    a = d[:, 0] ** 2 + d[:, 2] ** 2
    b = 2 * (ox * d[:, 0] + oz * d[:, 2])
    c = ox ** 2 + oz ** 2 - r * r
    disc = b * b - 4 * a * c
    with np.errstate(divide="ignore", invalid="ignore"):
        t_side = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2 * a)
        on_side = (disc >= 0) & (t_side > NEAR) & (np.abs(oy + t_side * d[:, 1]) <= h)
        t_side = np.where(on_side, t_side, np.inf)
        t_cap = (-np.sign(d[:, 1]) * h - oy) / d[:, 1]  # the cap the ray meets first
        cx, cz = ox + t_cap * d[:, 0], oz + t_cap * d[:, 2]
        t_cap = np.where((t_cap > NEAR) & (cx * cx + cz * cz <= r * r), t_cap, np.inf)
    return np.minimum(t_side, t_cap)


def _intersect_sphere(o: np.ndarray, d: np.ndarray, half: np.ndarray) -> np.ndarray:
    a = np.einsum("ij,ij->i", d, d)
    b = 2 * _dot(d, o)
    disc = b * b - 4 * a * ((o @ o if o.ndim == 1 else np.einsum("ij,ij->i", o, o)) - half[0] ** 2)
    t = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2 * a)
    return np.where((disc >= 0) & (t > NEAR), t, np.inf)


def _intersect_plane(o: np.ndarray, d: np.ndarray, half: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -o[..., 1] / d[:, 1]
    return np.where(t > NEAR, t, np.inf)


_INTERSECT = {Shape.BOX: _intersect_box, Shape.CYLINDER: _intersect_cylinder, Shape.SPHERE: _intersect_sphere,
              Shape.PLANE: _intersect_plane}
LEAF_GAP = 0.35  # metres: size of the gaps in tree crowns


def leaf_gaps(q: np.ndarray, footprint: np.ndarray | float) -> np.ndarray:
    """True where a crown (a LEAVES sphere) has a gap at local point q. Gaps shrink to nothing as they
    fall under a pixel, so a far crown is solid instead of flickering."""
    s = LEAF_GAP
    n = 0.5 * (value_noise(q[:, 0] / s, q[:, 1] / s, 90) + value_noise(q[:, 2] / s + 17.0, q[:, 1] / s, 91))
    return n > 0.6 + 0.5 * np.clip(2.0 * np.asarray(footprint) / s - 0.5, 0.0, 1.0)


def _intersect_crown(o: np.ndarray, d: np.ndarray, half: np.ndarray, pixel_angle: float) -> np.ndarray:
    """A sphere of leaves: the ray passes through gaps of the near shell to the far shell, and through
    both to whatever lies behind (``pixel_angle`` * t is the footprint; 0 for shadow rays)."""
    a = np.einsum("ij,ij->i", d, d)
    b = 2 * _dot(d, o)
    disc = b * b - 4 * a * ((o @ o if o.ndim == 1 else np.einsum("ij,ij->i", o, o)) - half[0] ** 2)
    root = np.sqrt(np.maximum(disc, 0.0))
    out = np.full(max(len(d), len(o) if o.ndim == 2 else 1), np.inf)
    for t in ((-b + root) / (2 * a), (-b - root) / (2 * a)):  # far shell first, near shell overrides
        ok = (disc >= 0) & (t > NEAR)
        q = o + t[:, None] * d
        ok &= ~leaf_gaps(q, t * pixel_angle)
        out = np.where(ok, t, out)
    return out


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
    """Renders a :class:`World` through a pinhole camera ``K`` at (height, width) under ``lighting``
    (default: the basic world's flat shading)."""

    def __init__(self, world: World, K: np.ndarray, height: int, width: int,
                 lighting: Lighting | None = None) -> None:
        self.world, self.K, self.height, self.width = world, np.asarray(K, dtype=np.float64), height, width
        self.lighting = lighting if lighting is not None else basic_lighting()
        fx, fy, cx, cy = self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2]
        u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
        self._rays = np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u)], axis=-1)
        prims = world.primitives
        self._local_corners = _UNIT_CORNERS[None] * prims.half[:, None, :]
        shape = prims.shape
        # Bounding-sphere radius per primitive, for the shadow-ray culling.
        half = prims.half
        self._radius = np.select([shape == Shape.BOX, shape == Shape.CYLINDER],
                                 [np.linalg.norm(half, axis=1), np.hypot(half[:, 0], half[:, 1])], half[:, 0])
        self._casts = (shape != Shape.PLANE) & ~np.isin(prims.material, _NO_SHADOW)

    def _posed(self, motion: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(centres, rotations) of all primitives at this frame; ``motion`` [A,4,4] moves the actors."""
        prims = self.world.primitives
        if motion is None or not len(motion):
            return prims.center, prims.rotation
        moving = np.flatnonzero(prims.actor >= 0)
        m = motion[prims.actor[moving]]
        center, rotation = prims.center.copy(), prims.rotation.copy()
        center[moving] = np.einsum("mij,mj->mi", m[:, :3, :3], center[moving]) + m[:, :3, 3]
        rotation[moving] = m[:, :3, :3] @ rotation[moving]
        return center, rotation

    def _windows(self, rotation: np.ndarray, position: np.ndarray, corners: np.ndarray
                 ) -> list[tuple[int, int, int, int, int]]:
        """(primitive, v0, v1, u0, u1) screen rectangles (inclusive) that may hold a hit."""
        prims, K = self.world.primitives, self.K
        cam = (corners - position) @ rotation  # [N,8,3] camera frame
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

    def render(self, pose: np.ndarray, motion: np.ndarray | None = None) -> RenderedFrame:
        """Ray cast one camera-to-world ``pose`` (4x4, optical frame); ``motion`` [A,4,4] places the
        world's actors for this frame (None: where they were built)."""
        prims = self.world.primitives
        center, prim_rot = self._posed(motion)
        corners = np.einsum("nij,nkj->nki", prim_rot, self._local_corners) + center[:, None, :]
        rotation, position = pose[:3, :3], pose[:3, 3]
        rays = self._rays @ rotation.T  # world directions, still with unit camera z
        depth = np.full((self.height, self.width), np.inf)
        index = np.full((self.height, self.width), -1, dtype=np.int64)
        pixel_angle = 1.0 / self.K[0, 0]
        for i, v0, v1, u0, u1 in self._windows(rotation, position, corners):
            r = prim_rot[i]
            d = rays[v0:v1 + 1, u0:u1 + 1].reshape(-1, 3) @ r
            o = r.T @ (position - center[i])
            if prims.material[i] == Material.LEAVES:
                t = _intersect_crown(o, d, prims.half[i], pixel_angle)
            else:
                t = _INTERSECT[Shape(prims.shape[i])](o, d, prims.half[i])
            t = t.reshape(v1 - v0 + 1, u1 - u0 + 1)
            depth_win, index_win = depth[v0:v1 + 1, u0:u1 + 1], index[v0:v1 + 1, u0:u1 + 1]
            closer = t < depth_win
            depth_win[closer] = t[closer]
            index_win[closer] = i
        radiance = self._shade(rays, position, depth, index, center, prim_rot)
        class_ids = np.where(index >= 0, prims.class_id[np.maximum(index, 0)], TRAIN_ID["sky"])
        return RenderedFrame(radiance=radiance, depth=depth.astype(np.float32),
                             class_ids=class_ids.astype(np.uint8))

    def _shade(self, rays: np.ndarray, position: np.ndarray, depth: np.ndarray, index: np.ndarray,
               center: np.ndarray, prim_rot: np.ndarray) -> np.ndarray:
        prims, light = self.world.primitives, self.lighting
        rays, depth, index = rays.reshape(-1, 3), depth.reshape(-1), index.reshape(-1)
        unit = rays / np.linalg.norm(rays, axis=1, keepdims=True)
        pixel_angle = 1.0 / self.K[0, 0]
        rgb = np.empty((len(depth), 3))
        hit = np.flatnonzero(index >= 0)
        escaped = np.flatnonzero(index < 0)
        if light.basic:
            rgb[escaped] = sky(unit[escaped], pixel_angle)
        else:
            rgb[escaped] = sky_radiance(unit[escaped], light, pixel_angle)

        idx = index[hit]
        p = position + depth[hit, None] * rays[hit]
        rot = prim_rot[idx]
        q = np.einsum("nji,nj->ni", rot, p - center[idx])
        normal, axis = _face(prims.shape[idx], q, prims.half[idx])
        normal_world = np.einsum("nij,nj->ni", rot, normal)
        facing = np.abs(np.einsum("ij,ij->i", normal_world, unit[hit]))
        # Metres per pixel along the surface, with a geometric mean of the stretch at grazing angles.
        footprint = depth[hit] * pixel_angle / np.sqrt(np.maximum(facing, 0.02))
        albedo = np.empty((len(hit), 3))
        gloss = np.zeros(len(hit))
        material = prims.material[idx]
        for m in np.unique(material):
            sel = np.flatnonzero(material == m)
            j = idx[sel]
            surface = Surface(p=p[sel], q=q[sel], axis=axis[sel], sign=np.sign(q[sel, axis[sel]]),
                              half=prims.half[j], color=prims.color[j], variant=prims.variant[j],
                              footprint=footprint[sel], road_half_width=self.world.road_half_width,
                              street=self.world.street, road=self.world.road)
            albedo[sel] = TEXTURES[Material(int(m))](surface)
            if surface.gloss is not None:
                gloss[sel] = surface.gloss
        if light.basic:
            shade = light.ambient[0] + light.sun_colour[0] * np.maximum(normal_world @ light.sun, 0.0)
            rgb[hit] = albedo * shade[:, None]
            return rgb.reshape(self.height, self.width, 3)
        rgb[hit] = self._lit(p, normal_world, unit[hit], albedo, gloss, center, prim_rot)
        if np.isfinite(light.haze):  # aerial perspective: far surfaces fade into the horizon colour
            distance = depth[hit] * np.linalg.norm(rays[hit], axis=1)
            keep = np.exp(-distance / light.haze)[:, None]
            rgb[hit] = rgb[hit] * keep + light.horizon * (1 - keep)
        return rgb.reshape(self.height, self.width, 3)

    def _lit(self, p: np.ndarray, normal: np.ndarray, view: np.ndarray, albedo: np.ndarray, gloss: np.ndarray,
             center: np.ndarray, prim_rot: np.ndarray) -> np.ndarray:
        """Sun (with hard shadows) + sky light (occluded under cars and trees) + glossy reflection."""
        light = self.lighting
        ndl = np.maximum(normal @ light.sun, 0.0)
        sun_vis = np.ones(len(p))
        sky_vis = np.ones(len(p))
        if light.shadows:
            lit = np.flatnonzero(ndl > 0)
            sun_vis[lit] = self._visibility(p[lit] + 2e-3 * normal[lit], light.sun, center, prim_rot)
            upward = np.flatnonzero(normal[:, 1] < -0.5)
            above = self._visibility(p[upward] + 2e-3 * normal[upward], _UP, center, prim_rot)
            sky_vis[upward] = 0.45 + 0.55 * above
        up = -normal[:, 1]
        ambient = light.ambient * (0.8 + 0.2 * up)[:, None] * sky_vis[:, None]
        colour = albedo * (ambient + light.sun_colour * (ndl * sun_vis)[:, None])
        inside = np.einsum("ij,ij->i", normal, view) > 0  # the far shell of a crown, seen through a gap
        colour[inside] *= 0.35
        shiny = np.flatnonzero(gloss > 0)
        if len(shiny):
            n, d = normal[shiny], view[shiny]
            cos = np.abs(np.einsum("ij,ij->i", n, d))
            reflect = d - 2 * np.einsum("ij,ij->i", d, n)[:, None] * n
            ground = 0.1 * (light.ambient + light.sun_colour * 0.5)
            env = np.where((reflect[:, 1] < 0)[:, None], sky_radiance(reflect, light, 0.05), ground)
            fresnel = gloss[shiny] * (0.35 + 0.65 * (1 - cos) ** 4)
            highlight = np.maximum(reflect @ light.sun, 0.0) ** 300 * sun_vis[shiny] * 8.0
            colour[shiny] = (colour[shiny] * (1 - fresnel[:, None]) + fresnel[:, None] * env
                             + (gloss[shiny] * highlight)[:, None] * light.sun_colour)
        return colour

    def _visibility(self, points: np.ndarray, direction: np.ndarray, center: np.ndarray,
                    prim_rot: np.ndarray) -> np.ndarray:
        """Fraction of light reaching ``points`` along ``direction`` (1 free, 0 blocked; leaves let
        light through their gaps)."""
        vis = np.ones(len(points))
        if not len(points):
            return vis
        prims = self.world.primitives
        e1 = np.cross(direction, [0.0, 0.0, 1.0] if abs(direction[2]) < 0.9 else [1.0, 0.0, 0.0])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(direction, e1)
        a, b, c = points @ e1, points @ e2, points @ direction
        order = np.argsort(a)
        a_sorted = a[order]
        occluders = np.flatnonzero(self._casts)
        radius = self._radius[occluders]
        ca, cb, cc = center[occluders] @ e1, center[occluders] @ e2, center[occluders] @ direction
        lo = np.searchsorted(a_sorted, ca - radius)
        hi = np.searchsorted(a_sorted, ca + radius, side="right")
        for k in np.flatnonzero(hi > lo):
            i = occluders[k]
            cand = order[lo[k]:hi[k]]
            cand = cand[(np.abs(b[cand] - cb[k]) <= radius[k]) & (c[cand] <= cc[k] + radius[k])]
            if not len(cand):
                continue
            r = prim_rot[i]
            o = (points[cand] - center[i]) @ r
            d = (direction @ r)[None, :]
            if prims.material[i] == Material.LEAVES:
                t = _intersect_crown(o, d, prims.half[i], 0.0)
            else:
                t = _INTERSECT[Shape(prims.shape[i])](o, d, prims.half[i])
            blocked = np.isfinite(t)
            if not blocked.any():
                continue
            cand, t, o = cand[blocked], t[blocked], o[blocked]
            if prims.material[i] in _LEAFY and prims.material[i] != Material.LEAVES:  # basic crowns, hedges
                h = o + t[:, None] * d
                gaps = value_noise(h[:, 0] / 0.22 + 7.3 * h[:, 1], h[:, 2] / 0.22 - 3.1 * h[:, 1], 80)
                vis[cand] *= np.clip((gaps - 0.62) * 3.0, 0.0, 0.9)
            else:
                vis[cand] = 0.0
        return vis
