"""Results documents read back, compared against a baseline, and gated."""
