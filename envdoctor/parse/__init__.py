"""Parsers: pure functions from a tool's captured text to values. No I/O; tested on real recorded outputs."""
