"""rnn_tf.CharLMEmbedding: contextual string embeddings from a forward and a backward
character LM, against the NumPy RNN oracle; frozen or fine-tuned; saved with Keras and
exported in a SavedModel that answers in a process without rnn_tf."""

import json
import os
import subprocess
import sys
import zlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnn_tf
from rnn_tf.char_embedding import word_spans
from rnn_tf.models import LanguageModel
from tests import rnn_oracle

V, H = 8, 5
TEXTS = ["ab cde f", "gg a", "b"]          # characters a..g are ids 1..7, space is 0


def _ids(text):
    return [0 if c == " " else ord(c) - ord("a") + 1 for c in text]


def _batch():
    C = max(len(t) for t in TEXTS)
    chars = np.zeros((len(TEXTS), C), np.int32)
    spans = [word_spans(t) for t in TEXTS]
    W = max(len(s) for s, _ in spans)
    starts, ends = np.zeros((len(TEXTS), W), np.int32), np.zeros((len(TEXTS), W), np.int32)
    for i, t in enumerate(TEXTS):
        chars[i, :len(t)] = _ids(t)
        starts[i, :len(spans[i][0])], ends[i, :len(spans[i][1])] = spans[i]
    return chars, starts, ends, np.array([len(t) for t in TEXTS], np.int32), spans


def _lms(seed):
    rng = np.random.default_rng(seed)
    lms = [LanguageModel(V, units=H, name=n) for n in ("forward", "backward")]
    for lm in lms:
        lm(tf.zeros([1, 1], tf.int32))
        lm.set_weights([rng.normal(0, 0.5, w.shape) for w in lm.get_weights()])
    return lms


def _oracle_states(lm, text):
    """The LM's states over `text`'s ids, NumPy: [len(text), H]."""
    W_ax, W_aa, b_a = [w.astype(np.float64) for w in lm.rnn_0.get_weights()]
    x = np.eye(V)[_ids(text)][None]
    out, _, _ = rnn_oracle.forward(x, W_ax, W_aa, b_a, np.zeros((1, H)))
    return out[0]


def test_word_spans_are_first_and_last_character_indices():
    assert word_spans("ab cde f") == ([0, 3, 7], [1, 5, 7])
    assert word_spans(" a  bc ") == ([1, 4], [1, 5])


def test_features_equal_the_numpy_oracle_of_both_lms():
    forward, backward = _lms(zlib.crc32(b"char lm embedding"))
    layer = rnn_tf.CharLMEmbedding(forward, backward)
    chars, starts, ends, lengths, spans = _batch()
    got = layer(chars, starts, ends, lengths).numpy()
    assert got.shape == (len(TEXTS), starts.shape[1], 2 * H)
    for i, text in enumerate(TEXTS):
        f = _oracle_states(forward, text)
        b = _oracle_states(backward, text[::-1])[::-1]   # row t: read len-1 .. t
        for w, (s, e) in enumerate(zip(*spans[i])):
            np.testing.assert_allclose(got[i, w, :H], f[e], atol=1e-5)
            np.testing.assert_allclose(got[i, w, H:], b[s], atol=1e-5)
    # padding after a sentence changes nothing of its words
    longer = np.pad(chars, [[0, 0], [0, 4]], constant_values=3)
    np.testing.assert_allclose(layer(longer, starts, ends, lengths).numpy(), got, atol=1e-6)


