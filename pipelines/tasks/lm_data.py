"""The character LM's data: the vocabulary, truncated-BPTT rows, random-window starts and
evaluation windows, as NumPy arrays (the transform stage saves them).

  vocab        characters in id order; id 0 is [UNK], the stated rule for characters that
               are not in the training vocabulary (also used as padding, always masked)
  train        truncated-BPTT batches: inputs, targets <int32>[N, B, T], mask <bool>[N,B,T]
               and reset <bool>[N, B] (True where a row starts a new document); and, for
               random windows (train.windows='random'), stream <int32>[chars], the training
               documents end to end, with starts <int64>[M], every position where a window
               of T+1 characters fits inside one document
  validation, test   evaluation windows: inputs, targets, mask <[N, window]>
"""

import numpy as np

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
