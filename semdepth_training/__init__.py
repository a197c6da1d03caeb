"""Offline training: datasets, losses, trainer, evaluation, export and the synthetic street world."""