def test_frozen_by_default_and_fine_tuned_on_request():
    forward, backward = _lms(1)
    frozen = rnn_tf.CharLMEmbedding(forward, backward)
    chars, starts, ends, lengths, _ = _batch()
    frozen(chars, starts, ends, lengths)
    assert frozen.trainable_weights == [] and len(frozen.non_trainable_weights) == 10
    # inside a model too: a frozen layer's weights are not the model's to train, whether
    # its LMs were built before it (here) or by it (from unbuilt LMs)
    for layer in (frozen, rnn_tf.CharLMEmbedding(LanguageModel(V, units=H),
                                                 LanguageModel(V, units=H))):
        c, s, e = (keras.Input((None,), dtype="int32") for _ in range(3))
        model = keras.Model([c, s, e], keras.layers.Dense(2)(layer(c, s, e)))
        assert [w.path.split("/")[-1] for w in model.trainable_weights] == ["kernel", "bias"]
    tuned = rnn_tf.CharLMEmbedding(*_lms(2), trainable=True)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tuned(chars, starts, ends, lengths) ** 2)
    grads = tape.gradient(loss, tuned.trainable_weights)
    # both LMs' recurrent layers get a gradient (the heads are not used)
    assert sum(g is not None and float(tf.norm(g)) > 0 for g in grads) == 6


def test_bad_arguments_are_one_line_errors():
    forward, _ = _lms(3)
    with pytest.raises(ValueError, match="backward_lm=.*is not an rnn_tf.models.LanguageModel"):
        rnn_tf.CharLMEmbedding(forward, keras.layers.Dense(3))
    other = LanguageModel(V, units=H + 1)
    other(tf.zeros([1, 1], tf.int32))
    with pytest.raises(ValueError, match="the LMs differ: forward vocab_size=8, units=5"):
        rnn_tf.CharLMEmbedding(forward, other)
    with pytest.raises(ValueError, match=r"char_lm_dropout must be in \[0, 1\); received "
                                         "char_lm_dropout=1.0"):
        rnn_tf.models.many_to_one(V, 1, units=H, char_lm=rnn_tf.CharLMEmbedding(*_lms(4)),
                                  char_lm_dropout=1.0)


def test_saves_with_keras_and_exports_for_a_process_without_rnn_tf(tmp_path):
    forward, backward = _lms(4)
    forward.save(str(tmp_path / "forward.keras"))
    backward.save(str(tmp_path / "backward.keras"))
    # loaded from the LMs' .keras files, inside a model that adds a head
    chars_in = keras.Input((None,), dtype="int32")
    starts_in = keras.Input((None,), dtype="int32")
    ends_in = keras.Input((None,), dtype="int32")
    feats = rnn_tf.CharLMEmbedding(str(tmp_path / "forward.keras"),
                                   str(tmp_path / "backward.keras"))(chars_in, starts_in,
                                                                     ends_in)
    model = keras.Model([chars_in, starts_in, ends_in], keras.layers.Dense(3)(feats))
    chars, starts, ends, lengths, _ = _batch()
    full = np.full_like(lengths, chars.shape[1])
    want = model([chars, starts, ends]).numpy()
    ref = rnn_tf.CharLMEmbedding(forward, backward)(chars, starts, ends, full).numpy()
    np.testing.assert_allclose(model.layers[3](chars, starts, ends).numpy(), ref, atol=1e-6)
    model.save(str(tmp_path / "tagger.keras"))
    again = keras.saving.load_model(str(tmp_path / "tagger.keras"))
    np.testing.assert_allclose(again([chars, starts, ends]).numpy(), want, atol=1e-6)

    module = tf.Module()
    module.model = model
    module.serve = tf.function(
        lambda c, s, e: {"scores": model([c, s, e])},
        input_signature=[tf.TensorSpec([None, None], tf.int32)] * 3)
    tf.saved_model.save(module, str(tmp_path / "export"),
                        signatures={"serving_default": module.serve})
    code = ("import json, sys; import tensorflow as tf; "
            "m = tf.saved_model.load(sys.argv[1]); a = json.loads(sys.argv[2]); "
            "out = m.signatures['serving_default'](c=tf.constant(a[0]), "
            "s=tf.constant(a[1]), e=tf.constant(a[2]))['scores']; "
            "print(json.dumps(out.numpy().tolist())); "
            "print('rnn_tf' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "export"),
                          json.dumps([chars.tolist(), starts.tolist(), ends.tolist()])],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "False"
    np.testing.assert_allclose(np.array(json.loads(lines[-2])), want, atol=1e-5)


