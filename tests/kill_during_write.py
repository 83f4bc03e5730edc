"""Runs `python -m pipelines.train ARGS...` and SIGKILLs it in the middle of one write, to
test that no kill loses an artifact (tests/test_crash_safety.py).

    python tests/kill_during_write.py POINT ARGS...

POINT is one of:
    checkpoint_data:N      the checkpoint of step N has its data files, and the state file
                           that names the newest checkpoint does not name it yet
    checkpoint_write:N:MS  MS milliseconds into writing the checkpoint of step N
    export_write           the new SavedModel is written to its temporary directory, not
                           yet renamed into place
    export_swap            between the two renames that replace export/saved_model: the
                           old copy is aside as saved_model.old, the new one not in place
    push_copy              the serving copy of a push is written, not yet renamed to its
                           version number
    push_record            the version directory is in place, blessed.json not yet written
"""

import os
import runpy
import shutil
import signal
import sys
import threading


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def main():
    point, args = sys.argv[1].split(":"), sys.argv[2:]
    kind = point[0]
    import tensorflow as tf
    if kind in ("checkpoint_data", "checkpoint_write"):
        step = int(point[1])
        real_save = tf.train.CheckpointManager.save

        def save(self, checkpoint_number=None, **kwargs):
            if checkpoint_number != step:
                return real_save(self, checkpoint_number=checkpoint_number, **kwargs)
            if kind == "checkpoint_data":          # runs before the manager's own callback
                kwargs["options"] = tf.train.CheckpointOptions(
                    experimental_write_callbacks=[lambda path: die()])
            else:
                threading.Timer(int(point[2]) / 1000.0, die).start()
            real_save(self, checkpoint_number=checkpoint_number, **kwargs)
            die()                                  # finished before the timer: still dies
        tf.train.CheckpointManager.save = save
    elif kind == "export_write":
        real_save_model = tf.saved_model.save

        def save_model(obj, export_dir, *a, **k):
            real_save_model(obj, export_dir, *a, **k)
            die()
        tf.saved_model.save = save_model
    elif kind == "export_swap":
        real_replace = os.replace

        def replace(src, dst, *a, **k):
            if os.path.basename(dst) == "saved_model" and ".tmp-" in src:
                die()
            return real_replace(src, dst, *a, **k)
        os.replace = replace
    elif kind == "push_copy":
        real_copytree = shutil.copytree

        def copytree(src, dst, *a, **k):
            real_copytree(src, dst, *a, **k)
            if ".tmp-" in os.path.basename(dst):
                die()
        shutil.copytree = copytree
    elif kind == "push_record":
        real_rename = os.rename

        def rename(src, dst, *a, **k):
            real_rename(src, dst, *a, **k)
            if os.path.basename(dst).isdigit():
                die()
        os.rename = rename
    else:
        sys.exit(f"unknown kill point {sys.argv[1]!r}")
    sys.argv = ["pipelines.train", *args]
    runpy.run_module("pipelines.train", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
