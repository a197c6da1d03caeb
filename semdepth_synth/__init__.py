"""Synthetic street world: procedural drives with exact depth, classes, poses and timestamps.

Tests and demos use its basic street to show that training learns real geometry without any
downloaded data; its domain-randomised streets (``SynthConfig(realism="fast" | "full")``) stand in
for ImageNet as pre-training data that transfers to real driving video (docs/synthetic.md).
"""
from semdepth_synth.sequence import REALISM, SynthConfig, SynthFrame, SynthSequence, generate_sequence
from semdepth_synth.writer import montage, save_montage, write_dataset, write_sequence

__all__ = ["REALISM", "SynthConfig", "SynthFrame", "SynthSequence", "generate_sequence", "montage",
           "save_montage", "write_dataset", "write_sequence"]
