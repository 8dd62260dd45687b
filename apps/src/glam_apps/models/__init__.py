"""Policies glam builds: the offline default model; loading models, saved policies, runs."""
