"""A screenshot of TensorBoard's BPTT view from a real run, for docs/.

    python -m pipelines.train                                  # the main job: runs/default
    python benchmarks/tensorboard_screenshot.py                # -> docs/images/bptt_gradient.png

Serves `<workdir>/train/logs` with `tensorboard` on a free port, opens the Time Series
dashboard filtered to the BPTT view (`bptt_gradient`, `gradient_reach_steps`) in headless
Chromium (Debian's `chromium`), saves the screenshot, stops the server, and writes the
JSON record benchmarks/records/tensorboard_screenshot.json (revision, date, machine,
command, and the run's steps and reach). `serve` and `chromium` are also what
tests/test_tensorboard_browser.py uses.
"""

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks import record  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-headless-shell")
RECORD = os.path.join(ROOT, "benchmarks", "records", "tensorboard_screenshot.json")


def get_json(base, path, **query):
    """The JSON a TensorBoard data endpoint answers."""
    q = ("?" + urllib.parse.urlencode(query)) if query else ""
    with urllib.request.urlopen(f"{base}{path}{q}", timeout=30) as r:
        return json.loads(r.read())


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(logdir, ready_tag="loss", timeout=120):
    """`tensorboard --logdir logdir` on 127.0.0.1 and a free port; yields its base URL
    once the validation run's `ready_tag` is loaded, and stops the server by its PID."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", f"--logdir={logdir}",
                               "--host=127.0.0.1", f"--port={port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if ready_tag in get_json(base, "/data/plugin/scalars/tags").get(
                        "validation", {}):
                    break
            except OSError:
                pass
            if server.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"tensorboard on port {port} did not come up with "
                                   f"{logdir} in {timeout} s")
            time.sleep(1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)


def chromium(url, *args, size=(1280, 900)):
    """Runs headless Chromium on `url` with `args` (--dump-dom, --screenshot=...) in a
    fresh profile; returns its stdout."""
    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                              f"--user-data-dir={profile}",
                              f"--window-size={size[0]},{size[1]}",
                              "--virtual-time-budget=20000", *args, url],
                             capture_output=True, text=True, timeout=180)
    if out.returncode != 0:
        raise RuntimeError(f"chromium failed on {url}: {out.stderr[-2000:]}")
    return out.stdout


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", default=os.path.join(ROOT, "runs", "default"))
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "images", "bptt_gradient.png"))
    args = p.parse_args()
    logs = os.path.join(args.workdir, "train", "logs")
    if not os.path.isdir(logs):
        raise SystemExit(f"error: no TensorBoard logs in {logs}; run the pipeline first "
                         "(python -m pipelines.train) or pass --workdir")
    rec = record.start()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with serve(logs) as base:
        reach = get_json(base, "/data/plugin/scalars/scalars", run="train",
                         tag="gradient_reach_steps")
        tmp = args.out + ".tmp.png"
        chromium(base + "/?tagFilter=" + urllib.parse.quote("bptt_gradient|gradient_reach")
                 + "#timeseries", f"--screenshot={tmp}", size=(1400, 1000))
        os.replace(tmp, args.out)
    with open(os.path.join(args.workdir, "train", "manifest.json")) as f:
        trained = json.load(f)
    rec["screenshot"] = os.path.relpath(args.out, ROOT)
    rec["run"] = {"workdir": os.path.relpath(args.workdir, ROOT),
                  "steps": trained["metrics"]["steps"],
                  "gradient_reach_steps": [(s, v) for _, s, v in reach]}
    record.write(RECORD, rec)
    print(f"{args.out}: gradient_reach_steps by step {rec['run']['gradient_reach_steps']}")


if __name__ == "__main__":
    main()
