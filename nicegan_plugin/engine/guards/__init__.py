"""Guards of a run: what stops it before it does harm, each with a one-line reason.

- :mod:`.nonfinite`: a NaN/Inf loss or gradient stops training; non-finite weights are never
  saved;
- :mod:`.resume`: what ``--resume`` starts from, and never writing over another run's
  checkpoints;
- :mod:`.run_lock`: one run per work dir.

They depend on no other part of the engine, so the checkpoint hook and the tools can use them.
"""
