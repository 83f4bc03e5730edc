"""Encoder-decoder (Tx != Ty, different per example), with optional additive attention.

    encoder:  h<1..Tx> = RNN(source ids)           final state s<0> starts the decoder
    decoder:  c<t> = attention(s<t-1>, h)          (Bahdanau, when attention=True)
              s<t> = cell([E y<t-1>; c<t>], s<t-1>)
              logits<t> = W_ya [s<t>; c<t>] + b_y

Training uses teacher forcing (`call((source, target_in))`, target_in = [BOS, y<1..T-1>]).
Inference runs greedy decoding or beam search as one tf.while_loop in one tf.function;
both can also return the alignment, each output token's most-attended source position.
"""

import keras
import tensorflow as tf

from rnn_tf import char_embedding, diagnostics
from rnn_tf.attention import AdditiveAttention
from rnn_tf.cells import check_positive_int
from rnn_tf.heads import Head
from rnn_tf.recurrent import RNN, CELLS, dynamic_unroll


@keras.saving.register_keras_serializable(package="rnn_tf")
class EncoderDecoder(keras.Model):
    """Sequence to sequence with teacher forcing, greedy decoding and beam search.

    Args:
      source_vocab, target_vocab: vocabulary sizes (ids in [0, V)).
      units: RNN state size of encoder and decoder.
      cell: 'vanilla', 'gru' or 'lstm' (both sides).
      embedding_dim: size of the decoder's target-id embedding.
      source_embedding_dim: 0 (the encoder reads the source ids, W_ax x as a row lookup)
        or the size of a source-id `keras.layers.Embedding` the encoder reads (a Keras
        model's layout).
      attention: add Bahdanau attention over the encoder states.
      pad_id, bos_id, eos_id: special target/source ids.
      char_lm: None, or a `rnn_tf.CharLMEmbedding`: the encoder then reads, at each
        source token, [E x<t>; the pretrained character LMs' states for the token]
        (E a source embedding of source_embedding_dim, or units when 0), and every
        `source` below is the tuple (ids <int32>[B, Tx], lm_chars <int32>[B, C],
        word_starts, word_ends <int32>[B, Tx], lm_lengths <int32>[B]): the source as
        characters of the LMs' vocabulary, and where each token starts and ends in it.

    Call arguments:
      inputs: (source <int32>[B, Tx], target_in <int32>[B, Ty]); pad_id marks padding.
    Returns:
      logits <float32>[B, Ty, target_vocab].

    `rnn_tf.diagnostics.probing(model.encoder, probe)` adds a probe to the encoder's states
    and `probing(model.decoder_cell, probe)` (<float>[B, Ty, units]) to the decoder's
    s<t> of the teacher-forced pass, for the BPTT view of either side.
    """

    def __init__(self, source_vocab, target_vocab, units=128, cell="gru", embedding_dim=32,
                 attention=True, pad_id=0, bos_id=1, eos_id=2, source_embedding_dim=0,
                 char_lm=None, **kwargs):
        super().__init__(**kwargs)
        for name, v in (("source_vocab", source_vocab), ("target_vocab", target_vocab),
                        ("units", units), ("embedding_dim", embedding_dim)):
            check_positive_int(name, v)
        if source_embedding_dim:
            check_positive_int("source_embedding_dim", source_embedding_dim,
                               " (or 0: the encoder reads the ids)")
        if cell not in CELLS:
            raise ValueError(f"Unknown cell {cell!r}. Use one of {sorted(CELLS)}.")
        for name, v in (("pad_id", pad_id), ("bos_id", bos_id), ("eos_id", eos_id)):
            if not 0 <= v < target_vocab:
                raise ValueError(f"{name}={v} is not a target id: it must lie in [0, "
                                 f"target_vocab={target_vocab}). Enlarge the vocabulary.")
        self.source_vocab, self.target_vocab = source_vocab, target_vocab
        self.units, self.cell_name, self.embedding_dim = units, cell, embedding_dim
        self.use_attention = attention
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.source_embedding_dim = source_embedding_dim
        if char_lm is not None and not isinstance(char_lm, char_embedding.CharLMEmbedding):
            raise ValueError(f"char_lm={char_lm!r} is not an rnn_tf.CharLMEmbedding; pass "
                             "one (or None: no pretrained character-LM features).")
        self.char_lm = char_lm
        embed = source_embedding_dim or (units if char_lm is not None else 0)
        self.source_embedding = keras.layers.Embedding(
            source_vocab, embed, name="source_embedding") if embed else None
        self.encoder = RNN(units, cell=cell, return_sequences=True, return_state=True,
                           input_dim=None if embed else source_vocab, name="encoder")
        self.embedding = keras.layers.Embedding(target_vocab, embedding_dim, name="embedding")
        self.decoder_cell = CELLS[cell](units, name="decoder_cell")
        self.attention = AdditiveAttention(units, name="attention") if attention else None
        self.head = Head(target_vocab, "softmax", name="head")
        n = self.decoder_cell.state_size
        self._num_states = len(n) if isinstance(n, (list, tuple)) else 1

    def build(self, input_shape=None):
        decoder_in = self.embedding_dim + (self.units if self.use_attention else 0)
        if self.source_embedding is not None:
            self.source_embedding.build((None, None))
            width = self.source_embedding.output_dim
            if self.char_lm is not None:
                self.char_lm.build()
                width += 2 * self.char_lm.units
            self.encoder.build((None, None, width))
        else:
            self.encoder.build((None, None))
        self.embedding.build((None,))
        self.decoder_cell.build((None, decoder_in))
        if self.attention is not None:
            self.attention.build(self.units, self.units)
        self.head.build((None, self.units * (2 if self.use_attention else 1)))
        self.built = True

    @property
    def _default_save_signature(self):
        # Keras would trace call() with float inputs; this model reads int32 ids.
        spec = tf.TensorSpec([None, None], tf.int32)
        source = spec if self.char_lm is None else (spec, spec, spec, spec,
                                                    tf.TensorSpec([None], tf.int32))

        @tf.function(input_signature=[(source, spec)])
        def serving_default(inputs):
            return {"logits": self(inputs)}
        return serving_default

    # ------------------------------------------------------------------ pieces
    def _check_ids(self, ids, vocab, what):
        if tf.executing_eagerly() and tf.size(ids) > 0:
            hi, lo = int(tf.reduce_max(ids)), int(tf.reduce_min(ids))
            if lo < 0 or hi >= vocab:
                raise ValueError(f"{what} ids must lie in [0, {vocab}); received {lo}..{hi}. "
                                 f"Build the model with the matching vocabulary size.")

    def _source(self, source):
        """The source as int32 tensors: ids <int32>[B, Tx], or with char_lm the tuple of
        ids and the LMs' inputs (see the class docstring); a one-line error otherwise."""
        if self.char_lm is None:
            if isinstance(source, (tuple, list)):
                raise ValueError("this model has no char_lm: pass the source ids "
                                 "<int32>[B, Tx] alone, not a tuple")
            return tf.cast(source, tf.int32)
        if not isinstance(source, (tuple, list)) or len(source) != 5:
            raise ValueError("this model reads character-LM states: pass the source as "
                             "(ids, lm_chars, word_starts, word_ends, lm_lengths)")
        return tuple(tf.cast(x, tf.int32) for x in source)

    def encode(self, source):
        """source (see `_source`) -> (memory [B, Tx, H], mask <bool>[B, Tx], decoder state
        list)."""
        ids = source if self.char_lm is None else source[0]
        mask = tf.not_equal(ids, self.pad_id)
        x = ids if self.source_embedding is None else self.source_embedding(ids)
        if self.char_lm is not None:
            x = tf.concat([x, tf.cast(self.char_lm(*source[1:]), x.dtype)], -1)
        outputs = self.encoder(x, mask=mask)
        memory, states = outputs[0], list(outputs[1:])
        if self._num_states != len(states):      # encoder and decoder cells always match
            raise ValueError("encoder/decoder state mismatch")
        return memory, mask, states

    def _decoder_step(self, y_prev, states, memory, keys, mask):
        """One decoder step: y_prev <int32>[B] -> (logits [B, V], next states, the source
        position <int32>[B] the attention weighs most: 0 without attention)."""
        features, new_states, weights = self._decoder_features(
            self.embedding(y_prev), states, memory, keys, mask, return_weights=True)
        aligned = tf.zeros_like(y_prev)
        if weights is not None:          # a -1 column: an empty source aligns with 0
            aligned = tf.argmax(tf.pad(weights, [[0, 0], [0, 1]], constant_values=-1.0), -1,
                                output_type=tf.int32)
        return self.head(features), new_states, aligned

    def _decoder_features(self, x, states, memory, keys, mask, return_weights=False,
                          probe=None):
        """One decoder step before the head: the embedded y<t-1> <float>[B, E] ->
        ([s<t>; c<t>] <float>[B, H or 2H], next states), and with `return_weights` the
        attention weights <float>[B, Tx] (None without attention). `probe` <float>[B, H]
        or None is added to s<t> (the head's input and the next step's state)."""
        context = weights = None
        if self.attention is not None:
            context, weights = self.attention(states[0], memory, keys, mask,
                                              return_weights=True)           # (B, H)
            x = tf.concat([x, context], -1)
        out, new_states = self.decoder_cell(x, states)
        new_states = list(new_states)
        if probe is not None:            # every cell's output is its first state
            out = new_states[0] = new_states[0] + probe
        if context is not None:
            out = tf.concat([out, context], -1)
        return (out, new_states, weights) if return_weights else (out, new_states)

    def call(self, inputs, training=None):
        source, target_in = inputs
        source = self._source(source)
        target_in = tf.cast(target_in, tf.int32)
        self._check_ids(source if self.char_lm is None else source[0], self.source_vocab,
                        "source")
        self._check_ids(target_in, self.target_vocab, "target")
        memory, mask, states = self.encode(source)
        keys = self.attention.prepare(memory) if self.attention is not None else None
        # Teacher forcing knows every input up front: the embedding lookup is one gather
        # before the loop, and the head (the large (H x V) product) one product after it,
        # so the loop carries only the recurrence and the attention.
        x_tm = self.embedding(tf.transpose(target_in))                       # (Ty, B, E)
        probe = diagnostics.active_probe(self.decoder_cell)               # (B, Ty, H)
        if probe is not None:            # the loop reads it beside x<t>
            x_tm = tf.concat([x_tm, tf.transpose(tf.cast(probe, x_tm.dtype), [1, 0, 2])],
                             -1)
        E = self.embedding_dim

        def step(x_t, s):
            if probe is not None:
                return self._decoder_features(x_t[:, :E], s, memory, keys, mask,
                                              probe=x_t[:, E:])
            return self._decoder_features(x_t, s, memory, keys, mask)
        features_tm, _ = dynamic_unroll(step, x_tm, states)                  # (Ty, B, F)
        return self.head(tf.transpose(features_tm, [1, 0, 2]))              # (B, Ty, V)

    # ------------------------------------------------------------------ inference
    def greedy_decode(self, source, max_length, return_alignment=False):
        """<int32>[B, Tx] -> <int32>[B, max_length]; after EOS a row is pad_id.

        With `return_alignment`, also <int32>[B, max_length]: for each output token the
        source position its attention weighed most (0 after the row's end), for copying
        the source word of an unknown output token, as Luong et al. 2015 replace unknown
        words.
        """
        self._check_alignment(return_alignment)
        ids, aligned = self._greedy(self._source(source), tf.constant(max_length))
        return (ids, aligned) if return_alignment else ids

    def decode(self, source, max_length, method="greedy", beam_width=4, length_penalty=0.0,
               return_alignment=False):
        """Decodes a batch of sources; usable eagerly and inside a `tf.function` (a serving
        signature), where `max_length` and `length_penalty` may be tensors.

        Args:
          source: <int32>[B, Tx] source ids (pad_id after each row's end); with char_lm,
            the tuple of ids and the LMs' inputs (the class docstring).
          max_length: <int32>[] output steps.
          method: 'greedy' (argmax at each step) or 'beam' (beam search).
          beam_width: Python int >= 1, for method='beam'.
          length_penalty: <float32>[]; beam scores are summed log-probabilities divided by
            length**length_penalty.
          return_alignment: also return each output token's most-attended source position
            <int32>[B, max_length] (needs attention).
        Returns:
          <int32>[B, max_length] ids, pad_id after EOS; with return_alignment, (ids,
          alignment).
        """
        if method not in ("greedy", "beam"):
            raise ValueError(f"method={method!r} is not known; use 'greedy' or 'beam'.")
        self._check_alignment(return_alignment)
        source = self._source(source)
        max_length = tf.convert_to_tensor(max_length, tf.int32)
        if method == "beam":
            check_positive_int("beam_width", beam_width, " (1 is greedy)")
            ids, aligned = self._beam(source, max_length, beam_width,
                                      tf.convert_to_tensor(length_penalty, tf.float32))
        else:
            ids, aligned = self._greedy(source, max_length)
        return (ids, aligned) if return_alignment else ids

    def _check_alignment(self, return_alignment):
        if return_alignment and self.attention is None:
            raise ValueError("return_alignment=True needs attention: the alignment is the "
                             "attention's argmax. Build the model with attention=True.")

    @tf.function(reduce_retracing=True)
    def _greedy(self, source, max_length):
        memory, mask, states = self.encode(source)
        keys = self.attention.prepare(memory) if self.attention is not None else None
        B = tf.shape(mask)[0]
        out = tf.TensorArray(tf.int32, size=max_length)
        align = tf.TensorArray(tf.int32, size=max_length)

        def body(t, y, states, done, out, align):
            logits, states, aligned = self._decoder_step(y, states, memory, keys, mask)
            y = tf.argmax(logits, -1, output_type=tf.int32)
            y = tf.where(done, self.pad_id, y)
            aligned = tf.where(done, 0, aligned)                # after the end: 0
            done = tf.logical_or(done, tf.equal(y, self.eos_id))
            return t + 1, y, states, done, out.write(t, y), align.write(t, aligned)

        steps, _, _, _, out, align = tf.while_loop(
            lambda t, y, s, done, o, a: tf.logical_and(t < max_length,
                                                       tf.logical_not(tf.reduce_all(done))),
            body, (0, tf.fill([B], self.bos_id), states, tf.zeros([B], tf.bool), out, align),
            maximum_iterations=max_length)

        # the steps run (none for an empty batch or max_length 0, which a TensorArray of
        # unknown element shape cannot stack), then `fill` up to max_length
        def batch_major(ta, fill):
            seq = tf.cond(steps > 0, lambda: tf.transpose(ta.gather(tf.range(steps))),
                          lambda: tf.zeros([B, 0], tf.int32))
            return tf.concat([seq, tf.fill([B, max_length - steps], fill)], 1)
        return batch_major(out, self.pad_id), batch_major(align, 0)

    def beam_search(self, source, max_length, beam_width=4, length_penalty=0.0,
                    return_alignment=False):
        """Beam search. Returns the best <int32>[B, max_length] (pad_id after EOS).

        Scores are summed log-probabilities divided by length**length_penalty. With
        `return_alignment`, also the best beam's alignment <int32>[B, max_length] (see
        `greedy_decode`).
        """
        check_positive_int("beam_width", beam_width, " (1 is greedy)")
        self._check_alignment(return_alignment)
        ids, aligned = self._beam(self._source(source), tf.constant(max_length), beam_width,
                                  tf.constant(length_penalty, tf.float32))
        return (ids, aligned) if return_alignment else ids

    @tf.function(reduce_retracing=True)
    def _beam(self, source, max_length, K, length_penalty):
        V = self.target_vocab
        memory, mask, states = self.encode(source)
        B = tf.shape(mask)[0]
        tile = lambda x: tf.repeat(x, K, axis=0)                           # (B*K, ...)
        memory, mask, states = tile(memory), tile(mask), [tile(s) for s in states]
        keys = self.attention.prepare(memory) if self.attention is not None else None
        scores = tf.tile(tf.constant([[0.0] + [-1e9] * (K - 1)]), [B, 1])   # (B, K)
        seqs = tf.fill([B, K, max_length], self.pad_id)
        aligns = tf.zeros([B, K, max_length], tf.int32)      # each token's source position
        done = tf.zeros([B, K], tf.bool)
        lengths = tf.zeros([B, K], tf.float32)
        y = tf.fill([B * K], self.bos_id)
        eos_only = tf.one_hot(self.eos_id, V, on_value=0.0, off_value=-1e9)  # (V,)

        def body(t, y, states, scores, seqs, aligns, done, lengths):
            logits, states, aligned = self._decoder_step(y, states, memory, keys, mask)
            logp = tf.reshape(tf.nn.log_softmax(logits), [B, K, V])
            # a finished beam may only continue with EOS at no cost
            logp = tf.where(done[:, :, None], eos_only, logp)
            total = tf.reshape(scores[:, :, None] + logp, [B, K * V])
            scores, idx = tf.math.top_k(total, K)                          # (B, K)
            beam, token = idx // V, idx % V
            gather = lambda x: tf.gather(x, beam, batch_dims=1)
            was_done = gather(done)
            seqs = gather(seqs)
            token = tf.where(was_done, self.pad_id, token)
            at_t = tf.one_hot(t, max_length, dtype=tf.int32)
            seqs = seqs + (token - self.pad_id)[:, :, None] * at_t
            aligned = tf.where(was_done, 0, gather(tf.reshape(aligned, [B, K])))  # end: 0
            aligns = gather(aligns) + aligned[:, :, None] * at_t
            lengths = gather(lengths) + tf.cast(tf.logical_not(was_done), tf.float32)
            done = tf.logical_or(was_done, tf.equal(token, self.eos_id))
            flat = tf.reshape(beam + K * tf.range(B)[:, None], [-1])
            states = [tf.gather(s, flat) for s in states]
            y = tf.reshape(tf.where(done, self.eos_id, token), [-1])
            return t + 1, y, states, scores, seqs, aligns, done, lengths

        loop_vars = (tf.constant(0), y, states, scores, seqs, aligns, done, lengths)
        # the batch axis is dynamic after the first beam gather
        invariants = tf.nest.map_structure(
            lambda v: tf.TensorShape([None] * v.shape.rank if v.shape.rank else []),
            loop_vars)
        _, _, _, scores, seqs, aligns, done, lengths = tf.while_loop(
            lambda t, y, s, sc, sq, al, done, ln: tf.logical_and(
                t < max_length, tf.logical_not(tf.reduce_all(done))),
            body, loop_vars, shape_invariants=invariants, maximum_iterations=max_length)
        normed = scores / tf.pow(tf.maximum(lengths, 1.0), length_penalty)
        best = tf.argmax(normed, -1, output_type=tf.int32)
        return tf.gather(seqs, best, batch_dims=1), tf.gather(aligns, best, batch_dims=1)

    def get_config(self):
        return {"source_vocab": self.source_vocab, "target_vocab": self.target_vocab,
                "units": self.units, "cell": self.cell_name,
                "embedding_dim": self.embedding_dim, "attention": self.use_attention,
                "pad_id": self.pad_id, "bos_id": self.bos_id, "eos_id": self.eos_id,
                "source_embedding_dim": self.source_embedding_dim, "name": self.name,
                "char_lm": char_embedding.serialize(self.char_lm)}

    @classmethod
    def from_config(cls, config):
        return char_embedding.from_config(cls, config)


def encoder_decoder(source_vocab, target_vocab, **kwargs):
    """Builds an `EncoderDecoder` (see its Args)."""
    model = EncoderDecoder(source_vocab, target_vocab, **kwargs)
    model.build()
    return model
