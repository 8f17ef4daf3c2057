"""Checkpoints: saving them (:mod:`.hook`, ``NICEGANCheckpointHook``, which delegates every
job besides saving to one small helper) and reading them (:mod:`.reading`: weights-only,
strictly checked, one-line errors)."""
