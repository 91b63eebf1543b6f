"""Development tools of rentan, never shipped in the image nor imported by the pipeline: the
sample generator (``sample``: a realistic landing zone for any set of regencies, with its ground
truth), the benchmarks (``bench``: the nights beside their floor; ``bench_identity``: the linkage
beside Splink; ``bench_storage``, ``bench_cli``) and the matching model's trainer (``train``)."""
