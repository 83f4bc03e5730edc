"""The standard Keras model a user would write for each task, trained on *our* transform
artifacts (same vocabularies, same splits, same metrics) under a wall-time budget.

Adam 1e-3, clipnorm 5, no tuning, as in the issue's orientation table. Each function
returns {"model", "parameters", "train_seconds", "validation": {...}, "test": {...}}.

Every baseline keeps the weights of its epoch with the lowest validation loss
(`best_weights`), as our pipeline keeps its best validation checkpoint: on a fast machine
a budget buys many passes over a small training set, and the last weights overfit.

ARTIFACTS_ONLY names the functions whose result depends on nothing but the transform
artifacts, `config.train.batch_size`, the budget and their keyword arguments (not on
`config.model`): results_table.py trains one of them once per run when two tasks ask for it
with equal inputs.
"""

import time

import keras
import numpy as np
import tensorflow as tf

from pipelines import ingest
from pipelines.tasks import base


ARTIFACTS_ONLY = frozenset({"char_lm", "sentiment_bigru", "sentiment_tfidf", "upos_bilstm",
                            "music_gru"})


class Budget(keras.callbacks.Callback):
    """Stops fit() once `seconds` of training have passed."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if time.time() - self.start >= self.seconds:
            self.model.stop_training = True


def best_weights():
    """Keras's EarlyStopping, set never to stop: the budget decides when training ends, the
    validation split which epoch's weights are kept and put back when fit() ends (our
    pipeline selects by validation the same way)."""
    return keras.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=2**62,
                                         restore_best_weights=True)


def _adam():
    return keras.optimizers.Adam(1e-3, clipnorm=5.0)


def _fit(model, x, y, budget, batch_size, sample_weight=None, validation_data=None,
         epochs=100000):
    """Trains until `budget` seconds have passed (or `epochs` epochs). With
    `validation_data` the weights of the epoch with the lowest validation loss are kept
    (`best_weights`)."""
    start = time.time()
    callbacks = [Budget(budget)] + ([best_weights()] if validation_data is not None else [])
    model.fit(x, y, sample_weight=sample_weight, batch_size=batch_size, epochs=epochs,
              callbacks=callbacks, verbose=0, shuffle=True, validation_data=validation_data)
    return round(time.time() - start, 1)


def _dense(ragged):
    return ragged.to_tensor(0).numpy()


def _result(name, model, seconds, val, test):
    return {"model": name, "parameters": int(model.count_params()),
            "train_seconds": seconds, "validation": val, "test": test}


# ------------------------------------------------------------------ char LM
def char_lm(config, workdir, budget, task, cell="SimpleRNN", units=512):
    vocab = base.load_meta(task, workdir)["vocab"]
    arrays = {s: base.load_features(workdir, s) for s in base.SPLITS}
    V = len(vocab)
    tr = arrays["train"]
    x = tr["inputs"].reshape(-1, tr["inputs"].shape[-1])
    y = tr["targets"].reshape(x.shape)
    w = tr["mask"].reshape(x.shape).astype(np.float32)
    layer = {"SimpleRNN": keras.layers.SimpleRNN, "GRU": keras.layers.GRU}[cell]
    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              keras.layers.Embedding(V, 64),
                              layer(units, return_sequences=True),
                              keras.layers.Dense(V)])
    model.compile(_adam(), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    va = arrays["validation"]                    # validation loss weighted by the mask
    seconds = _fit(model, x, y, budget, config.train.batch_size, w,
                   validation_data=(va["inputs"], va["targets"],
                                    va["mask"].astype(np.float32)))

    def nats(split):
        a = arrays[split]
        logits = model.predict(a["inputs"], batch_size=256, verbose=0)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(a["targets"], logits).numpy()
        return {"nats_per_char": float((nll * a["mask"]).sum() / a["mask"].sum())}
    return _result(f"Embedding(64) + {cell}({units})", model, seconds, nats("validation"),
                   nats("test"))


# ------------------------------------------------------------------ classify
def sentiment_bigru(config, workdir, budget, task):
    base.load_meta(task, workdir)
    V = len(task.meta["vocab"])
    f = {s: base.load_features(workdir, s) for s in base.SPLITS}
    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              keras.layers.Embedding(V, 64, mask_zero=True),
                              keras.layers.Bidirectional(keras.layers.GRU(64)),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(_adam(), "binary_crossentropy", metrics=["accuracy"])
    seconds = _fit(model, _dense(f["train"]["ids"]), f["train"]["label"], budget, 32,
                   validation_data=(_dense(f["validation"]["ids"]),
                                    f["validation"]["label"]))

    def acc(split):
        p = model.predict(_dense(f[split]["ids"]), verbose=0)[:, 0]
        return {"accuracy": float(((p > 0.5) == f[split]["label"]).mean())}
    return _result("Embedding(64) + Bidirectional(GRU(64))", model, seconds, acc("validation"),
                   acc("test"))


def sentiment_tfidf(config, workdir, budget, task):
    texts = {s: [e["sentence"] for e in ingest.load_examples(config, workdir, s)]
             for s in base.SPLITS}
    labels = {s: np.array([e["label"] for e in ingest.load_examples(config, workdir, s)])
              for s in base.SPLITS}
    vec = keras.layers.TextVectorization(output_mode="tf_idf", ngrams=2)
    vec.adapt(texts["train"])
    x = {s: vec(tf.constant(t)).numpy() for s, t in texts.items()}
    model = keras.Sequential([keras.Input((x["train"].shape[1],)),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(_adam(), "binary_crossentropy")
    # logistic regression converges in seconds; the budget is a cap, not a target
    seconds = _fit(model, x["train"], labels["train"], budget, 32, epochs=60,
                   validation_data=(x["validation"], labels["validation"]))

    def acc(split):
        p = model.predict(x[split], verbose=0)[:, 0]
        return {"accuracy": float(((p > 0.5) == labels[split]).mean())}
    return _result("tf-idf (1-2 grams) logistic regression", model, seconds,
                   acc("validation"), acc("test"))


# ------------------------------------------------------------------ tag
def upos_bilstm(config, workdir, budget, task):
    base.load_meta(task, workdir)
    f = {s: base.load_features(workdir, s) for s in base.SPLITS}
    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              keras.layers.Embedding(len(task.meta["vocab"]), 100,
                                                     mask_zero=True),
                              keras.layers.Bidirectional(keras.layers.LSTM(
                                  128, return_sequences=True)),
                              keras.layers.Dense(len(task.meta["tags"]))])
    model.compile(_adam(), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = _dense(f["train"]["word_ids"])
    xv = _dense(f["validation"]["word_ids"])
    seconds = _fit(model, x, _dense(f["train"]["tags"]), budget, 32,
                   (x > 0).astype(np.float32),
                   validation_data=(xv, _dense(f["validation"]["tags"]),
                                    (xv > 0).astype(np.float32)))

    def acc(split):
        x = _dense(f[split]["word_ids"])
        pred = model.predict(x, batch_size=128, verbose=0).argmax(-1)
        m = x > 0
        return {"accuracy": float((pred == _dense(f[split]["tags"]))[m].mean())}
    return _result("Embedding(100) + Bidirectional(LSTM(128))", model, seconds,
                   acc("validation"), acc("test"))


# ------------------------------------------------------------------ seq2seq
def seq2seq_bilstm(config, workdir, budget, task, encoder_units=64, units=128):
    """The issue's dates baseline: a Bidirectional(LSTM(64)) encoder whose final states
    start an LSTM(128) decoder."""
    return seq2seq_gru(config, workdir, budget, task, units=units, cell="LSTM",
                       encoder_units=encoder_units)


def seq2seq_gru(config, workdir, budget, task, units=None, cell="GRU", encoder_units=None):
    from pipelines.tasks.seq2seq import BOS_ID
    base.load_meta(task, workdir)
    m = config.model
    units = units or m.units
    Vs, Vt = len(task.meta["source_vocab"]), len(task.meta["target_vocab"])
    src = keras.Input((None,), dtype="int32")
    tgt = keras.Input((None,), dtype="int32")
    enc_emb = keras.layers.Embedding(Vs, m.embedding_dim, mask_zero=True)
    dec_emb = keras.layers.Embedding(Vt, m.embedding_dim)
    layer = {"GRU": keras.layers.GRU, "LSTM": keras.layers.LSTM}[cell]
    n_states = 2 if cell == "LSTM" else 1
    if encoder_units:                  # bidirectional: [forward; backward] final states
        encoder = keras.layers.Bidirectional(layer(encoder_units, return_state=True))
        outs = encoder(enc_emb(src))[1:]
        half = len(outs) // 2
        state = [keras.layers.Concatenate()([outs[i], outs[half + i]])
                 for i in range(half)]
    else:
        encoder = layer(units, return_state=True)
        state = encoder(enc_emb(src))[1:]
    decoder = layer(units, return_sequences=True, return_state=True)
    dense = keras.layers.Dense(Vt)
    seq = decoder(dec_emb(tgt), initial_state=state)[0]
    model = keras.Model([src, tgt], dense(seq))
    model.compile(_adam(), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    f = {s: base.load_features(workdir, s) for s in base.SPLITS}
    def xyw(split):                      # teacher forcing; padding weighs nothing
        y = _dense(f[split]["target_out"])
        return ([_dense(f[split]["source"]), _dense(f[split]["target_in"])], y,
                (y > 0).astype(np.float32))
    x, y, w = xyw("train")
    seconds = _fit(model, x, y, budget, config.train.batch_size, w,
                   validation_data=xyw("validation"))
    # greedy decoding, one step per call
    enc_model = keras.Model(src, state)
    step_in = keras.Input((1,), dtype="int32")
    state_in = [keras.Input((units,)) for _ in range(n_states)]
    out = decoder(dec_emb(step_in), initial_state=state_in)
    step_model = keras.Model([step_in] + state_in, [dense(out[0])[:, 0]] + list(out[1:]))
    vocab = tf.constant(task.meta["target_vocab"])

    def run(split):
        source = _dense(f[split]["source"])
        outs = []
        for i in range(0, len(source), 512):
            s = enc_model.predict(source[i:i + 512], verbose=0)
            s = [np.asarray(v) for v in (s if isinstance(s, (list, tuple)) else [s])]
            y = np.full((len(s[0]), 1), BOS_ID, np.int32)
            ids = []
            for _ in range(m.max_target_len + 1):
                res = step_model.predict_on_batch([y] + s)
                y = np.asarray(res[0]).argmax(-1).astype(np.int32)[:, None]
                s = [np.asarray(v) for v in res[1:]]
                ids.append(y[:, 0])
            ids = tf.constant(np.stack(ids, 1))
            outs.extend(s.decode() for s in task.ids_to_strings(
                ids, tf.gather(vocab, ids)).numpy())
        refs = [str(r) for r in f[split]["text_target"]]
        return task.text_metrics(outs, refs)
    encoder_name = (f"Bidirectional({cell}({encoder_units}))" if encoder_units
                    else f"{cell}({units})")
    return _result(f"Embedding({m.embedding_dim}) + {encoder_name} encoder, {cell}({units}) "
                   "decoder", model, seconds, run("validation"), run("test"))


# ------------------------------------------------------------------ music
def music_gru(config, workdir, budget, task, units=128):
    base.load_meta(task, workdir)
    P = task.pitches
    f = {s: base.load_features(workdir, s) for s in base.SPLITS}
    model = keras.Sequential([keras.Input((None, P)), keras.layers.GRU(units,
                                                                       return_sequences=True),
                              keras.layers.Dense(P)])

    def xyw(split):
        roll = f[split]["roll"].to_tensor(0.0).numpy()
        x = np.concatenate([np.zeros_like(roll[:, :1]), roll[:, :-1]], 1)
        w = (np.arange(roll.shape[1])[None] < f[split]["length"][:, None]).astype(np.float32)
        return x, roll, w

    def loss(y, logits):                 # Σ over pitches of the logistic loss, per step
        return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(
            labels=y, logits=logits), -1)
    model.compile(_adam(), loss)
    x, y, w = xyw("train")
    seconds = _fit(model, x, y, budget, config.train.batch_size, w,
                   validation_data=xyw("validation"))

    def nats(split):
        x, y, w = xyw(split)
        per_step = loss(y, model.predict(x, verbose=0)).numpy()
        return {"nats_per_step": float((per_step * w).sum() / w.sum())}
    return _result(f"GRU({units}) + Dense(sigmoid)", model, seconds, nats("validation"),
                   nats("test"))
