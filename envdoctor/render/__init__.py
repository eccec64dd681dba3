"""Rendering: the only layer that imports rich. Facts and findings in, text out."""
