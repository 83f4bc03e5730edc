"""Encoder-decoder, many-to-many with Tx != Ty: strings -> strings (dates, translation).

transform (in-graph, shared with serving): source and target are split into characters
  or words (`model.source_tokens`, `model.target_tokens`: 'chars' or 'words';
  `model.lower_source` lower-cases the source), ids from train-split vocabularies whose
  ids 0..3 are [PAD], [UNK], [BOS], [EOS]. target_in = [BOS] y, target_out = y [EOS]
  (targets cut to model.max_target_len tokens).
model: `rnn_tf.seq2seq.EncoderDecoder` (GRU/LSTM encoder, Bahdanau attention, decoder).
  With model.char_lm (a pair of pretrained LM .keras files, forward and backward) the
  encoder also reads each source token's `rnn_tf.CharLMEmbedding` states: the tokens as
  written, joined by single spaces (words) or by nothing (characters: the text itself);
  frozen unless model.char_lm_trainable. The export runs the LMs in its graph.
loss: softmax cross-entropy per target token (teacher forcing), mean over tokens.
metrics: exact match, chrF and BLEU (sacrebleu) of the decoded strings against the raw
  target strings; decoding is greedy or beam search (`eval.beam_width` > 1).
export: serving_default(sentences: string[N]) -> {"output": string[N]}, decoded with
  the same search as the evaluation; with `eval.replace_unk`, each [UNK] output token is
  replaced by the source token its attention aligns with (as written).
"""

import numpy as np
import tensorflow as tf

from pipelines import common, text
from pipelines.tasks import base, pretrained, serving
from rnn_tf.seq2seq import encoder_decoder

