#!/usr/bin/env python3
"""Validation curves of `semdepth train` runs side by side, from their TensorBoard logs, as one PNG.

Why: "does the regime learn, and does the pre-training help" is a picture of validation Abs Rel (and the
photometric error) against the step for several runs, with the floor a model has to beat drawn in. Runs
of other code (e.g. the Monodepth2 reference, run side by side from a scratch checkout) come as JSON:
{"evals": [{"step": 0, "abs_rel": 0.35, "photometric": 0.04}, ...]}.

    python scripts/plot_runs.py --run "from pre-training=runs/finetune" --run "from scratch=runs/scratch" \
        --json "monodepth2=ref.json" --start "from pre-training=0.323" --hline "constant depth=0.347" --out curves.png \
        --title "KITTI drive 0052 (76 frames, Velodyne, Garg crop, median scaling)"
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = (("val/abs_rel", "validation Abs Rel (median-scaled)"), ("val/photometric", "validation photometric error"))


def labelled(text: str) -> tuple[str, str]:
    """'label=value' -> (label, value); the label may not be empty."""
    label, sep, value = text.rpartition("=")
    if not sep or not label:
        raise argparse.ArgumentTypeError(f"expected LABEL=VALUE, got {text!r}")
    return label, value


def scalars(run_dir: Path, tag: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one scalar of a run; empty when the run never logged it."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    if tag not in events.Tags()["scalars"]:
        return [], []
    points = events.Scalars(tag)
    return [p.step for p in points], [p.value for p in points]


def json_scalars(path: Path, tag: str) -> tuple[list[int], list[float]]:
    """(steps, values) of ``tag`` (val/abs_rel -> abs_rel) from a JSON file's "evals" list."""
    import json

    key = tag.split("/", 1)[1]
    evals = [e for e in json.loads(path.read_text())["evals"] if key in e]
    return [int(e["step"]) for e in evals], [float(e[key]) for e in evals]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=labelled, action="append", default=[], help="LABEL=RUN_DIR (repeat)")
    parser.add_argument("--json", type=labelled, action="append", default=[],
                        help='LABEL=FILE: {"evals": [{"step", "abs_rel", "photometric"}, ...]} (repeat)')
    parser.add_argument("--start", type=labelled, action="append", default=[],
                        help="LABEL=ABS_REL: the run's Abs Rel before its first step (its initial weights), at step 0")
    parser.add_argument("--hline", type=labelled, action="append", default=[], help="LABEL=ABS_REL: a baseline")
    parser.add_argument("--title", default="")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    starts = {label: float(value) for label, value in args.start}
    figure, axes = plt.subplots(1, len(PANELS), figsize=(6 * len(PANELS), 4))
    sources = [(label, Path(path), scalars) for label, path in args.run]
    sources += [(label, Path(path), json_scalars) for label, path in args.json]
    if not sources:
        parser.error("give at least one --run or --json")
    for (label, path, read), colour in zip(sources, plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        if read is scalars and not (path / "tensorboard").is_dir():
            print(f"error: {path} has no tensorboard/ folder (not a semdepth train run)", file=sys.stderr)
            return 1
        for axis, (tag, _) in zip(axes, PANELS):
            steps, values = read(path, tag)
            if tag == "val/abs_rel" and label in starts:
                steps, values = [0, *steps], [starts[label], *values]
            axis.plot(steps, values, "o-", color=colour, label=label, markersize=3)
            if values:
                print(f"{label}: {tag} " + " ".join(f"{s}:{v:.4f}" for s, v in zip(steps, values)))
    for label, value in args.hline:
        axes[0].axhline(float(value), linestyle="--", color="grey")
        axes[0].text(0, float(value), f" {label} {float(value):.3f}", va="bottom", color="grey")
    for axis, (_, name) in zip(axes, PANELS):
        axis.set_xlabel("step")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(args.title)
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
