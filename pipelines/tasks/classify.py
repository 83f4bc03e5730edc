"""Sentence classification, many-to-one: strings -> probability of the positive class.

transform: words (lower-cased; punctuation marks are tokens, `pipelines.text`) ->
  ids from the train split's vocabulary, [UNK] for the rest.
model: `rnn_tf.models.many_to_one`, a (bi)directional RNN read at the last valid step,
  one sigmoid output: ŷ = P(positive).
loss: the lecture's L = -y log ŷ - (1-y) log(1-ŷ), with word dropout (a training word
  becomes [UNK] with probability model.word_dropout, so the model learns to use context
  for words it has never seen). With model.lexicon='vader' the model also reads each
  word's VADER rating (`pipelines.lexicon`), which word dropout leaves in place: the
  model learns what a rated word it has not seen means, as in a new domain. With
  model.char_lm (a pair of pretrained LM .keras files, forward and backward) the model
  also reads each token's `rnn_tf.CharLMEmbedding` states, from the same tokens as
  written (not lower-cased) joined by single spaces; frozen unless
  model.char_lm_trainable.
export: serving_default(sentences: string[N]) -> {"probability": float32[N] of
  positive, "label": string[N]}.
"""

import numpy as np
import tensorflow as tf

from pipelines import lexicon, text
from pipelines.tasks import base, pretrained, serving
from rnn_tf import models


