"""TFX-style training pipeline (ingest -> transform -> train -> evaluate -> export -> push).

Not built yet: the pipeline issue adds `python -m pipelines.train`. Nothing here runs.
"""
