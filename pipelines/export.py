"""Stages 5 and 6: export a SavedModel with serving signatures, and push a blessed one.

Signatures of the character language model (raw strings in, answers out):
  generate(prime: string[], length: int32[], temperature: float32[], seed: int32[])
      -> {"text": string[]}: the prime and `length` sampled characters
         (temperature 0 = argmax; the same seed gives the same text)
  score(texts: string[N])
      -> {"nats_per_char": float32[N], "predicted_chars": int32[N],
          "unknown_chars": int32[N]}
         mean nats per predicted character (every character after the first, from a zero
         state). Characters not in the training vocabulary map to [UNK] (id 0), the stated
         rule; they are scored as [UNK] and counted in unknown_chars.
  serving_default = generate.

The vocabulary lookup is part of the graph, so serving sees exactly what training saw.
The SavedModel is written to a temporary directory and renamed into place; a push copies
it to `<serving_dir>/<name>/<version>/` (the TF Serving layout) the same way.
"""

import os
import shutil
import tempfile

import tensorflow as tf

from pipelines import blessing, common, trainer
from rnn_tf.sampling import Generator


class CharLMServing(tf.Module):
    """tf.Module whose functions are the serving signatures (see the module docstring)."""

    def __init__(self, model, vocab):
        super().__init__(name="char_lm_serving")
        self.model = model
        # Track the backing tf.Variables themselves (as keras.export.ExportArchive does):
        # TF1-style loaders (saved_model_cli run, TF Serving) then find the variables the
        # functions read (keras-team/keras#19274).
        self.model_variables = [getattr(v, "value", v) for v in model.variables]
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(vocab[1:]),
                                                tf.range(1, len(vocab), dtype=tf.int32)),
            default_value=0)
        self.chars = tf.constant(["\ufffd"] + vocab[1:])
        gen = Generator(model)

        @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="prime"),
                                      tf.TensorSpec([], tf.int32, name="length"),
                                      tf.TensorSpec([], tf.float32, name="temperature"),
                                      tf.TensorSpec([], tf.int32, name="seed")])
        def generate(prime, length, temperature, seed):
            ids = self.table.lookup(tf.strings.unicode_split(prime, "UTF-8"))
            ids = tf.cond(tf.size(ids) > 0, lambda: ids, lambda: tf.constant([0]))
            top, states = gen._run_prime(ids[None])
            samples, steps = gen._loop(top, states, length,
                                       tf.maximum(temperature, 0.0), 0, seed, -1)
            text = tf.strings.reduce_join(tf.gather(self.chars, samples[:steps, 0]))
            return {"text": prime + text}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
        def score(texts):
            ragged = self.table.lookup(tf.strings.unicode_split(texts, "UTF-8"))
            ids = ragged.to_tensor(0)                                         # (N, L)
            valid = tf.sequence_mask(ragged.row_lengths(), tf.shape(ids)[1])
            logits, _ = self.model(ids[:, :-1], mask=valid[:, :-1], training=False)
            nll = tf.nn.sparse_softmax_cross_entropy_with_logits(ids[:, 1:], logits)
            m = tf.cast(valid[:, 1:], tf.float32)
            count = tf.reduce_sum(m, 1)
            unknown = tf.reduce_sum(tf.cast(tf.logical_and(valid, tf.equal(ids, 0)),
                                            tf.int32), 1)
            return {"nats_per_char": tf.reduce_sum(nll * m, 1) / tf.maximum(count, 1.0),
                    "predicted_chars": tf.cast(count, tf.int32), "unknown_chars": unknown}

        self.generate = generate
        self.score = score


def export_dir(workdir):
    return os.path.join(common.stage_dir(workdir, "export"), "saved_model")


def run(config, workdir):
    """Writes `<workdir>/export/saved_model`; returns the export artifact directory."""
    train_manifest = common.read_manifest(workdir, "train")
    inputs = common.fingerprint({"train": train_manifest})
    out = common.stage_dir(workdir, "export")
    if common.up_to_date(workdir, "export", inputs) and os.path.isdir(export_dir(workdir)):
        return out
    started = common.now_iso()
    model, vocab = trainer.load_best(config, workdir)
    module = CharLMServing(model, vocab)
    os.makedirs(out, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=out, prefix=".tmp-saved_model-")
    tf.saved_model.save(module, tmp, signatures={
        "serving_default": module.generate, "generate": module.generate,
        "score": module.score})
    common.replace_dir_atomic(tmp, export_dir(workdir))
    common.write_manifest(workdir, "export", config.export.to_dict(), inputs,
                          started=started, saved_model=export_dir(workdir),
                          signatures=["serving_default", "generate", "score"])
    return out


def push(config, workdir):
    """Copies a blessed SavedModel to <serving_dir>/<name>/<version>/; returns that path
    or None when the model is not blessed."""
    record = common.read_json(os.path.join(common.stage_dir(workdir, "evaluate"),
                                           "blessing.json"))
    if not record["blessed"]:
        return None
    name_dir = os.path.join(blessing.serving_dir(config, workdir), config.name)
    os.makedirs(name_dir, exist_ok=True)
    versions = [int(v) for v in os.listdir(name_dir) if v.isdigit()]
    version = str(max(versions, default=0) + 1)
    tmp = tempfile.mkdtemp(dir=name_dir, prefix=".tmp-push-")
    shutil.rmtree(tmp)
    shutil.copytree(export_dir(workdir), tmp)
    os.rename(tmp, os.path.join(name_dir, version))
    common.write_json_atomic(os.path.join(name_dir, "blessed.json"),
                             {"version": int(version), "metric": record["metric"],
                              "value": record["value"]})
    return os.path.join(name_dir, version)
