"""Stage 2, transform: the character vocabulary (train split only) and the model inputs.

Artifact `<workdir>/transform/`:
  vocab.json   characters in id order; id 0 is [UNK], the stated rule for characters that
               are not in the training vocabulary (also used as padding, always masked)
  train.npz    truncated-BPTT batches: inputs, targets <int32>[N, B, T], mask <bool>[N,B,T]
               and reset <bool>[N, B] (True where a row starts a new document); and, for
               random windows (train.windows='random'), stream <int32>[chars], the training
               documents end to end, with starts <int64>[M], every position where a window
               of T+1 characters fits inside one document
  validation.npz, test.npz   evaluation windows: inputs, targets, mask <[N, window]>

The same vocabulary is applied in-graph at serving time (export.py), so serving sees
exactly the ids that training saw.
"""

import os

import numpy as np

from pipelines import common, ingest

UNK = "[UNK]"


def build_vocab(train_texts):
    """[UNK] then the sorted characters of the training split."""
    return [UNK] + sorted(set("".join(train_texts)))


def encode(text, char_to_id):
    return np.array([char_to_id.get(ch, 0) for ch in text], np.int32)


def windows(ids, window):
    """Non-overlapping windows of `window` predicted characters of one document:
    inputs = ids[i:i+window], targets = ids[i+1:i+window+1]; the last is padded (mask)."""
    n = len(ids) - 1
    rows = []
    for start in range(0, max(n, 0), window):
        x = ids[start:start + window]
        y = ids[start + 1:start + window + 1]
        k = len(y)
        pad = window - k
        rows.append((np.pad(x[:k], (0, pad)), np.pad(y, (0, pad)),
                     np.arange(window) < k))
    return rows


def tbptt_batches(docs, batch_size, seq_len, seed):
    """Packs documents into `batch_size` rows of consecutive windows, so the state of one
    window can start the next (truncated BPTT). A row's state is reset where a new
    document (or piece of one) starts. Pieces go longest-first to the row with the least
    text."""
    rng = np.random.default_rng(seed)
    # A document longer than its share of a row is cut into row-sized pieces (a piece
    # starts with a reset), so one long corpus still fills every row.
    share = -(-sum(len(d) for d in docs) // batch_size)
    share = max(seq_len, -(-share // seq_len) * seq_len)
    docs = [d[i:i + share + 1] for d in docs for i in range(0, max(len(d) - 1, 1), share)]
    order = rng.permutation(len(docs))
    rows = [[] for _ in range(batch_size)]
    loads = np.zeros(batch_size, np.int64)
    for i in sorted(order, key=lambda i: -len(docs[i])):
        r = int(np.argmin(loads))
        doc_windows = windows(docs[i], seq_len)
        for k, w in enumerate(doc_windows):
            rows[r].append(w + (k == 0,))
        loads[r] += len(doc_windows)
    n = int(loads.max())
    empty = (np.zeros(seq_len, np.int32), np.zeros(seq_len, np.int32),
             np.zeros(seq_len, bool), True)
    for row in rows:
        row.extend([empty] * (n - len(row)))
    inputs, targets, mask, reset = (np.stack([np.stack([row[t][j] for row in rows])
                                              for t in range(n)]) for j in range(4))
    return dict(inputs=inputs, targets=targets, mask=mask, reset=reset)


def window_starts(docs, seq_len):
    """The training documents end to end, and every start of a window of seq_len + 1
    characters (inputs and shifted targets) that lies inside one document."""
    stream = np.concatenate(docs).astype(np.int32) if docs else np.zeros(0, np.int32)
    starts, offset = [], 0
    for d in docs:
        if len(d) > seq_len:
            starts.append(offset + np.arange(len(d) - seq_len, dtype=np.int64))
        offset += len(d)
    return dict(stream=stream,
                starts=np.concatenate(starts) if starts else np.zeros(0, np.int64))


def eval_windows(docs, window):
    rows = [w for d in docs for w in windows(d, window)]
    inputs, targets, mask = (np.stack([r[j] for r in rows]) for j in range(3))
    return dict(inputs=inputs, targets=targets, mask=mask)


def _save_npz(path, arrays):
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def run(config, workdir):
    """Builds the vocabulary and arrays; returns the transform artifact directory."""
    ingest_manifest = common.read_manifest(workdir, "ingest")
    section = {"data": config.data.to_dict(), "batch_size": config.train.batch_size,
               "seq_len": config.train.seq_len, "window": config.eval.window,
               "seed": config.train.seed, "format": 2}   # 2: train.npz has stream, starts
    inputs = common.fingerprint({"ingest": ingest_manifest["inputs_fingerprint"],
                                 "section": section})
    out = common.stage_dir(workdir, "transform")
    if common.up_to_date(workdir, "transform", inputs):
        return out
    started = common.now_iso()
    texts = {s: ingest.load_texts(config, workdir, s) for s in ("train", "validation", "test")}
    vocab = build_vocab(texts["train"])
    char_to_id = {ch: i for i, ch in enumerate(vocab) if i > 0}
    docs = {s: [encode(t, char_to_id) for t in ts] for s, ts in texts.items()}
    os.makedirs(out, exist_ok=True)
    common.write_json_atomic(os.path.join(out, "vocab.json"), vocab)
    _save_npz(os.path.join(out, "train.npz"),
              {**tbptt_batches(docs["train"], config.train.batch_size, config.train.seq_len,
                               config.train.seed),
               **window_starts(docs["train"], config.train.seq_len)})
    unknown = {}
    for split in ("validation", "test"):
        _save_npz(os.path.join(out, f"{split}.npz"), eval_windows(docs[split],
                                                                  config.eval.window))
        unknown[split] = int(sum((d == 0).sum() for d in docs[split]))
    common.write_manifest(
        workdir, "transform", section, inputs, started=started,
        vocab_hash=common.fingerprint(vocab), data_fingerprint=ingest_manifest[
            "inputs_fingerprint"],
        metrics={"vocab_size": len(vocab), "unknown_chars": unknown,
                 "train_chars": int(sum(len(d) for d in docs["train"]))})
    return out


def load(workdir):
    out = common.stage_dir(workdir, "transform")
    vocab = common.read_json(os.path.join(out, "vocab.json"))
    arrays = {s: dict(np.load(os.path.join(out, f"{s}.npz")))
              for s in ("train", "validation", "test")}
    return vocab, arrays
