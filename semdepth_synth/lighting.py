"""Light of one world: sun, sky, haze. Randomised per world; constant over a sequence, so that
consecutive frames stay photometrically consistent (the assumption self-supervised training makes).

Radiance is linear and scene-referred (a white wall in full sun is about 1); the camera model in
:mod:`semdepth_synth.sensor` maps it to pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semdepth_synth.patterns import fbm

# The basic world's light: a fixed sun, no shadows, no haze.
BASIC_SUN = np.array([-0.45, -0.8, 0.4]) / np.linalg.norm([-0.45, -0.8, 0.4])  # towards the sun (y is down)
BASIC_AMBIENT, BASIC_DIFFUSE = 0.5, 0.6


@dataclass(frozen=True)
class Lighting:
    sun: np.ndarray  # [3] unit vector towards the sun (world, y down)
    sun_colour: np.ndarray  # [3] irradiance of direct sun on a surface facing it
    ambient: np.ndarray  # [3] sky light on an unoccluded surface
    zenith: np.ndarray  # [3] sky radiance straight up
    horizon: np.ndarray  # [3] sky radiance at the horizon
    clouds: float  # cloud cover 0..1
    cloud_colour: np.ndarray
    haze: float  # metres of visibility falloff (aerial perspective); inf for none
    shadows: bool  # cast shadows and sky occlusion (the "full" preset)
    basic: bool = False  # the basic world's flat shading (no sky model, no haze)


def basic_lighting() -> Lighting:
    grey = np.full(3, BASIC_AMBIENT)
    return Lighting(sun=BASIC_SUN, sun_colour=np.full(3, BASIC_DIFFUSE), ambient=grey, zenith=grey,
                    horizon=grey, clouds=0.0, cloud_colour=grey, haze=np.inf, shadows=False, basic=True)


def random_lighting(rng: np.random.Generator, shadows: bool) -> Lighting:
    """Clear, hazy or overcast; sun anywhere 12-65 deg high, warmer when low."""
    elevation = np.radians(rng.uniform(12.0, 65.0))
    azimuth = rng.uniform(0.0, 2 * np.pi)
    sun = np.array([np.cos(elevation) * np.sin(azimuth), -np.sin(elevation),
                    np.cos(elevation) * np.cos(azimuth)])
    overcast = rng.random() < 0.25
    warmth = np.clip((0.6 - elevation) * 0.8, 0.0, 0.35)
    sun_colour = np.array([1.0, 0.96 - 0.3 * warmth, 0.9 - 0.7 * warmth]) * rng.uniform(0.9, 1.3)
    zenith = np.array([0.16, 0.36, 0.95]) * rng.uniform(0.8, 1.3) * rng.uniform(0.9, 1.1, 3)
    horizon = np.array([0.9, 0.94, 1.0]) * rng.uniform(1.0, 1.7) * rng.uniform(0.95, 1.05, 3)
    clouds = rng.uniform(0.0, 0.7)
    if overcast:
        grey = rng.uniform(0.65, 0.95)
        sun_colour = sun_colour * rng.uniform(0.05, 0.25)
        zenith, horizon = np.full(3, grey) * (0.92, 0.95, 1.0), np.full(3, grey * 1.08) * (0.97, 0.98, 1.0)
        clouds = rng.uniform(0.7, 1.0)
    ambient = 0.5 * (zenith + horizon) * rng.uniform(0.3, 0.5)
    if overcast:
        ambient = ambient * 1.6
    return Lighting(sun=sun, sun_colour=sun_colour, ambient=ambient, zenith=zenith, horizon=horizon,
                    clouds=float(clouds), cloud_colour=np.full(3, rng.uniform(1.0, 1.6)),
                    haze=float(np.exp(rng.uniform(np.log(400.0), np.log(5000.0)))), shadows=shadows)


def sky_radiance(directions: np.ndarray, light: Lighting, pixel_angle: float) -> np.ndarray:
    """Radiance of the sky along unit world directions [n,3]: gradient, sun glow and clouds on a
    plane high above (at infinity, so they move only with camera rotation)."""
    up = np.clip(-directions[:, 1], 1e-3, 1.0)
    gradient = np.clip(up * 3.0, 0.0, 1.0)[:, None] ** 0.6
    colour = light.horizon + gradient * (light.zenith - light.horizon)
    glow = np.clip(directions @ light.sun, 0.0, 1.0)
    colour = colour + light.sun_colour * (0.25 * glow[:, None] ** 8 + 4.0 * (glow[:, None] > 0.9995))
    u, v = directions[:, 0] / up, directions[:, 2] / up
    if light.clouds > 0:
        cloud = fbm(u, v, 1.2, 6, pixel_angle / up ** 2, 70, gain=0.6)
        cover = np.clip((cloud - (0.75 - 0.5 * light.clouds)) * 4.0, 0.0, 1.0) * np.clip(up * 10.0, 0.0, 1.0)
        shade = 0.75 + 0.5 * fbm(u, v, 0.4, 3, pixel_angle / up ** 2, 71)
        colour = colour + (light.cloud_colour * shade[:, None] - colour) * cover[:, None]
    return colour
