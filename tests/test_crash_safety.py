"""Crash safety: a run killed (SIGKILL) at random steps and resumed with the same command
ends bit for bit as one that was never killed (the char LM's windows with carried state,
a classifier's and a seq2seq task's length buckets: every task runs the same loop, and
these are its three ways of feeding it); SIGTERM and Ctrl-C save a checkpoint and
stop with one line; one run per workdir (a PID lock); training randomness is stateless."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from configs import default
from pipelines import common
from pipelines.train import run_pipeline
from tests.data import by_task

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# per task: the config, and overrides that log every step and checkpoint often
RUNS = {
    "char_lm": ("configs/default.py:tiny",
                ["--config.train.steps=60", "--config.train.log_every=1",
                 "--config.train.checkpoint_every=4", "--config.train.eval_every=10",
                 "--config.train.sample_every=100", "--config.train.histogram_every=100"]),
    **{task: (f"configs/{task}.py:tiny",
              ["--config.train.steps=60", "--config.train.log_every=1",
               "--config.train.checkpoint_every=4", "--config.train.eval_every=10",
               "--config.train.histogram_every=100"])
       for task in ("sentiment", "dates")},
}


def _command(task, workdir, *extra):
    config, overrides = RUNS[task]
    return [sys.executable, "-m", "pipelines.train", f"--config={config}",
            f"--workdir={workdir}", "--stages=ingest,transform,train", *overrides, *extra]


def _kill_at(command, step, timeout=240):
    """Starts `command`, SIGKILLs it once it reports training step `step`; returns the
    last step it reported."""
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    deadline, seen = time.time() + timeout, 0
    try:
        for line in proc.stdout:
            if line.startswith("step "):
                seen = int(line.split()[1].split("/")[0])
                if seen >= step:
                    proc.kill()
                    break
            assert time.time() < deadline, "no progress"
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, seen)
    return seen


def _checkpoint(workdir):
    """{name: value} of every model and optimizer tensor in the newest checkpoint."""
    path = tf.train.latest_checkpoint(os.path.join(workdir, "train", "checkpoints"))
    reader = tf.train.load_checkpoint(path)
    names = [n for n in reader.get_variable_to_shape_map()
             if n.startswith(("model/", "model_variables/", "optimizer/", "step/", "carry/",
                              "best/"))]
    return {n: reader.get_tensor(n) for n in names}


@pytest.mark.parametrize("task", by_task(*sorted(RUNS)))
def test_kill_at_three_random_steps_and_resume_is_bit_identical(task, tmp_path):
    straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
    subprocess.run(_command(task, straight), cwd=ROOT, check=True, capture_output=True,
                   timeout=300)
    steps = sorted(np.random.default_rng(21).choice(np.arange(3, 55), 3, replace=False))
    reached = [_kill_at(_command(task, killed, *(["--resume"] if i else [])), int(s))
               for i, s in enumerate(steps)]
    out = subprocess.run(_command(task, killed, "--resume"), cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "resumed from" in out.stdout
    a, b = _checkpoint(straight), _checkpoint(killed)
    assert a.keys() == b.keys() and any(k.startswith("optimizer/") for k in a), sorted(a)
    different = [k for k in a if not np.array_equal(a[k], b[k])]
    assert not different, (reached, different)
    with open(os.path.join(straight, "train", "best.weights.h5"), "rb") as f1, \
            open(os.path.join(killed, "train", "best.weights.h5"), "rb") as f2:
        import h5py
        w1, w2 = h5py.File(f1, "r"), h5py.File(f2, "r")
        keys = []
        w1.visit(lambda k: keys.append(k) if isinstance(w1[k], h5py.Dataset) else None)
        assert keys and all(np.array_equal(w1[k][()], w2[k][()]) for k in keys)


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_save_a_checkpoint_and_say_how_to_resume(sig, code, tmp_path):
    workdir = tmp_path / "w"
    command = _command("char_lm", workdir, "--config.train.steps=100000",
                       "--config.train.checkpoint_every=100000")
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("step ") and int(line.split()[1].split("/")[0]) >= 5:
            proc.send_signal(sig)
            break
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr[-3000:]
    name = signal.Signals(sig).name
    assert errors[0].startswith(f"error: {name} stopped training at step "), errors
    assert errors[0].endswith("Resume with the same command and --resume."), errors
    saved = int(errors[0].split("at step ")[1].split(";")[0])
    latest = tf.train.latest_checkpoint(str(workdir / "train" / "checkpoints"))
    assert latest.endswith(f"ckpt-{saved}")
    out = subprocess.run(command + ["--resume", "--config.train.steps=" + str(saved + 3)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and f"resumed from {latest} at step {saved}" in out.stdout, \
        out.stderr[-3000:]


# ------------------------------------------------------------------ one run per workdir
def test_a_second_run_in_a_workdir_in_use_is_refused(tmp_path):
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        os.makedirs(tmp_path / "w")
        (tmp_path / "w" / ".lock").write_text(str(owner.pid))
        with pytest.raises(common.UserError) as e:
            run_pipeline(default.get_config("tiny"), str(tmp_path / "w"), ["ingest"],
                         log=lambda *a: None)
        assert str(e.value) == (
            f"{tmp_path / 'w'} is in use by process {owner.pid} (lock "
            f"{tmp_path / 'w' / '.lock'}); wait for that run to end, or use another "
            "--workdir.")
        assert not (tmp_path / "w" / "ingest").exists()
    finally:
        owner.kill()
        owner.wait()


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    os.makedirs(tmp_path / "w")
    lock = tmp_path / "w" / ".lock"
    lock.write_text(str(dead.pid))
    messages = []
    run_pipeline(default.get_config("tiny"), str(tmp_path / "w"), ["ingest"],
                 log=messages.append)
    assert messages[0] == (f"taking over the stale lock {lock} of process {dead.pid}, "
                           "which is no longer running")
    assert common.read_manifest(str(tmp_path / "w"), "ingest")
    assert not lock.exists()                    # released at the end of the run


def test_overwrite_starts_again_when_the_config_is_unchanged(tmp_path):
    config, workdir = default.get_config("tiny"), str(tmp_path / "w")
    config.train.steps = 4
    run_pipeline(config, workdir, ["ingest", "transform", "train"], log=lambda *a: None)
    config.train.steps = 5          # a longer run: the old one's checkpoints are in the way
    with pytest.raises(common.UserError, match="--overwrite to start again"):
        run_pipeline(config, workdir, ["train"], log=lambda *a: None)
    messages = []
    run_pipeline(config, workdir, ["ingest", "transform", "train"], overwrite=True,
                 log=messages.append)
    assert not any(m.startswith(("  skipped", "resumed")) for m in messages), messages
    assert common.read_manifest(workdir, "train")["metrics"]["steps"] == 5


# ------------------------------------------------------------ kill -9 during a write
KILLER = os.path.join(ROOT, "tests", "kill_during_write.py")


def _killed_during(point, command):
    """Runs `command` (a pipelines.train command line) killed at `point` of
    tests/kill_during_write.py; asserts that it died by SIGKILL."""
    out = subprocess.run([sys.executable, KILLER, point, *command[3:]], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == -signal.SIGKILL, (out.returncode, out.stderr[-2000:])


CHECKPOINTED = ["--config.train.steps=30", "--config.train.checkpoint_every=10"]


@pytest.fixture(scope="module")
def straight_char_lm(tmp_path_factory):
    """The uninterrupted run the killed ones are compared with."""
    straight = str(tmp_path_factory.mktemp("straight") / "w")
    subprocess.run(_command("char_lm", straight, *CHECKPOINTED), cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    return straight


@pytest.mark.parametrize("point", ["checkpoint_data:20", "checkpoint_write:20:0",
                                   "checkpoint_write:20:5"])
def test_a_kill_during_a_checkpoint_write_keeps_the_previous_one(point, straight_char_lm,
                                                                 tmp_path):
    straight, killed = straight_char_lm, str(tmp_path / "killed")
    extra = CHECKPOINTED
    _killed_during(point, _command("char_lm", killed, *extra))
    out = subprocess.run(_command("char_lm", killed, *extra, "--resume"), cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    resumed = [line for line in out.stdout.splitlines() if line.startswith("resumed from")]
    assert resumed and resumed[0].split()[-1] in ("10", "20"), out.stdout
    a, b = _checkpoint(straight), _checkpoint(killed)
    assert a.keys() == b.keys()
    assert not [k for k in a if not np.array_equal(a[k], b[k])]


def _pipeline(workdir, serving, *extra):
    return [sys.executable, "-m", "pipelines.train", "--config=configs/default.py:tiny",
            f"--workdir={workdir}", f"--config.export.serving_dir={serving}", *extra]


def _versions(serving):
    folder = os.path.join(serving, default.get_config("tiny").name)
    return sorted(v for v in os.listdir(folder) if not v.startswith(".")), folder


@pytest.fixture(scope="module")
def pushed_once(tmp_path_factory):
    """A finished tiny pipeline (its workdir `w`) that pushed version 1 to `serving`
    (kept as `serving.first`); each test works on copies."""
    root = tmp_path_factory.mktemp("pushed")
    subprocess.run(_pipeline(str(root / "w"), str(root / "serving")), cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    shutil.copytree(root / "serving", root / "serving.first")
    return str(root)


@pytest.mark.parametrize("point", ["export_write", "export_swap", "push_copy",
                                   "push_record"])
def test_a_kill_during_export_or_push_loses_nothing(point, pushed_once, tmp_path):
    # a copy of the finished workdir, and the serving directory as it pushed version 1
    # (at the path its config names)
    workdir, serving = str(tmp_path / "w"), os.path.join(pushed_once, "serving")
    shutil.copytree(os.path.join(pushed_once, "w"), workdir)
    shutil.rmtree(serving, ignore_errors=True)
    shutil.copytree(os.path.join(pushed_once, "serving.first"), serving)
    first = tf.saved_model.load(os.path.join(serving, "pydoc_char_lm", "1"))
    sample = first.signatures["generate"](prime=tf.constant("a"), length=tf.constant(20),
                                          temperature=tf.constant(0.0),
                                          seed=tf.constant(0))["text"].numpy()
    longer = ["--config.train.steps=60", "--resume"]             # a new model to export
    _killed_during(point, _pipeline(workdir, serving, *longer))
    names, folder = _versions(serving)
    pushed = point == "push_record"
    assert names == (["1", "2", "blessed.json"] if pushed else ["1", "blessed.json"])
    for version in names[:-1]:                     # every visible version loads whole
        tf.saved_model.load(os.path.join(folder, version))
    again = tf.saved_model.load(os.path.join(folder, "1")).signatures["generate"](
        prime=tf.constant("a"), length=tf.constant(20), temperature=tf.constant(0.0),
        seed=tf.constant(0))["text"].numpy()
    assert again == sample                                       # version 1 is intact
    export = os.path.join(workdir, "export", "saved_model")
    if point == "export_swap":                     # the previous export is aside
        assert not os.path.exists(export) and os.path.isdir(export + ".old")
    else:
        tf.saved_model.load(export)
    out = subprocess.run(_pipeline(workdir, serving, *longer), cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    tf.saved_model.load(export)
    names, folder = _versions(serving)
    assert names == ["1", "2", "blessed.json"]      # one new version, whatever the kill hit
    assert common.read_json(os.path.join(folder, "blessed.json"))["version"] == 2
    assert not [n for n in os.listdir(folder) if n.startswith(".tmp-")]
    assert not [n for n in os.listdir(os.path.dirname(export)) if ".tmp-" in n
                or n.endswith(".old")]
