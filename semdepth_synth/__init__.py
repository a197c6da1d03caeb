"""Synthetic street world: procedural KITTI-like drives with exact depth, classes and poses.

Tests and demos use it to show that training learns real geometry without any downloaded data.
"""
from semdepth_synth.sequence import SynthConfig, SynthFrame, SynthSequence, generate_sequence
from semdepth_synth.writer import montage, save_montage, write_dataset, write_sequence

__all__ = ["SynthConfig", "SynthFrame", "SynthSequence", "generate_sequence", "montage", "save_montage",
           "write_dataset", "write_sequence"]
