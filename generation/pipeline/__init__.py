"""The pipeline: options, planning, checks, row assembly, building shards and their statistics."""
