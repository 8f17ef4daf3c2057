"""Hooks that write what a run shows: the official CAM panel dump (:mod:`.cam`), every
test-time translation (:mod:`.translation_saver`) and the test metrics (:mod:`.metrics_dump`).
The hooks that guard a run and save checkpoints live in ``guards/`` and ``checkpointing/``."""
