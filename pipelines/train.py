"""The pipeline's command line: the only file in the project that defines flags.

    python -m pipelines.train                       # the main job (configs/default.py)
    python -m pipelines.train --config=configs/default.py:tiny --workdir=/tmp/tiny
    python -m pipelines.train --config=configs/default.py --config.train.steps=500 \\
        --workdir=runs/x --stages=train,evaluate --resume
    python -m pipelines.train --help                # the configs, one line each
    python -m pipelines.train --config=configs/upos.py --help   # and that config's fields

Stages, TFX-style, each an artifact directory under --workdir with a manifest.json:
ingest -> transform -> train -> evaluate -> export -> push, each a generic module calling
the task's hooks (`pipelines.tasks.base.Task`). A stage whose inputs and code are
unchanged is skipped, with a line saying so.
"""

import json
import os
import shutil
import signal
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from pipelines import common, config_errors, config_help, startup

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = ("ingest", "transform", "train", "evaluate", "export", "push")
# Fields that only extend or bound a run, and those the divergence advice names (a lower
# learning rate or clip norm from the last good checkpoint): a resume may change them.
RESUMABLE_FIELDS = ("train.steps", "train.time_budget_s", "train.interrupt_after_steps",
                    "train.stop_at_step", "train.learning_rate", "train.clip_norm")

FLAGS = flags.FLAGS
try:
    # Reads --config.<field> overrides from the command line already, at definition.
    config_flags.DEFINE_config_file(
        "config", os.path.join(ROOT, "configs", "default.py"),
        "Config file with get_config(); add ':tiny' for the smoke-test variant. Override "
        "any field with --config.<field>=<value>.", lock_config=True)
except (KeyError, AttributeError, TypeError, ValueError, OSError) as _e:
    print(f"error: {config_errors.explain(_e, sys.argv)}", file=sys.stderr)
    sys.exit(2)
flags.DEFINE_string("workdir", os.path.join("runs", "default"),
                    "Directory of the run's artifacts (one subdirectory per stage).")
flags.DEFINE_list("stages", list(STAGES), f"Stages to run, a subset of {','.join(STAGES)}.")
flags.DEFINE_bool("resume", False, "Continue training from the last checkpoint.")
flags.DEFINE_bool("overwrite", False,
                  "Delete the workdir's artifacts (another config's run, or this config's "
                  "checkpoints) and start again.")


def _identity(config_dict):
    """The config without the fields a resumed run may change."""
    c = json.loads(json.dumps(config_dict))
    for field in RESUMABLE_FIELDS:
        section, key = field.split(".")
        c.get(section, {}).pop(key, None)
    return c


def prepare_workdir(config, workdir, overwrite):
    """Saves the resolved config as JSON; refuses a workdir of another config's run.
    With `overwrite`, first deletes everything in the workdir but this run's lock."""
    path = os.path.join(workdir, "config.json")
    resolved = config.to_dict()
    if os.path.exists(path) and not overwrite:
        previous = common.read_json(path)
        if _identity(previous) != _identity(resolved):
            old, new = common.flatten(previous), common.flatten(resolved)
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise common.UserError(
                f"workdir {workdir} holds a run of another config (differs in "
                f"{', '.join(changed[:5])}). Use another --workdir, or pass --overwrite "
                "to delete it.")
    if overwrite:
        for name in os.listdir(workdir):
            if name != ".lock":
                entry = os.path.join(workdir, name)
                shutil.rmtree(entry) if os.path.isdir(entry) else os.remove(entry)
    common.write_json_atomic(path, resolved)


