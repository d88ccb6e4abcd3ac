"""Scoring a model's predictions by compiling and running them against the reference (``warp-ir-pairs eval``)."""
