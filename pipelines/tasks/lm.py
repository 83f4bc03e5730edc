"""The character language model as a task: text -> next-character distribution.

transform: the character vocabulary of the train split ([UNK] = id 0 for the rest);
  truncated-BPTT rows of the training documents, the training text with every window
  start (for train.windows='random'), and evaluation windows (`lm_data`).
train: BPTT over windows of train.seq_len characters; the state of each batch row is
  carried from one window to the next (train.carry_state, truncated BPTT) and reset where
  a row starts a new document; with train.windows='random' each step draws B windows at
  positions that are a function of (train.seed, step) only, each from a zero state.
evaluate: mean nats per predicted character over non-overlapping windows of
  `eval.window` characters, the state reset to zero at the start of each window; blessed
  when at most `eval.bless_max_nats`.
export: signatures (raw strings in, answers out):
  generate(prime: string[], length: int32[], temperature: float32[], seed: int32[])
      -> {"text": string[]}: the prime and `length` sampled characters
         (temperature 0 = argmax; the same seed gives the same text). Checked
         (`pipelines.tasks.serving`): every input's rank, 0 <= length <= 100,000, a
         finite temperature >= 0; bytes of the prime that are not UTF-8 become U+FFFD.
  score(texts: string[N])
      -> {"nats_per_char": float32[N], "predicted_chars": int32[N],
          "unknown_chars": int32[N]}
         mean nats per predicted character (every character after the first, from a zero
         state). Characters not in the training vocabulary map to [UNK] (id 0), the stated
         rule; they are scored as [UNK] and counted in unknown_chars.
  serving_default = generate.
The vocabulary lookup is part of the graph, so serving sees exactly what training saw.
Beside the SavedModel, export/ holds char_lm.keras and char_lm_vocab.json (`after_export`):
the pretrained LM for `rnn_tf.CharLMEmbedding`. With data.reverse every document is read
backwards (a backward LM), and the signatures read and write reversed text.
"""

import math
import os
import weakref

import numpy as np
import tensorflow as tf

from pipelines import common, ingest
from pipelines.tasks import base, lm_data, serving
from rnn_tf import heads
from rnn_tf.models import LanguageModel
from rnn_tf.sampling import Generator

KERAS_FILE, VOCAB_FILE = "char_lm.keras", "char_lm_vocab.json"
_EVAL_FNS = weakref.WeakKeyDictionary()   # not on the model: it would be saved with it


def evaluate_nats(model, arrays, batch_size=256):
    """Mean nats/char over a split's windows {inputs, targets <int32>[N, W], mask
    <bool>[N, W]}, the state reset to zero per window."""
    if model not in _EVAL_FNS:
        @tf.function(reduce_retracing=True)
        def fn(x, y, m):
            logits, _ = model(x, mask=m, training=False)
            nll = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
            m = tf.cast(m, tf.float32)
            return tf.reduce_sum(nll * m), tf.reduce_sum(m)
        _EVAL_FNS[model] = fn
    total, count = 0.0, 0.0
    for i in range(0, len(arrays["inputs"]), batch_size):
        s, c = _EVAL_FNS[model](arrays["inputs"][i:i + batch_size],
                                arrays["targets"][i:i + batch_size],
                                arrays["mask"][i:i + batch_size])
        total += float(s)
        count += float(c)
    return total / max(count, 1.0)


def decode(vocab, ids):
    """Ids -> text; [UNK] (0) becomes U+FFFD."""
    return "".join(vocab[i] if i > 0 else "\ufffd" for i in ids)


