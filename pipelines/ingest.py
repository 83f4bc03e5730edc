"""Stage 1, ingest: tensorflow-datasets -> a prepared TFDS data_dir artifact.

Any TFDS catalog data set with a 'text' feature works by name (TFDS downloads it when the
machine is online; offline, `data.manual_dir` must hold the files), and so do our own
builders in `pipelines.datasets`.
"""

import os
import socket

import tensorflow_datasets as tfds

from pipelines import common
import pipelines.datasets  # noqa: F401  (registers our builders)

tfds.disable_progress_bar()



def is_catalog(builder):
    """True for TFDS catalog builders (they download); ours and users' are local."""
    return type(builder).__module__.startswith("tensorflow_datasets.")


def _online(host="storage.googleapis.com", port=443, timeout=3.0):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def data_dir(config, workdir):
    return config.data.data_dir or os.path.join(common.stage_dir(workdir, "ingest"), "tfds")


def get_builder(config, workdir):
    name = config.data.dataset
    try:
        return tfds.builder(name, data_dir=data_dir(config, workdir))
    except tfds.core.registered.DatasetNotFoundError:
        raise common.UserError(
            f"unknown data set {name!r}: not in the TFDS catalog nor in pipelines/datasets. "
            "Check --config.data.dataset (e.g. pydoc_text, tiny_shakespeare).") from None


def inputs(task, config, workdir):
    """The fingerprint of what the artifact is made from."""
    return common.fingerprint({"data": config.data.to_dict()})


def run(task, config, workdir, fingerprint):
    """Prepares the data set; returns the ingest artifact directory."""
    out = common.stage_dir(workdir, "ingest")
    started = common.now_iso()
    builder = get_builder(config, workdir)
    prepared = os.path.exists(os.path.join(builder.data_dir, "dataset_info.json"))
    manual = config.data.manual_dir
    if manual and not os.path.isdir(manual):
        raise common.UserError(f"data.manual_dir={manual!r} is not a directory. Point it at "
                               f"the folder holding the files of {config.data.dataset}.")
    if not prepared and is_catalog(builder) and not manual and not _online():
        raise common.UserError(
            f"data set {config.data.dataset!r} must be downloaded and this machine is "
            "offline. Pass --config.data.manual_dir=DIR with its files, or run online once.")
    try:
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=manual or None))
    except AssertionError as e:   # TFDS asserts when a split yields nothing
        if "No examples were yielded" not in str(e):
            raise
        split = str(e).split('"')[1] if '"' in str(e) else "?"
        raise common.UserError(
            f"split {split!r} of {config.data.dataset!r} is empty. Use a data set with "
            "examples in train, validation and test.") from None
    except Exception as e:  # noqa: BLE001  TFDS's checksum error is not in its public API
        if type(e).__name__ != "NonMatchingChecksumError":
            raise
        raise common.UserError(
            f"a file of {config.data.dataset!r} in {manual or 'the download'} is not the "
            f"one TFDS knows ({' '.join(str(e).split('*')[0].split())[:160]}): it is "
            "damaged or another version; copy the original file again.") from None
    splits = {name: info.num_examples for name, info in builder.info.splits.items()}
    for split in ("train", "validation", "test"):
        if not splits.get(split):
            raise common.UserError(
                f"split {split!r} of {config.data.dataset!r} is empty or missing (splits: "
                f"{splits}). Use a data set with train, validation and test splits.")
    metrics = {"examples": splits}
    if "corpus" in (builder.info.metadata or {}):  # a corpus builder's record of its text
        metrics["corpus"] = dict(builder.info.metadata["corpus"])
    common.write_manifest(workdir, "ingest", config.data.to_dict(), fingerprint,
                          metrics=metrics, started=started,
                          data_dir=builder.data_dir)
    return out


def load_texts(config, workdir, split):
    """All documents of a split as Python strings (capped by data.max_chars_per_split)."""
    builder = get_builder(config, workdir)
    texts, total, cap = [], 0, config.data.max_chars_per_split
    for example in tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)):
        text = example["text"].decode("utf-8")
        if cap and total + len(text) > cap:
            text = text[:cap - total]
        if text:
            texts.append(text)
            total += len(text)
        if cap and total >= cap:
            break
    if not texts:
        raise common.UserError(f"split {split!r} of {config.data.dataset!r} has no text. "
                               "Check the data set or data.max_chars_per_split.")
    return texts


def load_examples(config, workdir, split):
    """The examples of a split as dicts of NumPy values (bytes decoded to str), in the
    builder's order; `data.max_examples_per_split` > 0 keeps only the first ones."""
    builder = get_builder(config, workdir)
    cap = config.data.get("max_examples_per_split", 0)
    ds = builder.as_dataset(split=split, shuffle_files=False)
    if cap:
        ds = ds.take(cap)
    out = []
    for example in tfds.as_numpy(ds):
        out.append({k: _decoded(v) for k, v in example.items()})
    if not out:
        raise common.UserError(f"split {split!r} of {config.data.dataset!r} is empty. Use "
                               "a data set with examples in train, validation and test.")
    return out


def _decoded(value):
    """bytes -> str, also inside arrays of Text sequences."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if getattr(value, "dtype", None) == object:
        return [v.decode("utf-8") if isinstance(v, bytes) else v for v in value]
    return value
