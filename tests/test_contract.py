"""The pipeline's contract under mistakes and faults: every user mistake is one `error:`
line naming the value and the fix (exit status 2), found before any stage runs or as soon
as the data is read; recovery advice works; artifacts survive kills and are readable by
other users; a resumed run's TensorBoard shows each step once; the exported signatures
refuse bad inputs with a clear error.

The cases of the NaN-blessing rule are in tests/test_blessing.py; exact resume after
kill -9, SIGTERM, Ctrl-C and the workdir lock in tests/test_crash_safety.py.
"""

import gzip
import math
import os
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from configs import sentiment
from pipelines import common, config_check, config_errors, training
from tests import data as data_sets
from tests.data import DATA
from pipelines.datasets import files, sentiment_labelled_sentences, spa_eng, ud_english_ewt
from pipelines.tasks import serving
from pipelines.train import check, run_pipeline
from tests.test_pipeline import tiny

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = ["ingest", "transform", "train", "evaluate", "export", "push"]


def cli(*args, timeout=120):
    """(exit status, stdout, stderr) of `python -m pipelines.train *args`."""
    proc = subprocess.run([sys.executable, "-m", "pipelines.train", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# ------------------------------------------------------------ 1. config values, in-process
BAD_VALUES = [
    ("train.batch_size", 0, "train.batch_size=0 must be a whole number >= 1; set "
                            "--config.train.batch_size, for example to 32."),
    ("train.batch_size", -4, "train.batch_size=-4 must be a whole number >= 1"),
    ("train.checkpoint_every", 0, "train.checkpoint_every=0 must be a whole number >= 1"),
    ("train.steps", -5, "train.steps=-5 must be a whole number >= 1"),
    ("model.units", 0, "model.units=0 must be a whole number >= 1; set --config.model.units"),
    ("model.cell", "bogus", "model.cell='bogus' is not one of 'vanilla', 'gru', 'lstm'; set "
                            "--config.model.cell, for example to 'lstm'."),
    ("train.seq_len", 1_000_000, "train.seq_len=1000000 is above 100,000, more than one "
                                 "truncated-BPTT window can hold"),
    ("train.learning_rate", -1e-3, "train.learning_rate=-0.001 must be a finite number > 0"),
    ("train.learning_rate", math.nan, "train.learning_rate=nan must be a finite number > 0"),
    ("train.learning_rate", math.inf, "train.learning_rate=inf must be a finite number > 0"),
    ("train.clip_norm", 0.0, "train.clip_norm=0.0 must be a finite number > 0"),
    ("train.max_loss", math.nan, "train.max_loss=nan must be a finite number > 0"),
    ("model.dropout", 1.0, "model.dropout=1.0 must be a rate in [0, 1)"),
    ("train.time_budget_s", -1.0, "train.time_budget_s=-1.0 must be a finite number of "
                                  "seconds >= 0"),
    ("train.strategy", "bogus", "train.strategy='bogus' must be one of default, one_device"),
    ("train.replicas", 0, "train.replicas=0 must be a whole number >= 1"),
]


@pytest.mark.parametrize("field,value,message", BAD_VALUES,
                         ids=[f"{f}={v}" for f, v, _ in BAD_VALUES])
def test_a_bad_config_value_is_one_line_before_any_stage(field, value, message, tmp_path):
    workdir = str(tmp_path / "w")
    with pytest.raises(common.UserError) as e:
        run_pipeline(tiny(**{field: value}), workdir, STAGES)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
    assert not os.path.exists(os.path.join(workdir, "ingest"))


def test_an_unknown_lexicon_is_refused_before_any_stage(tmp_path):
    config = sentiment.get_config("tiny")
    config.model.lexicon = "bogus"
    with pytest.raises(common.UserError, match=r"^model.lexicon='bogus' is not one of '', "
                                               r"'vader', 'vader_negation'; set"):
        run_pipeline(config, str(tmp_path / "w"), STAGES)


def test_the_checked_names_are_those_the_library_and_tasks_accept():
    from rnn_tf import recurrent
    assert sorted(config_check.CHOICES["model.cell"]) == sorted(recurrent.CELLS)
    classify = open(os.path.join(ROOT, "pipelines", "tasks", "classify.py")).read()
    for name in config_check.CHOICES["model.lexicon"][1:]:
        assert repr(name) in classify


# ------------------------------------------------------------ 1b. the command line
CLI_MISTAKES = [
    (["--config.train.nope=3"], "error: unknown config field 'nope' in "
                                "--config.train.nope; did you mean 'tpu'?"),
    (["--config.model.celll=3"], "error: unknown config field 'celll' in "
                                 "--config.model.celll; did you mean 'cell'?"),
    (["--config.model.unit=3"], "error: unknown config field 'unit' in "
                                "--config.model.unit; did you mean 'units'?"),
    (["--config.nope.steps=3"], "error: unknown config field 'steps' in "
                                "--config.nope.steps; did you mean 'train.steps'?"),
    (["--config=configs/default.py:nope"], "error: --config=configs/default.py:nope: unknown "
                                           "config variant 'nope'; use 'tiny' or none"),
    (["--config=configs/nope.py"], "error: --config=configs/nope.py: no such config file; "
                                   "pass one of configs/*.py"),
    (["--config.train.steps=abc"], "error: flag --config.train.steps=abc: invalid literal "
                                   "for int()"),
    (["--config.train.batch_size=0"], "error: train.batch_size=0 must be a whole number >= 1"),
    (["--config.model.cell=bogus"], "error: model.cell='bogus' is not one of"),
    (["--stages=ingest,bogus"], "error: unknown stage(s) ['bogus']; --stages takes a subset"),
    (["extra"], "error: unexpected arguments ['extra']; flags look like --name=value"),
    (["--workdir="], "error: --workdir is empty; pass a directory, for example "
                     "--workdir=runs/x."),
]


@pytest.mark.parametrize("args,message", CLI_MISTAKES, ids=[a[0] for a, _ in CLI_MISTAKES])
def test_a_command_line_mistake_is_one_error_line_with_status_2(args, message, tmp_path):
    workdir = [] if any(a.startswith("--workdir") for a in args) else [
        f"--workdir={tmp_path / 'w'}"]
    code, out, err = cli("--config=configs/default.py:tiny", *args, *workdir) \
        if not any(a.startswith("--config=") for a in args) else cli(*args, *workdir)
    assert code == 2, err
    assert error_lines(err) == [err.strip().splitlines()[-1]] and len(error_lines(err)) == 1
    assert error_lines(err)[0].startswith(message), err
    assert "Traceback" not in err and out == ""


def test_config_errors_name_the_nearest_field_for_a_misspelled_section():
    message = config_errors.explain(AttributeError("'trian'"),
                                    ["x", "--config=configs/default.py:tiny",
                                     "--config.trian.steps=3"])
    assert message == ("unknown config field 'steps' in --config.trian.steps; did you mean "
                       "'train.steps'? (--config=configs/default.py:tiny --help lists the "
                       "fields)")


# ------------------------------------------------------------ 1c. directories
def test_an_empty_workdir_is_refused():
    with pytest.raises(common.UserError, match=r"^--workdir is empty; pass a directory"):
        check(tiny(), "", STAGES)


def test_a_workdir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(common.UserError) as e:
        check(tiny(), str(tmp_path / "f"), STAGES)
    assert str(e.value) == (f"--workdir={tmp_path / 'f'} is a file, not a directory; pass "
                            "another --workdir.")


def test_a_workdir_under_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(common.UserError) as e:
        check(tiny(), str(tmp_path / "f" / "w"), STAGES)
    assert str(e.value) == (f"--workdir={tmp_path / 'f' / 'w'} lies under the file "
                            f"{tmp_path / 'f'}; pass another --workdir.")


def _unwritable(tmp_path):
    """A directory this process cannot create files in (as root: under /sys)."""
    if os.geteuid() == 0:
        return "/sys/rnn_tf_unwritable"
    path = tmp_path / "ro"
    path.mkdir()
    path.chmod(0o500)
    return str(path)


def test_an_unwritable_workdir_is_refused(tmp_path):
    path = _unwritable(tmp_path)
    with pytest.raises(common.UserError, match=rf"^--workdir={path} is not writable \("):
        check(tiny(), path, STAGES)


def test_an_unwritable_serving_dir_is_found_before_training(tmp_path):
    path = _unwritable(tmp_path)
    workdir = str(tmp_path / "w")
    with pytest.raises(common.UserError, match=rf"^export.serving_dir={path} is not "
                                               r"writable \(.*\); set --config.export."):
        run_pipeline(tiny(**{"export.serving_dir": path}), workdir, STAGES)
    assert not os.path.exists(os.path.join(workdir, "ingest"))


def test_a_serving_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(common.UserError, match="is a file, not a directory; set --config."
                                               "export.serving_dir"):
        check(tiny(**{"export.serving_dir": str(tmp_path / "f")}), str(tmp_path / "w"),
              STAGES)


# ------------------------------------------------------------ 2. data files
def _sentiment_copy(tmp_path, edit=None, name="imdb_labelled.txt", data=None):
    src = os.path.join(DATA, "sentiment_labelled_sentences")
    data_sets.require("sentiment_labelled_sentences")
    out = tmp_path / "sent"
    out.mkdir()
    for f in sentiment_labelled_sentences.FILES:
        (out / f).write_bytes(open(os.path.join(src, f), "rb").read())
    if edit:
        lines = (out / name).read_bytes().split(b"\n")
        edit(lines)
        (out / name).write_bytes(b"\n".join(lines))
    if data is not None:
        (out / name).write_bytes(data)
    return str(out)


def _drop_label(lines):
    lines[4] = lines[4].rsplit(b"\t", 1)[0]


def _label_two(lines):
    lines[6] = lines[6].rsplit(b"\t", 1)[0] + b"\t2"


def _latin1(lines):
    lines[2] = lines[2].replace(b" ", "\u00e9".encode("latin-1"), 1)


@pytest.mark.parametrize("edit,message", [
    (_drop_label, "imdb_labelled.txt line 5: '.*' does not end in a tab and a label 0 or "
                  "1; fix or delete that line."),
    (_label_two, "imdb_labelled.txt line 7: '.*\\\\t2' does not end in a tab and a label 0 "
                 "or 1; fix or delete that line."),
    (_latin1, "imdb_labelled.txt line 3 column [0-9]+ is not UTF-8 \\(byte 0xe9\\); convert "
              "the file to UTF-8"),
])
def test_a_bad_sentiment_line_names_the_file_and_line(edit, message, tmp_path):
    folder = _sentiment_copy(tmp_path, edit)
    with pytest.raises(common.UserError, match=f"^data file {folder}/{message}"):
        sentiment_labelled_sentences.read_lines(folder)


def test_an_empty_data_file_is_one_line(tmp_path):
    folder = _sentiment_copy(tmp_path, data=b"")
    with pytest.raises(common.UserError) as e:
        sentiment_labelled_sentences.read_lines(folder)
    assert str(e.value) == (f"data file {folder}/imdb_labelled.txt is empty; copy it again "
                            "from its source.")


def test_a_missing_data_file_is_one_line(tmp_path):
    folder = _sentiment_copy(tmp_path)
    os.remove(os.path.join(folder, "amazon_cells_labelled.txt"))
    with pytest.raises(common.UserError, match=r"^data file .*amazon_cells_labelled.txt "
                                               r"does not exist; put it there"):
        sentiment_labelled_sentences.read_lines(folder)


def test_a_bad_data_file_stops_ingest_with_its_line(tmp_path):
    config = sentiment.get_config("tiny")
    config.data.manual_dir = _sentiment_copy(tmp_path, _drop_label)
    with pytest.raises(common.UserError, match=r"imdb_labelled.txt line 5: "):
        run_pipeline(config, str(tmp_path / "w"), ["ingest"])


def _conllu(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return str(path)


def _ud_dev():
    path = os.path.join(DATA, "ud_english_ewt", "en_ewt-ud-dev.conllu")
    data_sets.require("ud_english_ewt")
    return open(path, "rb").read()


def test_a_truncated_gzip_names_the_file(tmp_path):
    whole = gzip.compress(_ud_dev()[:20000])
    path = tmp_path / "train.conllu.gz"
    path.write_bytes(whole[:len(whole) // 2])
    with pytest.raises(common.UserError) as e:
        list(ud_english_ewt.read_conllu(str(path)))
    assert str(e.value).startswith(f"data file {path} is not a complete gzip file (")
    assert str(e.value).endswith("it is truncated or damaged: copy it again from its source.")


def test_a_garbled_gzip_names_the_file(tmp_path):
    path = tmp_path / "train.conllu.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4)
    with pytest.raises(common.UserError, match=r"is not a complete gzip file .*truncated or "
                                               r"damaged"):
        list(ud_english_ewt.read_conllu(str(path)))


def test_a_truncated_conllu_names_the_line(tmp_path):
    lines = _ud_dev()[:5000].split(b"\n")[:-1]
    i = max(i for i, line in enumerate(lines) if line[:1].isdigit())
    data = b"\n".join(lines[:i] + [b"\t".join(lines[i].split(b"\t")[:4])])  # cut mid-line
    path = _conllu(tmp_path, "dev.conllu", data)
    with pytest.raises(common.UserError) as e:
        list(ud_english_ewt.read_conllu(path))
    assert str(e.value) == (f"data file {path} line {i + 1}: a word line has 4 tab-separated "
                            "columns, CoNLL-U has 10; the file is truncated or damaged: copy "
                            "it again.")


def test_a_tag_out_of_range_names_the_line(tmp_path):
    lines = _ud_dev()[:5000].split(b"\n")
    i = next(i for i, line in enumerate(lines) if line[:1].isdigit())
    cols = lines[i].split(b"\t")
    cols[3] = b"NOUNISH"
    lines[i] = b"\t".join(cols)
    path = _conllu(tmp_path, "dev.conllu", b"\n".join(lines))
    with pytest.raises(common.UserError, match=rf"line {i + 1}: UPOS tag 'NOUNISH' is not "
                                               r"one of the 17 UPOS tags"):
        list(ud_english_ewt.read_conllu(path))


def test_a_latin1_conllu_names_line_and_column(tmp_path):
    path = _conllu(tmp_path, "dev.conllu.gz", b"# sent_id = a\n1\tcaf\xe9\n")
    with pytest.raises(common.UserError, match=r"line 2 column 6 is not UTF-8 \(byte 0xe9\)"):
        list(ud_english_ewt.read_conllu(path))


def test_a_translation_line_without_a_tab_names_the_line(tmp_path):
    (tmp_path / "spa_eng_train.txt.gz").write_bytes(
        gzip.compress(b"Go.\tVe.\nno tab here\nHi.\tHola.\n"))
    builder = spa_eng.SpaEng(config="full", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(common.UserError) as e:
        list(builder._generate_examples(str(tmp_path / "spa_eng_train.txt.gz"), "train"))
    assert str(e.value) == (f"data file {tmp_path / 'spa_eng_train.txt.gz'} line 2: no tab "
                            "between the English and the Spanish sentence; fix or delete "
                            "that line.")


def test_a_changed_catalog_file_is_one_line_at_ingest(tmp_path):
    src = os.path.join(DATA, "tiny_shakespeare", "input.txt")
    data_sets.require("tiny_shakespeare")
    folder = tmp_path / "ts"
    folder.mkdir()
    data = open(src, "rb").read()
    (folder / "input.txt").write_bytes(data[:1000] + b"garbled" + data[1000:])
    from configs import char_lm_shakespeare
    config = char_lm_shakespeare.get_config("tiny")
    config.data.manual_dir = str(folder)
    with pytest.raises(common.UserError, match=r"^a file of 'tiny_shakespeare' in .* is not "
                                               r"the one TFDS knows .*copy the original"):
        run_pipeline(config, str(tmp_path / "w"), ["ingest"])


def test_read_text_reports_the_first_bad_byte(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"ok\nfine\nbad \xff here\n")
    with pytest.raises(common.UserError, match=r"t.txt line 3 column 5 is not UTF-8 \(byte "
                                               r"0xff\)"):
        files.read_text(str(path))


# ------------------------------------------------------------ 3. divergence and recovery
def test_an_overflowing_loss_is_divergence_before_any_checkpoint(tmp_path):
    workdir = str(tmp_path / "w")
    with pytest.raises(training.Diverged) as e:
        run_pipeline(tiny(**{"train.learning_rate": 1e30}), workdir, STAGES)
    assert "(above train.max_loss=10000)" in str(e.value)
    assert str(e.value).endswith("stopped before any checkpoint was saved. Lower "
                                 "train.learning_rate (or train.clip_norm) and run the "
                                 "command again.")
    assert not os.path.exists(os.path.join(workdir, "evaluate"))
    assert not os.path.exists(os.path.join(workdir, "serving"))


def test_the_divergence_advice_works_from_the_last_good_checkpoint(tmp_path):
    workdir = str(tmp_path / "w")
    base = {"train.steps": 30, "train.checkpoint_every": 10}
    run_pipeline(tiny(**base, **{"train.interrupt_after_steps": 10}), workdir,
                 ["ingest", "transform", "train"])
    with pytest.raises(training.Diverged) as e:   # step 11 updates by 1e30, 12 sees it
        run_pipeline(tiny(**base, **{"train.learning_rate": 1e30}), workdir,
                     ["ingest", "transform", "train"], resume=True)
    checkpoint = os.path.join(workdir, "train", "checkpoints", "ckpt-10")
    assert str(e.value).startswith("loss became ") and " at step 12 " in str(e.value)
    assert str(e.value).endswith(f"The last good checkpoint is {checkpoint}: lower "
                                 "train.learning_rate (or train.clip_norm) and pass --resume "
                                 "to continue from it.")
    messages = []
    run_pipeline(tiny(**base, **{"train.learning_rate": 1e-3}), workdir, STAGES,
                 resume=True, log=messages.append)
    assert f"resumed from {checkpoint} at step 10" in messages
    manifest = common.read_manifest(workdir, "train")
    assert manifest["metrics"]["steps"] == 30 and manifest["config"]["train"][
        "learning_rate"] == 1e-3


def test_a_resume_may_not_change_the_model(tmp_path):
    workdir = str(tmp_path / "w")
    run_pipeline(tiny(**{"train.interrupt_after_steps": 5}), workdir,
                 ["ingest", "transform", "train"])
    with pytest.raises(common.UserError, match="differs in model.units"):
        run_pipeline(tiny(**{"model.units": 8}), workdir, ["train"], resume=True)


def test_ctrl_c_before_training_is_one_line(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.train",
                             "--config=configs/default.py:tiny",
                             f"--workdir={tmp_path / 'w'}"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in proc.stdout:
        if line.startswith("[ingest]"):
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert error_lines(err) == ["error: interrupted (Ctrl-C) outside training; the "
                                "stages that finished are kept: run the same command "
                                "again to go on."]
    assert "Traceback" not in err


# ------------------------------------------------------------ 4. artifacts
def test_a_kill_between_the_renames_is_recovered(tmp_path):
    final = tmp_path / "saved_model"
    (tmp_path / "saved_model.old").mkdir()
    (tmp_path / "saved_model.old" / "v").write_text("previous")
    common.clean_stale(str(tmp_path), log=lambda m: None)
    assert (final / "v").read_text() == "previous"
    assert not (tmp_path / "saved_model.old").exists()


def test_a_leftover_old_copy_beside_the_new_one_is_removed(tmp_path):
    (tmp_path / "saved_model").mkdir()
    (tmp_path / "saved_model.old").mkdir()
    common.recover_dir(str(tmp_path / "saved_model"))
    assert (tmp_path / "saved_model").is_dir() and not (tmp_path / "saved_model.old").exists()


def test_stale_temporaries_are_cleaned_and_a_live_writers_are_kept(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / f".tmp-{dead.pid}-push-abc").mkdir()
    (tmp_path / f".tmp-{os.getpid()}-push-def").mkdir()
    (tmp_path / "ckpt-5_temp").mkdir()
    (tmp_path / "1").mkdir()
    messages = []
    common.clean_stale(str(tmp_path), log=messages.append)
    assert sorted(os.listdir(tmp_path)) == sorted([f".tmp-{os.getpid()}-push-def", "1"])
    assert len(messages) == 2 and all("left by a run that was killed" in m for m in messages)


def test_replace_dir_atomic_keeps_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        tmp = common.make_temp_dir(str(tmp_path), "x")
        common.replace_dir_atomic(tmp, str(tmp_path / "final"))
        common.write_json_atomic(str(tmp_path / "r.json"), {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "final").st_mode) == 0o750
    assert stat.S_IMODE(os.stat(tmp_path / "r.json").st_mode) == 0o640


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    """A finished tiny char LM pipeline (pushed), run under umask 022."""
    workdir = str(tmp_path_factory.mktemp("lm") / "w")
    old = os.umask(0o022)
    try:
        run_pipeline(tiny(), workdir, STAGES, log=lambda m: None)
    finally:
        os.umask(old)
    return workdir


def test_exports_and_pushes_are_readable_by_other_users(lm_run):
    serving = os.path.join(lm_run, "serving", tiny().name)
    for path in (os.path.join(lm_run, "export", "saved_model"), os.path.join(serving, "1")):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o755, path
    for path in (os.path.join(serving, "blessed.json"),
                 os.path.join(lm_run, "evaluate", "manifest.json")):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644, path


def test_a_rerun_pushes_nothing_new(lm_run):
    messages = []
    run_pipeline(tiny(), lm_run, STAGES, log=messages.append)
    serving = os.path.join(lm_run, "serving", tiny().name)
    assert sorted(v for v in os.listdir(serving) if v.isdigit()) == ["1"]
    assert f"  not pushed again: {serving}/1 holds this model already" in messages


def test_a_resumed_run_shows_each_step_once_in_tensorboard(tmp_path):
    from tensorboard.backend.event_processing import plugin_event_accumulator as accumulator
    workdir = str(tmp_path / "w")
    command = [sys.executable, "-m", "pipelines.train", "--config=configs/default.py:tiny",
               f"--workdir={workdir}", "--stages=ingest,transform,train",
               "--config.train.log_every=1", "--config.train.checkpoint_every=10"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:                   # killed at step 15: 11..15 are replayed
        if line.startswith("step ") and int(line.split()[1].split("/")[0]) >= 15:
            proc.kill()
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    subprocess.run(command + ["--resume"], cwd=ROOT, check=True, capture_output=True,
                   timeout=300)
    events = accumulator.EventAccumulator(             # as TensorBoard reads a run
        os.path.join(workdir, "train", "logs", "train"),
        size_guidance={accumulator.TENSORS: 0})                  # keep every event
    events.Reload()
    steps = [e.step for e in events.Tensors("loss")]
    assert steps == list(range(1, 41)), steps


# ------------------------------------------------------------ 5. serving inputs
@pytest.fixture(scope="module")
def generate(lm_run):
    loaded = tf.saved_model.load(os.path.join(lm_run, "export", "saved_model"))
    return loaded, loaded.signatures["generate"], loaded.signatures["score"]


GOOD = {"prime": "The ", "length": 5, "temperature": 1.0, "seed": 0}
BAD_INPUTS = [
    ({"length": -1}, "length must be >= 0"),
    ({"length": 2**31 - 1}, "length must be <= 100000 (the cap of one generate call)"),
    ({"length": serving.MAX_LENGTH + 1}, "length must be <= 100000"),
    ({"temperature": -1.0}, "temperature must be a finite number >= 0"),
    ({"temperature": math.nan}, "temperature must be a finite number >= 0"),
    ({"temperature": math.inf}, "temperature must be a finite number >= 0"),
    ({"prime": ["a", "b"]}, "Shape of tensor prime [2] is not compatible with expected "
                            "shape []"),
    ({"seed": [1, 2]}, "Shape of tensor seed [2] is not compatible with expected shape []"),
    ({"length": [[5]]}, "Shape of tensor length [1,1] is not compatible with expected "
                        "shape []"),
]


@pytest.mark.parametrize("change,message", BAD_INPUTS,
                         ids=[next(iter(c)) + "=" + str(next(iter(c.values())))
                              for c, _ in BAD_INPUTS])
def test_generate_refuses_a_bad_input_with_a_clear_error(generate, change, message):
    args = {**GOOD, **change}
    dtypes = {"prime": tf.string, "length": tf.int32, "temperature": tf.float32,
              "seed": tf.int32}
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        generate[1](**{k: tf.constant(v, dtypes[k]) for k, v in args.items()})
    assert message in str(e.value)


def test_invalid_utf8_in_a_prime_is_replaced_never_echoed(generate):
    out = generate[1](prime=tf.constant(b"Th\xff\xfee "), length=tf.constant(3),
                      temperature=tf.constant(0.0), seed=tf.constant(0))["text"].numpy()
    assert out.startswith("Th\ufffd\ufffde ".encode()) and b"\xff" not in out
    out.decode("utf-8")


def test_length_zero_returns_the_prime(generate):
    out = generate[1](prime=tf.constant("The "), length=tf.constant(0),
                      temperature=tf.constant(0.0), seed=tf.constant(0))["text"].numpy()
    assert out == b"The "


@pytest.mark.parametrize("texts", [tf.constant("abc"), tf.constant([["abc"]])],
                         ids=["rank0", "rank2"])
def test_score_refuses_texts_of_the_wrong_rank(generate, texts):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Shape of tensor texts \[.*\] "
                                                             r"is not compatible with "
                                                             r"expected shape \[\?\]"):
        generate[2](texts=texts)


def test_score_of_good_texts_still_works(generate):
    out = generate[2](texts=tf.constant(["The cat", "a b"]))
    assert np.all(np.isfinite(out["nats_per_char"].numpy()))
    assert out["predicted_chars"].numpy().tolist() == [6, 2]


def test_the_restored_functions_check_too(generate):
    with pytest.raises(tf.errors.InvalidArgumentError, match="temperature must be"):
        generate[0].generate(tf.constant("x"), tf.constant(3), tf.constant(-2.0),
                             tf.constant(0))



def test_help_lists_the_configs_and_a_configs_fields():
    code, out, err = cli("--help")
    assert code == 0, err
    for name, task in (("default", "char_lm"), ("upos", "tag"), ("sentiment", "classify"),
                       ("dates", "seq2seq"), ("translation", "seq2seq"),
                       ("bach", "music")):
        line = next(l for l in out.splitlines() if l.strip().startswith(f"configs/{name}.py"))
        assert line.split()[1] == task, line
    assert "configs/supervised.py" not in out            # shared fields, not a config
    code, out, err = cli("--config=configs/upos.py", "--help")
    assert code == 0, err
    assert "Fields of --config=configs/upos.py" in out
    assert any(l.split() == ["model.cell", "=", "'lstm'"] for l in out.splitlines()), out