@pytest.mark.data("spa_eng", "ud_english_ewt", "sentiment_labelled_sentences",
                  "tiny_shakespeare")
def test_english_corpus_holds_training_text_only():
    """`english_text` (configs/char_lm_english.py's corpus): every source is there, and no
    sentence of any task's validation or test split is, unless the same sentence is also
    in that task's train split."""
    from pipelines.datasets import english_text, sentiment_labelled_sentences, spa_eng
    from pipelines.datasets import files, ud_english_ewt
    from tests.data import DATA
    docs = {s: english_text.read_source(s, DATA) for s in english_text.SOURCES}
    assert all(docs.values()) and sum(len(d) for v in docs.values() for d in v) > 4_000_000
    lines = {s: {line for d in v for line in d.split("\n")} for s, v in docs.items()}
    held, train = {s: set() for s in docs}, {s: set() for s in docs}
    for _, line in files.lines(os.path.join(DATA, "spa_eng", "spa_eng_train.txt.gz")):
        english = line.split("\t")[0].strip()
        (train if spa_eng.split_of(english) == "train" else held)["spa_eng"].add(english)
    ewt = os.path.join(DATA, "ud_english_ewt")
    for sid, forms, _ in ud_english_ewt.read_conllu(os.path.join(ewt,
                                                                 "en_ewt-ud-train.conllu.gz")):
        (held if ud_english_ewt.is_validation(sid) else train)["ud_english_ewt"].add(
            " ".join(forms))
    held["ud_english_ewt"] |= {" ".join(f) for _, f, _ in ud_english_ewt.read_conllu(
        os.path.join(ewt, "en_ewt-ud-dev.conllu"))}
    rows = sentiment_labelled_sentences.read_lines(
        os.path.join(DATA, "sentiment_labelled_sentences"))
    for name, idx in sentiment_labelled_sentences.split_indices(len(rows)).items():
        (train if name == "train" else held)["sentiment"].update(rows[i][1] for i in idx)
    for source in ("spa_eng", "ud_english_ewt", "sentiment"):
        leaked = (held[source] - train[source]) & lines[source]
        assert len(held[source]) > 150 and not leaked, (source, sorted(leaked)[:5])
    text = files.read_text(os.path.join(DATA, "tiny_shakespeare", "input.txt"))
    shakespeare = "".join(docs["tiny_shakespeare"])
    assert len(shakespeare) <= int(len(text) * 0.9)
    assert text[int(len(text) * 0.9):][:300] not in shakespeare


