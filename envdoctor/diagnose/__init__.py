"""Judging: pure functions from facts and the knowledge base to findings and install advice. No I/O here."""