class LMTask(base.Task):
    primary = "nats_per_char"
    higher_is_better = False
    throughput_unit = "tokens"
    signatures = ("serving_default", "generate", "score")

    # ------------------------------------------------------------ data
    def read(self, workdir, split):
        texts = ingest.load_texts(self.config, workdir, split)
        return [t[::-1] for t in texts] if self.config.data.get("reverse") else texts

    def transform_section(self):
        c = self.config
        return {"data": c.data.to_dict(), "batch_size": c.train.batch_size,
                "seq_len": c.train.seq_len, "window": c.eval.window, "seed": c.train.seed,
                "format": 3}      # 3: the generic transform artifact (meta.json, npz)

    def encode(self, texts, fit):
        t = self.config.train
        if fit:
            vocab = lm_data.build_vocab(texts)
            self.meta = {"vocab": vocab, "stats": {"vocab_size": len(vocab),
                                                   "train_chars": sum(map(len, texts))}}
        char_to_id = {ch: i for i, ch in enumerate(self.meta["vocab"]) if i > 0}
        docs = [lm_data.encode(text, char_to_id) for text in texts]
        if fit:
            return {**lm_data.tbptt_batches(docs, t.batch_size, t.seq_len, t.seed),
                    **lm_data.window_starts(docs, t.seq_len)}
        return lm_data.eval_windows(docs, self.config.eval.window)

    def bless_threshold(self):
        return self.config.eval.bless_max_nats

    # ------------------------------------------------------------ model
    def build_model(self):
        m = self.config.model
        model = LanguageModel(len(self.meta["vocab"]), units=m.units, cell=m.cell,
                              num_layers=m.num_layers, dropout=m.dropout,
                              residual=m.residual, output_dropout=m.output_dropout,
                              embedding_dim=m.get("embedding_dim", 0), name="char_lm")
        model(tf.zeros([1, 2], tf.int32))
        return model

    def build_variables(self, model, features):
        """build_model has built them."""

    # ------------------------------------------------------------ training
    def train_dataset(self, features):
        """'consecutive': the transform's truncated-BPTT rows in order; 'random': B windows
        at uniformly drawn positions of the training text, the draw of step k a function
        of (train.seed, k) only (`window_batch`)."""
        t = self.config.train
        if t.windows not in ("consecutive", "random"):
            raise common.UserError(
                f"train.windows={t.windows!r} is not known; use 'consecutive' "
                "(truncated-BPTT rows) or 'random' (windows at random positions).")
        if t.windows == "consecutive":
            return tf.data.Dataset.from_tensor_slices(
                {k: features[k] for k in ("inputs", "targets", "mask", "reset")}).repeat()
        if t.carry_state:
            raise common.UserError(
                "train.windows='random' starts every window from a zero state; set "
                "train.carry_state=False, or use train.windows='consecutive'.")
        if len(features.get("starts", ())) == 0:
            raise common.UserError(
                f"no training document is longer than train.seq_len={t.seq_len}; lower "
                "train.seq_len or use train.windows='consecutive'.")
        return tf.data.Dataset.range(2**62).map(self.window_batch(features))

    def window_batch(self, features):
        """step <int64>[] -> the batch of B random windows of train.seq_len + 1 characters
        (inputs, targets, mask, reset) that train.windows='random' trains step `step` on."""
        t = self.config.train
        stream, starts = tf.constant(features["stream"]), tf.constant(features["starts"])
        B, L = t.batch_size, t.seq_len

        def draw(step):
            seed = tf.stack([tf.constant(t.seed, tf.int64), step])
            i = tf.random.stateless_uniform([B], seed, minval=0,
                                            maxval=tf.size(starts, tf.int64), dtype=tf.int64)
            w = tf.gather(stream,
                          tf.gather(starts, i)[:, None] + tf.range(L + 1, dtype=tf.int64))
            return {"inputs": w[:, :-1], "targets": w[:, 1:], "mask": tf.ones([B, L], tf.bool),
                    "reset": tf.ones([B], tf.bool)}
        return draw

    def carried_state(self, model):
        if not self.config.train.carry_state:      # every window starts from a<0> = 0
            return []
        return [[tf.Variable(s, trainable=False) for s in layer]
                for layer in model.zero_state(self.config.train.batch_size)]

    def train_loss(self, model, batch, state, seed):
        """One window from the carried state, reset to a<0> = 0 where a row starts a new
        document (every row without train.carry_state, as evaluated)."""
        if state:
            keep = 1.0 - tf.cast(batch["reset"], tf.float32)[:, None]      # (B, 1)
            initial = [[s * keep for s in layer] for layer in state]
        else:
            initial = None
        return self._window(model, batch, initial, training=True)

    def loss(self, model, batch, training, seed=None):
        return self._window(model, batch, None, training)[:2]

    def _window(self, model, batch, initial, training):
        """(mean nats per predicted character, its metrics, the final state) of one window
        from `initial` (None: a<0> = 0)."""
        logits, final = model(batch["inputs"], initial_state=initial, mask=batch["mask"],
                              training=training)
        nats = heads.softmax_loss(batch["targets"], logits, batch["mask"], "mean_per_token")
        return nats, {"nats_per_char": nats, "bits_per_char": nats / math.log(2)}, final

    def loss_units(self, batch):
        return tf.reduce_sum(tf.cast(batch["mask"], tf.int32))       # predicted characters

    def units_of(self, batch):
        return int(tf.size(batch["inputs"]))

    def validation_loss(self, model, features, batch_size=256):
        return evaluate_nats(model, features, batch_size)

    def quick_eval(self, model, features):
        nats = evaluate_nats(model, features)           # the training loss's quantity too
        return {"nats_per_char": nats, "bits_per_char": nats / math.log(2), "loss": nats}

    def evaluate(self, model, features):
        nats = evaluate_nats(model, features)
        return {"nats_per_char": nats, "bits_per_char": nats / math.log(2),
                "perplexity": math.exp(nats) if nats < 700 else math.inf}

    def summaries(self, model, batch):
        """The first layer's activations."""
        return {"histogram/activations/rnn_0": model(batch["inputs"], mask=batch["mask"],
                                                     training=False, return_hidden=True)[2]}

    def bptt_view(self, model, batch):
        """dL/da<t> of the first layer as BPTT carries it, on the first windows of `batch`
        (`probed_view`) from a zero state (`rnn_tf.diagnostics`): (total, lag),
        <float32>[T] each."""
        def loss_fn(model, b):
            logits = model(b["inputs"], mask=b["mask"], training=False)[0]
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(b["targets"], logits)
            return tf.where(b["mask"], ce, 0.0)
        return self.probed_view(model, model.rnn_0, loss_fn,
                                {k: batch[k] for k in ("inputs", "targets", "mask")}, "mask")

    def samples(self, model, step, features=None):
        vocab = self.meta["vocab"]
        gens = self.__dict__.setdefault("_generators", {})
        if id(model) not in gens:
            gens[id(model)] = (model, Generator(model))
        prime = "The "
        ids = np.array([[vocab.index(c) if c in vocab else 0 for c in prime]], np.int32)
        out = gens[id(model)][1].generate(ids, self.config.train.sample_length,
                                          temperature=0.8, seed=step)
        return {"sample": prime + decode(vocab, out.numpy()[0])}

    # ------------------------------------------------------------ serving
    def serving_module(self, model):
        return CharLMServing(model, self.meta["vocab"])

    def after_export(self, saved_model_dir, export_dir, model):
        """Also saves the model as `char_lm.keras` and its vocabulary (characters in id
        order, [UNK] first) as `char_lm_vocab.json`, each through a rename: the files a
        task's `model.char_lm` names for `rnn_tf.CharLMEmbedding`."""
        tmp = os.path.join(export_dir, ".tmp-char_lm.keras")
        model.save(tmp)
        os.replace(tmp, os.path.join(export_dir, KERAS_FILE))
        common.write_json_atomic(os.path.join(export_dir, VOCAB_FILE),
                                 {"vocab": self.meta["vocab"],
                                  "reverse": bool(self.config.data.get("reverse"))})

    def sample(self, saved_model):
        out = saved_model.signatures["generate"](
            prime=tf.constant(self.config.export.sample_prime), length=tf.constant(300),
            temperature=tf.constant(0.7), seed=tf.constant(0))
        return out["text"].numpy().decode("utf-8")


