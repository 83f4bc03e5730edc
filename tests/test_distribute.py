"""tf.distribute: the one loop under MirroredStrategy (2 logical CPUs) and
MultiWorkerMirroredStrategy (2 worker processes on 127.0.0.1) trains as one device does on
the same global batch; the strategies' mistakes are one line. Each run is a fresh process:
the CPU split and the collectives are set up before TensorFlow starts."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.data import by_task
from tests.events import logged

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Training without random draws (no word dropout; random windows from a zero state), so
# a replica's rows get what they get on one device.
RUNS = {
    "char_lm": ["--config=configs/default.py:tiny", "--config.train.windows=random",
                "--config.train.carry_state=False"],
    "sentiment": ["--config=configs/sentiment.py:tiny", "--config.model.word_dropout=0"],
}


def _train(task, workdir, strategy, *extra, env=None, **popen):
    command = [sys.executable, "-m", "pipelines.train", *RUNS[task], f"--workdir={workdir}",
               "--stages=ingest,transform,train", "--config.train.log_every=1",
               f"--config.train.strategy={strategy}", *extra]
    return subprocess.Popen(command, cwd=ROOT, env=dict(os.environ, **(env or {})),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)


def _finish(proc, timeout=300):
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-3000:]
    return out


def _weights(workdir):
    path = tf.train.latest_checkpoint(os.path.join(workdir, "train", "checkpoints"))
    reader = tf.train.load_checkpoint(path)
    # the weights, saved once under the first path that reaches them: the model's, or
    # (a functional model's) the optimizer's list of trainable variables
    return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()
            if n.startswith(("model/", "optimizer/_trainable_variables/"))}


def _same_training(a, b):
    loss_a, loss_b = logged(a, "loss"), logged(b, "loss")
    assert [s for s, _ in loss_a] == [s for s, _ in loss_b] and len(loss_a) >= 30
    np.testing.assert_allclose([v for _, v in loss_a], [v for _, v in loss_b], rtol=1e-5)
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys() and wa
    for k in wa:
        np.testing.assert_allclose(wa[k], wb[k], rtol=1e-4, atol=1e-6, err_msg=k)


@pytest.mark.parametrize("task", by_task(*sorted(RUNS)))
def test_mirrored_on_two_logical_cpus_trains_as_one_device(task, tmp_path):
    one, two = str(tmp_path / "default"), str(tmp_path / "mirrored")
    _finish(_train(task, one, "default"))
    _finish(_train(task, two, "mirrored"))
    _same_training(one, two)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.data("sentiment_labelled_sentences")
def test_two_workers_reach_the_weights_of_one_with_the_same_global_batch(tmp_path):
    one = str(tmp_path / "single")
    _finish(_train("sentiment", one, "default"))
    outs = _finish_all(_workers(tmp_path))
    assert "worker 1 finished training; the chief evaluates, exports and pushes" in outs[1]
    assert not (tmp_path / "worker1" / "train").exists()       # only the chief writes
    assert not (tmp_path / "worker1" / ".worker-checkpoints").exists()   # removed at the end
    _same_training(one, str(tmp_path / "worker0"))


def _finish_all(workers, timeout=300):
    """Every worker's stdout, each asserted to exit 0; all are stopped in any case."""
    try:
        return [_finish(w, timeout=timeout) for w in workers]
    finally:
        for w in workers:
            w.kill()
            w.wait(timeout=30)


def _workers(tmp_path, *extra):
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    return [_train("sentiment", str(tmp_path / f"worker{i}"), "multi_worker", *extra,
                   env={"TF_CONFIG": json.dumps({"cluster": cluster, "task": {
                       "type": "worker", "index": i}})}) for i in range(2)]


@pytest.mark.data("sentiment_labelled_sentences")
def test_a_killed_worker_restarted_resumes_the_job_from_the_last_checkpoint(tmp_path):
    """keras.callbacks.BackupAndRestore's semantics: a worker dies; its peer's collectives
    fail and it stops with one line; every worker restarted with --resume continues from
    the last checkpoint and the job ends with the weights of an uninterrupted run."""
    extra = ["--config.train.checkpoint_every=10"]
    one = str(tmp_path / "single")
    _finish(_train("sentiment", one, "default", *extra))
    workers = _workers(tmp_path, *extra)
    try:
        for line in workers[0].stdout:
            if line.startswith("step ") and int(line.split()[1].split("/")[0]) >= 25:
                workers[1].kill()                   # after the checkpoint of step 20
                break
        out, err = workers[0].communicate(timeout=180)   # the survivor stops by itself
    finally:
        for w in workers:
            w.kill()
            w.wait(timeout=30)
    assert workers[0].returncode == 75, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: worker 0 lost a peer (")
    assert "the last checkpoint is " + str(tmp_path / "worker0" / "train" / "checkpoints" /
                                           "ckpt-20") in errors[0]
    assert errors[0].endswith("Restart every worker with the same command and --resume.")
    outs = _finish_all(_workers(tmp_path, *extra, "--resume"))
    for i, out in enumerate(outs):
        resumed = [line for line in out.splitlines() if line.startswith("resumed from")]
        assert resumed and resumed[0].endswith("at step 20"), out
    _same_training(one, str(tmp_path / "worker0"))


@pytest.mark.parametrize("overrides,env,message", [
    (["--config.train.strategy=nccl"], {}, "train.strategy='nccl' must be one of default, "
     "one_device, mirrored, multi_worker, tpu"),
    (["--config.train.strategy=multi_worker"], {"TF_CONFIG": ""},
     "train.strategy='multi_worker' reads the cluster from TF_CONFIG, which is not set"),
    (["--config.train.strategy=tpu"], {}, "train.strategy='tpu' found no TPU"),
    (["--config.train.strategy=mirrored"], {},
     "train.carry_state=True carries each row's state from window to window"),
])
def test_strategy_mistakes_are_one_line(overrides, env, message, tmp_path):
    environ = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    environ.update({k: v for k, v in env.items() if v})
    out = subprocess.run([sys.executable, "-m", "pipelines.train",
                          "--config=configs/default.py:tiny", f"--workdir={tmp_path / 'w'}",
                          *overrides], cwd=ROOT, env=environ, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-3000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], out.stderr[-3000:]