SPECIALS = (text.PAD, text.UNK, text.BOS, text.EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(4)


def _at_least_one_column(x):
    """<T>[N, L] padded (with x's pad value, 0 or "") to <T>[N, max(L, 1)]."""
    return tf.pad(x, [[0, 0], [0, tf.maximum(1 - tf.shape(x)[1], 0)]])


class Seq2SeqTask(base.Task):

    def __init__(self, config):
        super().__init__(config)
        self.primary = config.eval.primary
        self.higher_is_better = True
        if config.eval.get("replace_unk", False) and not config.model.attention:
            raise common.UserError("eval.replace_unk=True copies the source token the attention "
                                   "aligns with an [UNK] output; set model.attention=True "
                                   "or eval.replace_unk=False.")

    # ------------------------------------------------------------ tokenization
    def source_tokens(self, strings, as_written=False):
        """<string>[N] -> <string>[N, (tokens)]; lower-cased when `model.lower_source`,
        unless `as_written` (the same tokens with their case kept)."""
        m = self.config.model
        lower = m.lower_source and not as_written
        if m.source_tokens == "chars":
            s = tf.convert_to_tensor(strings, tf.string)
            return text.char_tokens(tf.strings.lower(s, encoding="utf-8") if lower else s)
        return text.word_tokens(strings, lower=lower)

    def lm_inputs(self, strings, lm_table):
        """<string>[N] -> the LMs' inputs (`pretrained.LM_KEYS`, ragged): one LM word per
        source id, the source tokens as written cut to model.max_source_len (a filler
        word for a source without tokens, whose ids hold one [UNK])."""
        m = self.config.model
        words = pretrained.at_least_one_word(
            self.source_tokens(strings, as_written=True)[:, :m.max_source_len])
        return pretrained.lm_features(words, lm_table,
                                      "" if m.source_tokens == "chars" else " ")

    def model_source(self, batch):
        """The model's source: the ids, or with model.char_lm the ids and the LMs'
        inputs (`rnn_tf.seq2seq.EncoderDecoder`)."""
        if not self.meta.get("lm_vocab"):
            return batch["source"]
        return (batch["source"], *[batch[k] for k in pretrained.LM_KEYS])

    def target_tokens(self, strings):
        if self.config.model.target_tokens == "chars":
            return text.char_tokens(strings)
        return text.word_tokens(strings, lower=False)

    def join_target(self, tokens):
        if self.config.model.target_tokens == "chars":
            return tf.strings.reduce_join(tokens, axis=-1)
        return text.detokenize(tokens)

    def encode(self, examples, fit):
        sources = [e["source"] for e in examples]
        targets = [e["target"] for e in examples]
        src, tgt = text.batched(self.source_tokens, sources), text.batched(
            self.target_tokens, targets)
        m = self.config.model
        if fit:
            self.meta = {
                "source_vocab": text.build_vocab(src, SPECIALS, m.min_count, m.max_vocab),
                "target_vocab": text.build_vocab(tgt, SPECIALS, m.min_count, m.max_vocab),
                "lm_vocab": (pretrained.char_lm_vocab(m.char_lm) if m.get("char_lm")
                             else None)}
        s_table = {w: i for i, w in enumerate(self.meta["source_vocab"])}
        t_table = {w: i for i, w in enumerate(self.meta["target_vocab"])}
        s_ids = [[s_table.get(w, UNK_ID) for w in ws][:m.max_source_len] or [UNK_ID]
                 for ws in src]
        t_ids = [[t_table.get(w, UNK_ID) for w in ws][:m.max_target_len] for ws in tgt]
        out = {"source": tf.ragged.constant(s_ids, tf.int32),
               "target_in": tf.ragged.constant([[BOS_ID] + t for t in t_ids], tf.int32),
               "target_out": tf.ragged.constant([t + [EOS_ID] for t in t_ids], tf.int32),
               "text_source": np.array(sources, dtype=np.str_),
               "text_target": np.array(targets, dtype=np.str_)}
        if self.meta.get("lm_vocab"):
            lm = self.lm_inputs(tf.constant(sources, tf.string),
                                pretrained.lm_table(self.meta["lm_vocab"]))
            if not np.array_equal(lm["word_starts"].row_lengths(),
                                  out["source"].row_lengths()):
                raise ValueError("the LMs' words and the source ids differ in number")
            out.update(lm)
        return out

    def length_of(self, element):
        return tf.shape(element["source"])[0]

    # ------------------------------------------------------------ model and loss
    def build_model(self):
        m = self.config.model
        return encoder_decoder(len(self.meta["source_vocab"]), len(self.meta["target_vocab"]),
                               units=m.units, cell=m.cell, embedding_dim=m.embedding_dim,
                               attention=m.attention, pad_id=PAD_ID, bos_id=BOS_ID,
                               eos_id=EOS_ID, name="encoder_decoder",
                               source_embedding_dim=m.get("source_embedding_dim", 0),
                               char_lm=pretrained.layer(self.meta, m))

    def loss_units(self, batch):
        return tf.reduce_sum(tf.cast(batch["target_out"] > 0, tf.int32))  # target tokens

    def bptt_view(self, model, batch):
        """Two views: the encoder's states ("encoder"), where the loss, per sentence, is
        the decoder's summed over the target, so the view shows how much of it reaches
        each source position; and the decoder's states of the teacher-forced pass
        ("decoder"), with its per-step losses over the target."""
        def sentence_loss(model, b):
            return tf.reduce_sum(step_losses(model, b), 1)

        def step_losses(model, b):
            logits = model((self.model_source(b), b["target_in"]), training=False)
            nll = tf.nn.sparse_softmax_cross_entropy_with_logits(b["target_out"], logits)
            return tf.where(b["target_out"] > 0, nll, 0.0)
        return {"encoder": self.probed_view(model, model.encoder, sentence_loss, batch,
                                            "source"),
                "decoder": self.probed_view(model, model.decoder_cell, step_losses, batch,
                                            "target_out")}

    def loss(self, model, batch, training, seed=None):
        logits = model((self.model_source(batch), batch["target_in"]), training=training)
        y = batch["target_out"]
        mask = tf.cast(y > 0, tf.float32)
        n = tf.maximum(tf.reduce_sum(mask), 1.0)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y),
                          tf.float32)
        return (tf.reduce_sum(nll * mask) / n,
                {"token_accuracy": tf.reduce_sum(correct * mask) / n})

    # ------------------------------------------------------------ decoding
    def decode_ids(self, model, source, beam_width):
        """source (`model_source`: <int32>[B, Tx] ids, or the tuple with the LMs' inputs)
        -> (<int32>[B, max_target_len + 1] ids (EOS, then PAD), and the alignment
        <int32>[B, max_target_len + 1]: each token's most-attended source position)."""
        length = self.config.model.max_target_len + 1
        method = "beam" if beam_width > 1 else "greedy"
        decoded = model.decode(source, length, method=method, beam_width=beam_width,
                               length_penalty=self.config.eval.length_penalty,
                               return_alignment=model.attention is not None)
        if model.attention is None:             # no alignment without attention: zeros
            return decoded, tf.zeros_like(decoded)
        return decoded

    def ids_to_strings(self, ids, tokens):
        """ids <int32>[B, L] and their tokens <string>[B, L] -> <string>[B]: the tokens up
        to the first EOS/PAD, joined."""
        stop = tf.logical_or(tf.equal(ids, EOS_ID), tf.equal(ids, PAD_ID))
        lengths = tf.argmax(tf.concat([tf.cast(stop, tf.int32),
                                       tf.ones_like(ids[:, :1])], 1), 1, output_type=tf.int32)
        return self.join_target(tf.RaggedTensor.from_tensor(tokens, lengths=lengths))

    def replace_unknown(self, ids, aligned, tokens, sentences):
        """Unknown-word replacement (Luong et al. 2015; OpenNMT's `replace_unk`): each
        [UNK] output token <string>[B, L] becomes the source token, as written (case kept),
        at its aligned position <int32>[B, L], so names, numbers and rare words the
        vocabulary lacks are copied instead of printed as [UNK]."""
        surface = self.source_tokens(sentences, as_written=True)
        surface = _at_least_one_column(
            surface[:, :self.config.model.max_source_len].to_tensor(""))
        position = tf.minimum(aligned, tf.shape(surface)[1] - 1)
        return tf.where(tf.equal(ids, UNK_ID),
                        tf.gather(surface, position, batch_dims=1), tokens)

    def translate_fn(self, model, beam_width):
        """A tf.function: raw strings <string>[N] -> decoded strings <string>[N]; the
        serving signature and the evaluation both run it."""
        replace_unk = self.config.eval.get("replace_unk", False)
        s_table = text.lookup_table(self.meta["source_vocab"])
        vocab = tf.constant(self.meta["target_vocab"])
        max_len = self.config.model.max_source_len
        lm_table = (pretrained.lm_table(self.meta["lm_vocab"]) if self.meta.get("lm_vocab")
                    else None)

        @serving.signature(tf.TensorSpec([None], tf.string, name="sentences"))
        def translate(sentences):
            ids = tf.ragged.map_flat_values(s_table.lookup, self.source_tokens(sentences))
            ids = ids[:, :max_len]
            dense = _at_least_one_column(ids.to_tensor(PAD_ID))
            first = tf.where(tf.equal(ids.row_lengths(), 0), UNK_ID, dense[:, 0])
            dense = tf.concat([first[:, None], dense[:, 1:]], 1)
            source = dense
            if lm_table is not None:
                lm = self.lm_inputs(sentences, lm_table)
                source = (dense, *[_at_least_one_column(lm[k].to_tensor(0))
                                   for k in pretrained.LM_KEYS[:3]], lm["lm_lengths"])
            out_ids, aligned = self.decode_ids(model, source, beam_width)
            tokens = tf.gather(vocab, out_ids)
            if replace_unk:
                tokens = self.replace_unknown(out_ids, aligned, tokens, sentences)
            out = self.ids_to_strings(out_ids, tokens)
            # an empty or all-whitespace input has nothing to translate
            blank = tf.equal(tf.strings.length(tf.strings.strip(sentences)), 0)
            return {"output": tf.where(blank, "", out)}

        translate.tables = (s_table, vocab, lm_table)          # keep the tables alive
        return translate

    def decode_all(self, model, sources, beam_width, limit=0):
        cache = self.__dict__.setdefault("_translate", {})
        key = (id(model), beam_width)
        if key not in cache:
            cache[key] = (model, self.translate_fn(model, beam_width))
        fn = cache[key][1]
        sources = list(sources[:limit] if limit else sources)
        # batches of similar lengths (as fairseq's generate does): a batch decodes until
        # its longest output ends, so sorting by length saves steps; the output keeps the
        # input's order
        order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
        out = [None] * len(sources)
        for i in range(0, len(order), 256):
            rows = order[i:i + 256]
            decoded = fn(tf.constant([sources[j] for j in rows]))["output"].numpy()
            for j, s in zip(rows, decoded):
                out[j] = s.decode("utf-8")
        return out

    def text_metrics(self, hyps, refs):
        import sacrebleu
        exact = float(np.mean([h == r for h, r in zip(hyps, refs)]))
        return {"exact_match": exact,
                "chrf": sacrebleu.corpus_chrf(hyps, [refs]).score,
                "bleu": sacrebleu.corpus_bleu(hyps, [refs]).score,
                "examples": len(refs)}

    def quick_eval(self, model, features):
        n = self.config.eval.quick_examples
        refs = [str(s) for s in features["text_target"][:n]]
        hyps = self.decode_all(model, features["text_source"], 1, limit=n)
        return self.text_metrics(hyps, refs)

    def samples(self, model, step, features, shown=5):
        """The first validation sources, the greedy output and the reference."""
        hyps = self.decode_all(model, features["text_source"], 1, limit=shown)
        return {"predictions": "\n\n".join(
            f"source:    {s}\noutput:    {h}\nreference: {r}"
            for s, h, r in zip(features["text_source"][:shown], hyps,
                               features["text_target"][:shown]))}

    def evaluate(self, model, features):
        refs = [str(s) for s in features["text_target"]]
        hyps = self.decode_all(model, features["text_source"], self.config.eval.beam_width)
        metrics = self.text_metrics(hyps, refs)
        metrics["examples_shown"] = [
            {"source": str(s), "output": h, "reference": r}
            for s, h, r in list(zip(features["text_source"], hyps, refs))[:5]]
        return metrics

    def serving_module(self, model):
        module = tf.Module(name="seq2seq_serving")
        base.track_variables(module, model)
        module.serve = self.translate_fn(model, self.config.eval.beam_width)
        module.tables = module.serve.tables
        return module

    def sample(self, saved_model):
        sentences = list(self.config.export.examples)
        out = saved_model.signatures["serving_default"](sentences=tf.constant(sentences))
        return "\n".join(f"{s}  ->  {o.decode()}" for s, o in zip(sentences,
                                                                  out["output"].numpy()))