class ClassifyTask(base.Task):
    primary = "accuracy"

    def tokens(self, sentences):
        return text.word_tokens(sentences, lower=True)

    def lm_words(self, sentences):
        """<string>[N] -> [N, (W)]: the tokens as written, for the LMs (one filler word
        for a sentence without tokens, as its ids hold one [UNK])."""
        return pretrained.at_least_one_word(text.word_tokens(sentences, lower=False))

    def encode(self, examples, fit):
        sentences = [e["sentence"] for e in examples]
        tokens = text.batched(self.tokens, sentences)
        if fit:
            m = self.config.model
            self.meta = {"vocab": text.build_vocab(tokens, min_count=m.min_count),
                         "labels": ["negative", "positive"],
                         "lm_vocab": (pretrained.char_lm_vocab(m.char_lm)
                                      if m.get("char_lm") else None)}
        table = {w: i for i, w in enumerate(self.meta["vocab"])}
        ids = tf.ragged.constant([[table.get(w, 1) for w in ws] or [1] for ws in tokens],
                                 dtype=tf.int32)
        out = {"ids": ids, "label": np.array([e["label"] for e in examples], np.int32)}
        if self.valence:
            words = tf.ragged.constant([ws or ["[UNK]"] for ws in tokens], dtype=tf.string)
            out["valence"] = self.valence(words)
        if self.meta.get("lm_vocab"):
            words = tf.ragged.constant(text.batched(self.lm_words, sentences),
                                       dtype=tf.string)
            out.update(pretrained.lm_features(words,
                                              pretrained.lm_table(self.meta["lm_vocab"])))
        return out

    @property
    def valence(self):
        """The lexicon's per-token features (model.lexicon), or None."""
        name = self.config.model.get("lexicon", "")
        if not name:
            return None
        if name not in ("vader", "vader_negation"):
            raise ValueError(f"model.lexicon={name!r} is not known; use 'vader' (VADER's "
                             "word ratings), 'vader_negation' (the same with VADER's "
                             "negation rule) or '' (words alone).")
        if "_valence" not in self.__dict__:
            self._valence = lexicon.Valence(
                lexicon.vader_ratings(),
                lexicon.vader_negators() if name == "vader_negation" else None)
        return self._valence

    def inputs(self, ids, valence=None, batch=None):
        """The model's input: ids, or [ids, <float32>[B, T, 1] valence] with a lexicon,
        then the LM inputs of `batch` with model.char_lm."""
        out = [ids] if valence is None else [ids, valence[..., None]]
        if self.meta.get("lm_vocab"):
            out += [batch[k] for k in pretrained.LM_KEYS]
        return out[0] if len(out) == 1 else out

    def build_model(self):
        m = self.config.model
        char_lm = pretrained.layer(self.meta, m)
        return models.many_to_one(len(self.meta["vocab"]), 1, units=m.units, cell=m.cell,
                                  num_layers=m.num_layers, dropout=m.dropout,
                                  bidirectional=m.bidirectional,
                                  output_activation="sigmoid", pad_id=0, name="classifier",
                                  token_features=1 if self.valence else 0,
                                  embedding_dim=m.get("embedding_dim", 0), char_lm=char_lm,
                                  char_lm_dropout=m.get("char_lm_dropout", 0.0))

    def loss(self, model, batch, training, seed=None):
        ids = batch["ids"]
        if training and seed is not None and self.config.model.word_dropout:
            drop = tf.random.stateless_uniform(tf.shape(ids), seed) < self.config.model.word_dropout
            ids = tf.where(tf.logical_and(drop, ids > 1), 1, ids)   # a word's rating stays
        logits = model(self.inputs(ids, batch.get("valence"), batch), training=training)[:, 0]
        y = tf.cast(batch["label"], tf.float32)
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y,
                                                                      logits=logits))
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.cast(logits > 0, tf.float32), y),
                                          tf.float32))
        return loss, {"accuracy": accuracy}

    def bptt_view(self, model, batch):
        """The first recurrent layer (forward direction); the loss is per sentence."""
        def loss_fn(model, b):
            logits = model(self.inputs(b["ids"], b.get("valence"), b), training=False)[:, 0]
            return tf.nn.sigmoid_cross_entropy_with_logits(
                labels=tf.cast(b["label"], tf.float32), logits=logits)
        layer = next(l for l in model.layers if l.name.startswith("rnn_"))
        return self.probed_view(model, layer, loss_fn, batch, "ids")

    def evaluate(self, model, features):
        nll, correct, n = 0.0, 0.0, 0
        for batch in self.dataset(features, 256):
            logits = self.forward(model, self.inputs(batch["ids"], batch.get("valence"),
                                                     batch))[:, 0]
            y = tf.cast(batch["label"], tf.float32)
            nll += float(tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(
                labels=y, logits=logits)))
            correct += float(tf.reduce_sum(tf.cast(tf.equal(tf.cast(logits > 0, tf.float32),
                                                            y), tf.float32)))
            n += int(tf.shape(y)[0])
        return {"accuracy": correct / n, "log_loss": nll / n, "examples": n}

    def quick_eval(self, model, features):
        m = self.evaluate(model, features)
        return {"accuracy": m["accuracy"], "loss": m["log_loss"]}     # the training loss

    def samples(self, model, step, features, shown=5):
        """Validation sentences the model gets wrong (as it reads them: [UNK] for words
        outside the vocabulary), with P(positive)."""
        vocab, wrong = self.meta["vocab"], []
        for batch in self.dataset(features, 256):
            p = tf.sigmoid(self.forward(model, self.inputs(batch["ids"],
                                                           batch.get("valence"), batch))[:, 0])
            for ids, label, prob in zip(batch["ids"].numpy(), batch["label"].numpy(),
                                        p.numpy()):
                if (prob > 0.5) != (label == 1) and len(wrong) < shown:
                    words = " ".join(vocab[i] for i in ids if i > 0)
                    wrong.append(f"label {self.meta['labels'][label]}, "
                                 f"P(positive) {prob:.2f}: {words}")
        return {"misclassified": "\n".join(wrong) or "(none)"}

    def serving_module(self, model):
        module = tf.Module(name="classifier_serving")
        base.track_variables(module, model)
        module.table = text.lookup_table(self.meta["vocab"])
        module.labels = tf.constant(self.meta["labels"])
        module.valence = self.valence
        module.lm_table = (pretrained.lm_table(self.meta["lm_vocab"])
                           if self.meta.get("lm_vocab") else None)

        @serving.signature(tf.TensorSpec([None], tf.string, name="sentences"))
        def serve(sentences):
            words = self.tokens(sentences)
            ids = module.table.lookup(words)
            empty = tf.equal(ids.row_lengths(), 0)
            dense = ids.to_tensor(0)
            dense = tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)]])
            # an empty sentence reads one [UNK], as in training
            first = tf.where(empty, 1, dense[:, 0])
            ids = tf.concat([first[:, None], dense[:, 1:]], 1)
            valence, lm = None, None
            if module.valence is not None:
                valence = module.valence(words).to_tensor(0.0, shape=tf.shape(ids))
            if module.lm_table is not None:
                feats = pretrained.lm_features(self.lm_words(sentences), module.lm_table)
                lm = {k: v.to_tensor(0, shape=tf.shape(ids)) if k.startswith("word_")
                      else v.to_tensor(0) if isinstance(v, tf.RaggedTensor) else v
                      for k, v in feats.items()}
            p = tf.sigmoid(model(self.inputs(ids, valence, lm), training=False)[:, 0])
            return {"probability": p,
                    "label": tf.gather(module.labels, tf.cast(p > 0.5, tf.int32))}

        module.serve = serve
        return module

    def sample(self, saved_model):
        sentences = list(self.config.export.examples)
        out = saved_model.signatures["serving_default"](sentences=tf.constant(sentences))
        return "\n".join(f"{p:.3f}  {s}" for s, p in zip(sentences,
                                                          out["probability"].numpy()))
