"""Shared machinery of the toolkit's modules: their base, progress of long work."""
