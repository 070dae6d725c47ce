"""Benchmarks of what xmr reads besides pixels: metadata extraction, place lookups, filters, query reading."""
