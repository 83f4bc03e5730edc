"""Sequence tagging, many-to-many with Tx = Ty: whitespace-tokenised text -> one tag per
token (UPOS on ud_english_ewt).

transform (in-graph, shared with serving): each token -> a word id (lower-cased, train
  words seen >= model.min_count times, else [UNK]) and its character ids (the first
  character, then at most model.max_word_chars - 1 final ones; unseen characters [UNK]).
  With model.char_lm (a pair of pretrained LM .keras files, forward and backward), also
  the sentence's characters (words joined by single spaces) as ids of the LMs'
  vocabulary, each word's first and last character index in it, and its length.
model: `rnn_tf.tagger.CharWordTagger` (character BiRNN word encoder + word BiRNN stack;
  with model.char_lm, an `rnn_tf.CharLMEmbedding` of the two LMs adds their states,
  frozen unless model.char_lm_trainable).
loss: softmax cross-entropy per token, mean over tokens; word dropout as in classify.
metrics: token accuracy, accuracy on words absent from the train vocabulary, and the
  most-frequent-tag baseline (each word's most frequent train tag; unseen words get the
  most frequent tag overall).
export: serving_default(sentences: string[N]) -> {"tags": string[N]}, space-separated,
  one tag per whitespace-separated input token.
"""

import collections

import tensorflow as tf

from pipelines import text
from pipelines.tasks import base, pretrained, serving
from pipelines.tasks.pretrained import LM_KEYS, char_lm_vocab, lm_features
from rnn_tf.tagger import char_word_tagger

