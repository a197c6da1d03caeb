"""From linear radiance to the 8-bit image a real camera would record.

Exposure, white balance, saturation, tone curve, vignetting, colour grading, lens softness and JPEG
quality are drawn once per sequence (a camera keeps its settings), so consecutive frames stay
photometrically consistent as self-supervised training assumes; only sensor noise (shot + read) is
drawn per frame, as in a real sensor. Motion blur smears each pixel along its exact optical flow over
the shutter time. None of it touches depth, classes, poses or intrinsics: the labels stay exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from semdepth_synth.lighting import Lighting

_LUMA = np.array([0.2126, 0.7152, 0.0722])
SENSOR_WIDTH = 1242  # pixels across of the sensor the noise figures describe (KITTI's colour cameras)
_BLUR_SAMPLES = 5


@dataclass(frozen=True)
class SensorModel:
    exposure: float  # radiance multiplier (metered from the light, then over- or under-exposed)
    white_balance: np.ndarray  # [3] channel gains
    saturation: float
    gamma: float
    contrast: float  # 0 plain gamma .. 1 strong S-curve
    black_level: float
    vignetting: float  # brightness loss in the corners
    softness: float  # Gaussian sigma in pixels at 640 px width (lens, demosaicing)
    shutter: float  # seconds
    shot_noise: float  # variance per unit signal, at the full sensor width (SENSOR_WIDTH)
    read_noise: float  # standard deviation, at the full sensor width
    jpeg_quality: int  # 0: not compressed
    grade_shadows: np.ndarray  # [3] tint added to dark tones
    grade_highlights: np.ndarray  # [3] tint added to bright tones
    bloom: float


def plain_sensor(light: Lighting) -> SensorModel:
    """An ideal camera: metered exposure, sRGB-like gamma, nothing else (``sensor_effects=False``)."""
    return SensorModel(exposure=_metered(light), white_balance=np.ones(3), saturation=1.0, gamma=2.2,
                       contrast=0.0, black_level=0.0, vignetting=0.0, softness=0.0, shutter=0.0,
                       shot_noise=0.0, read_noise=0.0, jpeg_quality=0, grade_shadows=np.zeros(3),
                       grade_highlights=np.zeros(3), bloom=0.0)


def _metered(light: Lighting) -> float:
    """Exposure that brings a mid-grey (albedo 0.3) surface, half in sun, to 0.3 linear."""
    return float(0.3 / (0.3 * (light.ambient.mean() + 0.5 * light.sun_colour.mean())))


def random_sensor(rng: np.random.Generator, light: Lighting) -> SensorModel:
    balance = np.exp(rng.normal(0.0, 0.04, 3))
    return SensorModel(
        exposure=_metered(light) * float(np.exp(rng.normal(0.0, 0.3))), white_balance=balance / balance[1],
        saturation=float(rng.uniform(0.7, 1.4)), gamma=float(rng.uniform(1.9, 2.6)),
        contrast=float(rng.uniform(0.0, 0.6)), black_level=float(rng.uniform(0.0, 0.05)),
        vignetting=float(rng.uniform(0.0, 0.35)), softness=float(rng.uniform(0.0, 0.7)),
        shutter=float(np.exp(rng.uniform(np.log(0.5e-3), np.log(12e-3)))),
        shot_noise=float(rng.uniform(0.0, 0.003)), read_noise=float(rng.uniform(0.0, 0.008)),
        jpeg_quality=int(rng.integers(40, 96)) if rng.random() < 0.6 else 0,
        grade_shadows=rng.normal(0.0, 0.015, 3), grade_highlights=rng.normal(0.0, 0.015, 3),
        bloom=float(rng.uniform(0.0, 0.4)))


def _rotation_power(rotation: np.ndarray, alpha: float) -> np.ndarray:
    """rotation ** alpha (same axis, alpha times the angle), by Rodrigues' formula."""
    angle = np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1.0, 1.0))
    if angle < 1e-9:
        return np.eye(3)
    axis = np.array([rotation[2, 1] - rotation[1, 2], rotation[0, 2] - rotation[2, 0],
                     rotation[1, 0] - rotation[0, 1]]) / (2 * np.sin(angle))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = alpha * angle
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def motion_blur(radiance: np.ndarray, depth: np.ndarray, K: np.ndarray, pose: np.ndarray,
                neighbour: np.ndarray, fraction: float) -> np.ndarray:
    """Average of the image over the shutter: each pixel sampled along the flow that the camera's
    motion towards ``neighbour`` (the next frame's pose) gives it, over ``fraction`` of the frame
    interval centred on this frame. Moving actors are blurred as if static (a small error)."""
    if fraction <= 0:
        return radiance
    h, w = depth.shape
    relative = np.linalg.inv(neighbour) @ pose  # this camera -> next camera
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    z = np.where(np.isfinite(depth), depth, 1e4)
    points = np.stack([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z], axis=-1).reshape(-1, 3)
    out = np.zeros_like(radiance, dtype=np.float32)
    source = radiance.astype(np.float32)
    for alpha in np.linspace(-fraction / 2, fraction / 2, _BLUR_SAMPLES):
        moved = points @ _rotation_power(relative[:3, :3], alpha).T + alpha * relative[:3, 3]
        zz = np.maximum(moved[:, 2], 1e-3)
        mu = (K[0, 0] * moved[:, 0] / zz + K[0, 2]).reshape(h, w).astype(np.float32)
        mv = (K[1, 1] * moved[:, 1] / zz + K[1, 2]).reshape(h, w).astype(np.float32)
        out += cv2.remap(source, mu, mv, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return out / _BLUR_SAMPLES


def develop(radiance: np.ndarray, model: SensorModel, rng: np.random.Generator) -> np.ndarray:
    """Linear radiance [H,W,3] -> uint8 RGB through the camera ``model``; ``rng`` draws this frame's noise."""
    h, w = radiance.shape[:2]
    scale = w / 640.0
    x = radiance.astype(np.float32) * np.float32(model.exposure) * model.white_balance.astype(np.float32)
    if model.bloom > 0:
        glow = np.maximum(x - 1.0, 0.0)
        x = x + model.bloom * cv2.GaussianBlur(glow, (0, 0), max(4.0 * scale, 0.5))
    if model.softness > 0:
        x = cv2.GaussianBlur(x, (0, 0), max(model.softness * scale, 0.3))
    if model.vignetting > 0:
        u, v = np.meshgrid(np.linspace(-1, 1, w, dtype=np.float32), np.linspace(-1, 1, h, dtype=np.float32))
        x = x * (1 - model.vignetting * ((u * u + v * v * (h / w) ** 2) / (1 + (h / w) ** 2)))[..., None]
    if model.shot_noise > 0 or model.read_noise > 0:
        # An image smaller than the sensor averages its pixels: noise falls with the linear size.
        shrink = min(w / SENSOR_WIDTH, 1.0)
        sigma = shrink * np.sqrt(model.shot_noise * np.clip(x, 0.0, None) + model.read_noise ** 2)
        x = x + sigma * rng.standard_normal(x.shape, dtype=np.float32)
    luma = x @ _LUMA.astype(np.float32)
    x = luma[..., None] + model.saturation * (x - luma[..., None])
    y = np.clip(x, 0.0, 1.0) ** np.float32(1.0 / model.gamma)
    y = y + model.contrast * (y * y * (3 - 2 * y) - y)  # blend towards a smoothstep S-curve
    y = y + (model.grade_shadows * (1 - y) ** 2 + model.grade_highlights * y ** 2).astype(np.float32)
    y = model.black_level + (1 - model.black_level) * y
    image = np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if model.jpeg_quality:
        ok, data = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, model.jpeg_quality])
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(image)
