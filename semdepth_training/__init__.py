"""Offline training: datasets, losses, trainer, evaluation and export (imported by no runtime module)."""