def test_lm_export_files_load_into_char_lm_embedding_and_backward_reads_reversed(
        tmp_path, monkeypatch):
    """The LM task's `after_export` writes char_lm.keras and char_lm_vocab.json, which
    CharLMEmbedding loads; with data.reverse the task reads every document backwards."""
    from configs import default
    from pipelines import ingest
    from pipelines.tasks import lm
    monkeypatch.setattr(ingest, "load_texts", lambda config, workdir, split: ["abc d", "ef"])
    forward, backward = (lm.LMTask(default.get_config("tiny")) for _ in range(2))
    backward.config.data.reverse = True
    assert forward.read("unused", "train") == ["abc d", "ef"]
    assert backward.read("unused", "train") == ["d cba", "fe"]
    paths = []
    for task, name in ((forward, "forward"), (backward, "backward")):
        task.meta = {"vocab": ["[UNK]", " ", "a", "b", "c", "d", "e", "f"]}
        model = LanguageModel(8, units=H, name=name)
        model(tf.zeros([1, 2], tf.int32))
        out = tmp_path / name
        out.mkdir()
        task.after_export(str(tmp_path), str(out), model)
        assert json.loads((out / lm.VOCAB_FILE).read_text()) == {
            "vocab": task.meta["vocab"], "reverse": task.config.data.reverse}
        paths.append(str(out / lm.KERAS_FILE))
        loaded = keras.saving.load_model(paths[-1])
        loaded(tf.zeros([1, 2], tf.int32))
        for a, b in zip(loaded.weights, model.weights, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    layer = rnn_tf.CharLMEmbedding(*paths)
    assert layer(np.array([[2, 3, 1, 4]]), np.array([[0, 3]]), np.array([[1, 3]])).shape \
        == (1, 2, 2 * H)


@pytest.mark.data("spa_eng", "ud_english_ewt", "sentiment_labelled_sentences",
                  "tiny_shakespeare")
def test_english_lm_config_records_its_corpus_and_reads_backwards(tmp_path):
    """configs/char_lm_english.py:tiny_backward through ingest and transform: the ingest
    manifest records each source and the corpus hash, and the backward LM's training
    text is the corpus reversed."""
    from configs import char_lm_english
    from pipelines import common, ingest
    from pipelines.datasets import english_text
    from pipelines.train import run_pipeline
    config = char_lm_english.get_config("tiny_backward")
    assert config.data.reverse and char_lm_english.get_config("tiny").data.reverse is False
    workdir = str(tmp_path / "english")
    run_pipeline(config, workdir, ["ingest", "transform"], log=lambda *a: None)
    corpus = common.read_manifest(workdir, "ingest")["metrics"]["corpus"]
    assert set(corpus) == set(english_text.SOURCES) | {"all"}
    assert corpus["all"]["chars"] == sum(corpus[s]["chars"] for s in english_text.SOURCES)
    assert all(len(c["sha256"]) == 64 for c in corpus.values())
    forward = ingest.load_texts(config, workdir, "train")
    vocab = common.read_json(os.path.join(workdir, "transform", "meta.json"))["vocab"]
    stream = np.load(os.path.join(workdir, "transform", "train.npz"))["stream/dense"]
    text = "".join(vocab[i] for i in stream[:200])
    assert text == forward[0][::-1][:200]


def _save_lm_pair(tmp_path, vocab, units=4):
    """A tiny forward and backward LM saved as the LM task exports them; their paths."""
    paths = []
    for name, reverse in (("forward", False), ("backward", True)):
        lm = LanguageModel(len(vocab), units=units, name=name)
        lm(tf.zeros([1, 1], tf.int32))
        out = tmp_path / name
        out.mkdir()
        lm.save(str(out / "char_lm.keras"))
        (out / "char_lm_vocab.json").write_text(json.dumps({"vocab": vocab,
                                                            "reverse": reverse}))
        paths.append(str(out / "char_lm.keras"))
    return paths


def test_tagger_lm_features_are_the_words_spans_in_the_joined_sentence():
    from pipelines import text
    from pipelines.tasks.tag import lm_features
    sentences = [["The", "cat", "sat", "."], ["Hé", "ünï"], ["x"]]
    vocab = ["[UNK]", " ", ".", "T", "a", "c", "e", "h", "s", "t", "x", "é"]
    table = text.lookup_table(vocab, unk_id=0)
    out = lm_features(tf.ragged.constant(sentences), table)
    for i, words in enumerate(sentences):
        joined = " ".join(words)
        starts, ends = word_spans(joined)
        assert out["word_starts"][i].numpy().tolist() == starts
        assert out["word_ends"][i].numpy().tolist() == ends
        assert out["lm_chars"][i].numpy().tolist() == [
            vocab.index(c) if c in vocab else 0 for c in joined]
        assert out["lm_lengths"][i].numpy() == len(joined)


@pytest.mark.data("ud_english_ewt")
def test_tagger_with_frozen_char_lm_features_trains_and_exports(tmp_path):
    """configs/upos.py:tiny with model.char_lm: the tagger reads the LMs' states, keeps
    them frozen, and its export answers with the LMs inside; a pair in the wrong order is
    a one-line error."""
    import string
    from configs import upos
    from pipelines import common
    from pipelines.tasks import tag
    from pipelines.train import STAGES, run_pipeline
    vocab = ["[UNK]"] + sorted(set(string.printable) - set("\t\n\r\x0b\x0c"))
    forward, backward = _save_lm_pair(tmp_path, vocab)
    with pytest.raises(common.UserError, match="name the forward LM first"):
        tag.char_lm_vocab((backward, forward))
    config = upos.get_config("tiny")
    config.model.char_lm = (forward, backward)
    config.train.steps = 10
    workdir = str(tmp_path / "run")
    results = run_pipeline(config, workdir, list(STAGES), log=lambda *a: None)
    from pipelines.tasks import base, pretrained
    task = tag.TagTask(config)
    model = base.load_best(task, workdir)
    assert model.char_lm is not None and not model.char_lm.trainable
    # training read the frozen LMs' states computed once (`lm_row` into one table); they
    # are the states the model's own LMs give, which the export runs
    splits = {s: base.load_features(workdir, s) for s in ("train", "validation")}
    prepared = task.prepare_features(splits)
    assert "lm_row" in prepared["train"] and not set(pretrained.LM_KEYS) & set(
        prepared["validation"])
    stored = next(iter(task.dataset(prepared["validation"], 8)))
    raw = next(iter(task.dataset(splits["validation"], 8)))
    assert len(task.inputs(stored)) == 3 and len(task.inputs(raw)) == 6
    np.testing.assert_allclose(model(task.inputs(stored)), model(task.inputs(raw)),
                               atol=1e-5)
    trainable = {id(w) for w in model.trainable_weights}
    assert not any(id(w) in trainable for w in model.char_lm.weights)
    lm = keras.saving.load_model(forward)
    for a, b in zip(model.char_lm.forward_lm.weights, lm.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())          # frozen in training
    # the first BiRNN reads the word and character-encoder features and both LMs' states
    m = config.model
    birnn = model.get_layer("birnn_0")
    assert birnn.forward_layer.weights[0].shape[0] == m.word_dim + 2 * m.char_units + 2 * 4, \
        [w.shape for w in birnn.weights]
    serve = tf.saved_model.load(os.path.join(results["export"], "saved_model")
                                ).signatures["serving_default"]
    tags = serve(sentences=tf.constant(["I saw a cat .", "Hello"]))["tags"].numpy()
    assert [len(t.decode().split()) for t in tags] == [5, 1]


@pytest.mark.data("sentiment_labelled_sentences")
def test_classifier_with_char_lm_features_trains_and_exports(tmp_path):
    """configs/sentiment.py:tiny with model.char_lm: the classifier reads the LMs' states
    of its tokens as written, keeps the LMs frozen, and its export answers, an empty
    sentence included."""
    import string
    from configs import sentiment
    from pipelines.tasks import base, classify
    from pipelines.train import STAGES, run_pipeline
    vocab = ["[UNK]"] + sorted(set(string.printable) - set("\t\n\r\x0b\x0c"))
    forward, backward = _save_lm_pair(tmp_path, vocab)
    config = sentiment.get_config("tiny")
    config.model.char_lm = (forward, backward)
    config.model.char_lm_dropout = 0.5
    config.train.steps = 10
    results = run_pipeline(config, str(tmp_path / "run"), list(STAGES), log=lambda *a: None)
    task = classify.ClassifyTask(config)
    model = base.load_best(task, str(tmp_path / "run"))
    assert model.get_layer("char_lm_dropout").rate == 0.5
    layer = model.get_layer("char_lm")
    assert not layer.trainable and not {id(w) for w in layer.weights} & {
        id(w) for w in model.trainable_weights}
    lm = keras.saving.load_model(forward)
    for a, b in zip(layer.forward_lm.weights, lm.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())          # frozen in training
    words = task.lm_words(tf.constant(["Great phone, it's OK.", "", "?!"])).to_list()
    assert words == [[b"Great", b"phone", b",", b"it", b"'", b"s", b"OK", b"."], [b"unk"],
                     [b"?", b"!"]]
    serve = tf.saved_model.load(os.path.join(results["export"], "saved_model")
                                ).signatures["serving_default"]
    p = serve(sentences=tf.constant(["Great phone!", "", "bad"]))["probability"].numpy()
    assert p.shape == (3,) and np.all((p > 0) & (p < 1))