def check(config, workdir, stages):
    """Every mistake in the config, the stages and the directories, as one UserError,
    before any stage runs: config values (`pipelines.config_check`), and the workdir and
    (when pushing) the serving directory, which must be writable directories."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise common.UserError(f"unknown stage(s) {unknown}; --stages takes a subset of "
                               f"{','.join(STAGES)}.")
    from pipelines import config_check
    config_check.check(config)
    config_check.check_directory(workdir, "--workdir")
    if "push" in stages and config.export.get("serving_dir"):
        config_check.check_directory(config.export.serving_dir, "export.serving_dir")


def clean_stale(config, workdir, log=print):
    """What killed writers left: temporary files and directories in the workdir (this run
    holds its lock), unfinished checkpoints, an export caught between its two renames
    (put back), and, in the serving directory, temporary copies of dead processes."""
    from pipelines import blessing
    for folder in [workdir, os.path.join(workdir, "train", "checkpoints")] + [
            common.stage_dir(workdir, s) for s in STAGES]:
        common.clean_stale(folder, log, own=True)
    common.clean_stale(os.path.join(blessing.serving_dir(config, workdir), config.name), log)


def run_pipeline(config, workdir, stages, resume=False, overwrite=False, log=print):
    """Runs the stages in order, each a generic module calling the task's hooks; returns
    {stage: what it produced}. A stage whose artifact was made from the same inputs by
    the same code is skipped, with a line saying so."""
    check(config, workdir, stages)
    from pipelines import tasks
    task = tasks.get(config)
    with common.WorkdirLock(workdir, log):
        prepare_workdir(config, workdir, overwrite)
        clean_stale(config, workdir, log)
        return _run_stages(task, config, workdir, stages, resume, log)


def _run_stages(task, config, workdir, stages, resume, log):
    from pipelines import evaluate, export, ingest, trainer, transform
    modules = {"ingest": ingest, "transform": transform, "train": trainer,
               "evaluate": evaluate, "export": export}
    results = {}
    for stage in STAGES:
        if stage not in stages:
            continue
        needs = {"transform": "ingest", "train": "transform", "evaluate": "train",
                 "export": "train", "push": "evaluate"}.get(stage)
        if needs and not common.read_manifest(workdir, needs):
            raise common.UserError(f"stage {stage} needs the {needs} artifact in {workdir}; "
                                   f"run --stages={needs},{stage} first.")
        log(f"[{stage}]")
        if stage == "push":
            results[stage] = export.push(config, workdir, log=log)
            continue
        module = modules[stage]
        fingerprint = module.inputs(task, config, workdir)
        if common.up_to_date(workdir, stage, fingerprint) and not (stage == "train"
                                                                    and resume):
            log(f"  skipped: {common.stage_dir(workdir, stage)} was made from the same "
                "inputs by the same code")
            results[stage] = common.stage_dir(workdir, stage)
        elif stage == "train":
            results[stage] = trainer.run(task, config, workdir, fingerprint, resume=resume,
                                         log=log)
            if results[stage] is None:           # interrupted on purpose
                return results
        else:
            results[stage] = module.run(task, config, workdir, fingerprint)
        if stage == "evaluate":
            m = common.read_manifest(workdir, "evaluate")
            if m.get("warning"):
                log(f"  warning: {m['warning']}")
            key = task.primary
            log(f"  validation {key} {m['metrics']['validation'][key]:.4f}, "
                f"test {m['metrics']['test'][key]:.4f}; "
                f"{'blessed' if m['blessed'] else 'not blessed'}: {m['reason']}")
    return results


def _sample(workdir, config):
    import tensorflow as tf
    from pipelines import export, tasks
    return tasks.get(config).sample(tf.saved_model.load(export.export_dir(workdir)))


def main(argv):
    if len(argv) > 1:
        raise common.UserError(f"unexpected arguments {argv[1:]}; flags look like --name=value")
    try:
        config = FLAGS.config        # ml_collections reports a load failure on first use
        config.to_dict()
    except (KeyError, AttributeError, TypeError, ValueError, OSError) as e:
        raise _user_error(e) from None
    workdir = FLAGS.workdir
    check(config, workdir, FLAGS.stages)       # mistakes first, before TensorFlow starts
    startup.import_tensorflow()                # without its C++ start-up noise
    from pipelines import distribute
    distribute.configure_devices(config)       # before TensorFlow's runtime starts
    startup.run_first_op()                     # oneDNN's int32 notice, captured
    results = run_pipeline(config, workdir, FLAGS.stages, FLAGS.resume, FLAGS.overwrite)
    if "export" in results:
        print(f"SavedModel: {os.path.abspath(results['export'])}/saved_model")
    print(f"TensorBoard: tensorboard --logdir {os.path.abspath(workdir)}/train/logs")
    if "export" in results:
        print("Sample:\n" + _sample(workdir, config))


def _parse_flags(argv):
    """absl's parser, with every mistake (unknown flag or config field, wrong type, a
    missing config file) turned into a one-line UserError."""
    try:
        return FLAGS(argv)
    except (flags.Error, KeyError, AttributeError, TypeError, ValueError, OSError) as e:
        raise _user_error(e) from None


def _user_error(e):
    return common.UserError(config_errors.explain(e, sys.argv))


def _help(argv):
    """--help: what the command does, the configs, a given config's fields, the flags."""
    config_arg = config_errors.flag_value(argv, "config")
    print(__doc__.rstrip())
    print("\nConfigs (--config=<file>, or <file>:tiny for its smoke run):\n"
          + config_help.configs_listing())
    if config_arg:
        print(f"\nFields of --config={config_arg} (override with --config.<field>=<value>):"
              f"\n{config_help.fields_listing(config_arg)}")
    print("\nFlags:\n" + FLAGS.module_help(sys.modules[__name__]))


def run():
    logging.set_verbosity(logging.WARNING)
    # each line goes out when it is said, also into a pipe (`| tee`, a supervisor's log)
    sys.stdout.reconfigure(line_buffering=True)
    if any(a in ("--help", "-h", "-?", "--helpshort") for a in sys.argv[1:]):
        _help(sys.argv)
        return
    # Ctrl-C outside training (which saves a checkpoint first) stops the run with one line;
    # the flag also catches an interrupt that a library turned into another exception
    interrupted = []

    def on_interrupt(signum, frame):
        interrupted.append(signum)
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, on_interrupt)
    try:
        app.run(main, flags_parser=_parse_flags)
    except common.UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(getattr(e, "exit_code", 2))
    except (KeyboardInterrupt, Exception):
        if not interrupted and not isinstance(sys.exc_info()[1], KeyboardInterrupt):
            raise
        print("error: interrupted (Ctrl-C) outside training; the stages that finished are "
              "kept: run the same command again to go on.", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    run()
