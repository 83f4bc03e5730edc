"""The TFX-style training pipeline: ingest -> transform -> train -> evaluate -> export ->
push. `python -m pipelines.train` is its command line (the only file with flags)."""
