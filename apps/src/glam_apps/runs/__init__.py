"""Run directories: their layout, locking, status, and atomic writes."""
