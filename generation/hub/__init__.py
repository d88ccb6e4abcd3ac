"""Facing users: the ``datasets`` builder, the ``warp-ir-pairs`` CLI, publishing, the dataset card."""
