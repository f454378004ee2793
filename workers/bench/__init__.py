"""Benchmarks of gridcase on the local stack: ``gridcase bench`` (see docs/performance.md)."""
