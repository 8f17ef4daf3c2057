"""Building and starting a run: :mod:`.runner` (``NICEGANRunner``, which works out a config's
derived keys), :mod:`.runner_setup` (config loading, AMP, the distributed backend and the
runner as tools/train.py and tools/test.py build them) and :mod:`.launcher_watch` (workers end
when their launcher dies)."""