class CharLMServing(tf.Module):
    """tf.Module whose functions are the serving signatures (see the module docstring)."""

    def __init__(self, model, vocab):
        super().__init__(name="char_lm_serving")
        base.track_variables(self, model)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(vocab[1:]),
                                                tf.range(1, len(vocab), dtype=tf.int32)),
            default_value=0)
        self.chars = tf.constant(["\ufffd"] + vocab[1:])
        gen = Generator(model)

        @serving.signature(tf.TensorSpec([], tf.string, name="prime"),
                           tf.TensorSpec([], tf.int32, name="length"),
                           tf.TensorSpec([], tf.float32, name="temperature"),
                           tf.TensorSpec([], tf.int32, name="seed"))
        def generate(prime, length, temperature, seed):
            prime = serving.valid_utf8(prime)
            with tf.control_dependencies(serving.check_generation(length, temperature)):
                ids = self.table.lookup(tf.strings.unicode_split(prime, "UTF-8"))
            ids = tf.cond(tf.size(ids) > 0, lambda: ids, lambda: tf.constant([0]))
            samples = gen.sample(ids[None], length, temperature, seed)[0]
            return {"text": prime + tf.strings.reduce_join(tf.gather(self.chars, samples))}

        @serving.signature(tf.TensorSpec([None], tf.string, name="texts"))
        def score(texts):
            texts = serving.valid_utf8(texts)
            ragged = self.table.lookup(tf.strings.unicode_split(texts, "UTF-8"))
            ids = ragged.to_tensor(0)                                         # (N, L)
            valid = tf.sequence_mask(ragged.row_lengths(), tf.shape(ids)[1])
            logits, _ = model(ids[:, :-1], mask=valid[:, :-1], training=False)
            nll = tf.nn.sparse_softmax_cross_entropy_with_logits(ids[:, 1:], logits)
            m = tf.cast(valid[:, 1:], tf.float32)
            count = tf.reduce_sum(m, 1)
            unknown = tf.reduce_sum(tf.cast(tf.logical_and(valid, tf.equal(ids, 0)),
                                            tf.int32), 1)
            return {"nats_per_char": tf.reduce_sum(nll * m, 1) / tf.maximum(count, 1.0),
                    "predicted_chars": tf.cast(count, tf.int32), "unknown_chars": unknown}

        self.generate = generate
        self.serve = generate
        self.score = score