class TagTask(base.Task):
    primary = "accuracy"

    def features(self, words, word_table, char_table, lm_table=None):
        """words <string>[N, (W)] -> {word_ids <int32>[N, (W)], char_ids [N, (W), (C)]},
        and `lm_features` with an LM vocabulary table."""
        word_ids = word_table.lookup(tf.ragged.map_flat_values(tf.strings.lower, words,
                                                               encoding="utf-8"))
        chars = text.char_tokens(words)
        keep = self.config.model.max_word_chars
        chars = tf.concat([chars[:, :, :1], chars[:, :, 1:][:, :, -(keep - 1):]], axis=2)
        out = {"word_ids": word_ids,
               "char_ids": tf.ragged.map_flat_values(char_table.lookup, chars)}
        return {**out, **lm_features(words, lm_table)} if lm_table is not None else out

    def lm_table(self):
        """The LMs' vocabulary lookup ([UNK] = 0), or None without model.char_lm."""
        return pretrained.lm_table(self.meta["lm_vocab"]) if self.meta.get("lm_vocab") \
            else None

    def inputs(self, batch, word_ids=None):
        """The model's inputs from a batch (`word_ids` in place of the batch's, if given):
        with LMs, their inputs, or the states `prepare_features` computed (`lm_row`)."""
        first = batch["word_ids"] if word_ids is None else word_ids
        if "lm_row" in batch:
            states = tf.gather(self.lm_states, batch["lm_row"])
            shape = tf.concat([tf.shape(first), [self.lm_states.flat_values.shape[-1]]], 0)
            return first, batch["char_ids"], states.to_tensor(0.0, shape=shape)
        return (first, batch["char_ids"]) + tuple(batch[k] for k in LM_KEYS
                                                  if self.meta.get("lm_vocab"))

    def prepare_features(self, splits):
        """With frozen LMs (model.char_lm_trainable False), their states are computed once
        for every sentence, as Akbik et al. store them: each split's LM inputs become
        `lm_row` <int64>[N], its rows of one table `self.lm_states` <float32>[rows, (W),
        2 * units], and a step reads the states instead of running both LMs over the
        batch's characters. The evaluate stage and the export run the LMs themselves."""
        m = self.config.model
        if not self.meta.get("lm_vocab") or m.char_lm_trainable:
            return splits
        layer = pretrained.layer(self.meta, m)
        out, tables, offset = {}, [], 0
        for name, features in splits.items():
            states = pretrained.lm_states(layer, features)
            n = int(states.nrows())
            out[name] = {**{k: v for k, v in features.items() if k not in LM_KEYS},
                         "lm_row": tf.range(offset, offset + n, dtype=tf.int64)}
            tables.append(states)
            offset += n
        self.lm_states = tf.concat(tables, 0)
        return out

    def encode(self, examples, fit):
        words = [list(e["tokens"]) for e in examples]
        if fit:
            m = self.config.model
            lower = [[w.lower() for w in ws] for ws in words]
            tag_names = self.config.data.tag_names
            counts = collections.defaultdict(collections.Counter)
            for ws, e in zip(lower, examples):
                for w, t in zip(ws, e["upos"]):
                    counts[w][int(t)] += 1
            overall = collections.Counter(int(t) for e in examples for t in e["upos"])
            self.meta = {
                "vocab": text.build_vocab(lower, min_count=m.min_count),
                "chars": text.build_vocab([list("".join(ws)) for ws in words], min_count=2),
                "tags": list(tag_names),
                "most_frequent_tag": {w: c.most_common(1)[0][0] for w, c in counts.items()},
                "default_tag": overall.most_common(1)[0][0],
                "lm_vocab": char_lm_vocab(m.char_lm) if m.get("char_lm") else None}
        word_table = text.lookup_table(self.meta["vocab"])
        char_table = text.lookup_table(self.meta["chars"])
        ragged_words = tf.ragged.constant(words, dtype=tf.string)
        feats = self.features(ragged_words, word_table, char_table, self.lm_table())
        mft, default = self.meta["most_frequent_tag"], self.meta["default_tag"]
        baseline = tf.ragged.constant([[mft.get(w.lower(), default) for w in ws]
                                       for ws in words], dtype=tf.int32)
        seen = tf.ragged.constant([[w.lower() in mft for w in ws] for ws in words],
                                  dtype=tf.int32)
        tags = tf.ragged.constant([[int(t) for t in e["upos"]] for e in examples],
                                  dtype=tf.int32)
        return {**feats, "tags": tags, "baseline": baseline, "seen": seen}

    def build_model(self):
        m = self.config.model
        char_lm = pretrained.layer(self.meta, m)
        return char_word_tagger(len(self.meta["vocab"]), len(self.meta["chars"]),
                                len(self.meta["tags"]), units=m.units,
                                num_layers=m.num_layers, char_units=m.char_units,
                                word_dim=m.word_dim, cell=m.cell, char_cell=m.char_cell,
                                dropout=m.dropout, char_lm=char_lm, name="tagger")

    def loss_units(self, batch):
        return tf.reduce_sum(tf.cast(batch["word_ids"] > 0, tf.int32))    # words

    def loss(self, model, batch, training, seed=None):
        word_ids = batch["word_ids"]
        if training and seed is not None and self.config.model.word_dropout:
            drop = tf.random.stateless_uniform(tf.shape(word_ids), seed) < \
                self.config.model.word_dropout
            word_ids = tf.where(tf.logical_and(drop, word_ids > 1), 1, word_ids)
        logits = model(self.inputs(batch, word_ids), training=training)
        mask = tf.cast(batch["word_ids"] > 0, tf.float32)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(batch["tags"], logits)
        n = tf.maximum(tf.reduce_sum(mask), 1.0)
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                                   batch["tags"]), tf.float32)
        return tf.reduce_sum(nll * mask) / n, {"accuracy": tf.reduce_sum(correct * mask) / n}

    def bptt_view(self, model, batch):
        """The first word-level BiRNN (forward direction); a loss per word."""
        def loss_fn(model, b):
            logits = model(self.inputs(b), training=False)
            nll = tf.nn.sparse_softmax_cross_entropy_with_logits(b["tags"], logits)
            return tf.where(b["word_ids"] > 0, nll, 0.0)
        return self.probed_view(model, model.get_layer("birnn_0"), loss_fn, batch,
                                "word_ids")

    def evaluate(self, model, features):
        sums = collections.Counter()
        for batch in self.dataset(features, 128):
            logits = self.forward(model, self.inputs(batch))
            pred = tf.argmax(logits, -1, output_type=tf.int32)
            mask = (batch["word_ids"].numpy() > 0)
            tags = batch["tags"].numpy()
            right = (pred.numpy() == tags) & mask
            unseen = mask & (batch["seen"].numpy() == 0)
            sums["words"] += mask.sum()
            sums["correct"] += right.sum()
            sums["unseen"] += unseen.sum()
            sums["unseen_correct"] += (right & unseen).sum()
            sums["baseline_correct"] += ((batch["baseline"].numpy() == tags) & mask).sum()
        return {"accuracy": sums["correct"] / sums["words"],
                "unseen_word_accuracy": sums["unseen_correct"] / max(sums["unseen"], 1),
                "unseen_word_rate": sums["unseen"] / sums["words"],
                "most_frequent_tag_baseline": sums["baseline_correct"] / sums["words"],
                "words": int(sums["words"])}

    def samples(self, model, step, features, shown=3):
        """A few validation sentences, each word as word/PREDICTED, with the gold tag
        after it where the two differ (words as the model reads them, lower-cased)."""
        vocab, tags, lines = self.meta["vocab"], self.meta["tags"], []
        batch = next(iter(self.dataset(features, shown)))
        pred = tf.argmax(self.forward(model, self.inputs(batch)), -1)
        for ids, p, gold in zip(batch["word_ids"].numpy(), pred.numpy(),
                                batch["tags"].numpy()):
            lines.append(" ".join(
                f"{vocab[i]}/{tags[a]}" + ("" if a == g else f"(gold {tags[g]})")
                for i, a, g in zip(ids, p, gold) if i > 0))
        return {"predictions": "\n".join(lines)}

    def serving_module(self, model):
        module = tf.Module(name="tagger_serving")
        base.track_variables(module, model)
        module.word_table = text.lookup_table(self.meta["vocab"])
        module.char_table = text.lookup_table(self.meta["chars"])
        module.lm_table = self.lm_table()
        module.tag_names = tf.constant(self.meta["tags"])

        @serving.signature(tf.TensorSpec([None], tf.string, name="sentences"))
        def serve(sentences):
            words = text.whitespace_tokens(sentences)
            feats = self.features(words, module.word_table, module.char_table,
                                  module.lm_table)
            dense = {k: v.to_tensor(0) if isinstance(v, tf.RaggedTensor) else v
                     for k, v in feats.items()}
            logits = model(self.inputs(dense), training=False)
            pred = tf.RaggedTensor.from_tensor(tf.argmax(logits, -1, output_type=tf.int32),
                                               lengths=feats["word_ids"].row_lengths())
            tags = tf.gather(module.tag_names, pred)
            return {"tags": tf.strings.reduce_join(tags, axis=1, separator=" ")}

        module.serve = serve
        return module

    def sample(self, saved_model):
        sentences = list(self.config.export.examples)
        out = saved_model.signatures["serving_default"](sentences=tf.constant(sentences))
        return "\n".join(f"{s}\n  {t.decode()}" for s, t in zip(sentences,
                                                                out["tags"].numpy()))
