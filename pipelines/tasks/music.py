"""Music generation, one-to-many: a piano roll, each sampled step fed back as the next
input (Bach chorales).

transform: each chorale's roll is cropped to the pitch range of the train split
  (P = highest - lowest + 1 pitches; notes outside it in other splits are dropped and
  counted) and cut into pieces of at most model.max_steps steps.
model: `rnn_tf.models.one_to_many` with sigmoid outputs: ŷ<t> = P(pitch sounds at t).
  Training uses teacher forcing: inputs [0, y<1>, ..., y<T-1>], targets y<1..T>, and
  transposes each batch by a random number of semitones (model.transpose).
loss: the lecture's per-step logistic loss L<t> = Σ_pitch -y log ŷ - (1-y) log(1-ŷ);
  reported as the mean over time steps of L<t> (nats per time step), each piece from a
  zero state.
export: generate(length: int32, temperature: float32, seed: int32) -> {"roll":
  float32[length, P], "lowest_pitch": int32} (serving_default = generate), and
  score(rolls: float32[N, T, 128]) -> {"nats_per_step": float32[N]}. Inputs are checked
  as `pipelines.tasks.serving` states (ranks, 0 <= length <= 100,000, temperature >= 0).
  The export stage also writes `export/sample.mid` (music21) from seed 0.
"""

import os

import numpy as np
import tensorflow as tf

from pipelines.datasets.bach_chorales import roll_to_stream
from pipelines import training
from pipelines.tasks import base, serving
from rnn_tf import heads, models
from rnn_tf.sampling import Generator


class MusicTask(base.Task):
    primary = "nats_per_step"
    higher_is_better = False
    signatures = ("serving_default", "generate", "score")

    def encode(self, examples, fit):
        rolls = [np.asarray(e["roll"], np.float32) for e in examples]
        if fit:
            sounding = np.nonzero(np.concatenate(rolls).any(0))[0]
            self.meta = {"lowest_pitch": int(sounding.min()),
                         "highest_pitch": int(sounding.max()), "stats": {}}
        lo, hi = self.meta["lowest_pitch"], self.meta["highest_pitch"]
        dropped = int(sum(r[:, :lo].sum() + r[:, hi + 1:].sum() for r in rolls))
        if fit:
            self.meta["stats"]["train_notes_dropped"] = dropped
        else:
            self.meta["stats"].setdefault("notes_outside_range", 0)
            self.meta["stats"]["notes_outside_range"] += dropped
        n = self.config.model.max_steps
        pieces = [r[i:i + n, lo:hi + 1] for r in rolls for i in range(0, len(r), n)]
        lengths = np.array([len(p) for p in pieces], np.int32)
        return {"roll": tf.RaggedTensor.from_row_lengths(np.concatenate(pieces), lengths),
                "length": lengths}

    def length_of(self, element):
        return element["length"]

    @property
    def pitches(self):
        return self.meta["highest_pitch"] - self.meta["lowest_pitch"] + 1

    def build_model(self):
        m = self.config.model
        model = models.one_to_many(self.pitches, self.pitches, units=m.units, cell=m.cell,
                                   num_layers=m.num_layers, dropout=m.dropout,
                                   output_activation="sigmoid", name="music")
        return model

    def _per_step(self, model, roll, training, lengths=None):
        """roll <float32>[B, T, P], lengths <int32>[B] or None (all T) ->
        (L<t> <float32>[B, T], mask <float32>[B, T])."""
        x0 = tf.zeros(tf.gather(tf.shape(roll), [0, 2]), roll.dtype)       # x<1> = 0
        x = models.teacher_forcing_inputs(x0, roll)
        logits = model(x, training=training)
        per_step = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(
            labels=roll, logits=logits), -1)
        if lengths is None:
            lengths = tf.fill(tf.shape(roll)[:1], tf.shape(roll)[1])
        mask = tf.sequence_mask(lengths, tf.shape(roll)[1], tf.float32)   # padded steps
        return per_step, mask

    def transpose(self, roll, seed):
        """Training augmentation: the whole batch moved by k semitones, k uniform in
        [-model.transpose, model.transpose] drawn from the stateless `seed` <int64>[2];
        notes pushed out of the pitch range drop."""
        k = self.config.model.transpose
        shift = tf.random.stateless_uniform([], seed, -k, k + 1, dtype=tf.int32)
        moved = tf.roll(roll, shift, axis=2)
        column = tf.range(tf.shape(roll)[2])
        keep = tf.logical_and(column >= shift, column < tf.shape(roll)[2] + shift)
        return moved * tf.cast(keep, roll.dtype)

    def loss_units(self, batch):
        return tf.reduce_sum(batch["length"])                  # valid steps (per-step mean)

    def loss(self, model, batch, training, seed=None):
        roll = batch["roll"]
        if training and seed is not None and self.config.model.get("transpose", 0):
            roll = self.transpose(roll, seed)
        per_step, mask = self._per_step(model, roll, training, batch["length"])
        # the lecture's L = Σ_t L<t>, here normalised per step (mean over valid steps)
        loss = heads.reduce_per_step(per_step, mask, "mean_per_token")
        return loss, {"nats_per_step": loss}

    def bptt_view(self, model, batch):
        """The first recurrent layer; a loss per time step."""
        def loss_fn(model, b):
            per_step, mask = self._per_step(model, b["roll"], False, b["length"])
            return per_step * mask
        return self.probed_view(model, model.get_layer("rnn_0"), loss_fn, batch, "length")

    def evaluate(self, model, features):
        total, steps = 0.0, 0.0
        for batch in self.dataset(features, 32):
            per_step, mask = self.forward_steps(model, batch["roll"], batch["length"])
            total += float(tf.reduce_sum(per_step * mask))
            steps += float(tf.reduce_sum(mask))
        return {"nats_per_step": total / max(steps, 1.0), "steps": int(steps),
                "pieces": base.num_examples(features)}

    def forward_steps(self, model, roll, lengths):
        cache = self.__dict__.setdefault("_steps", {})
        if id(model) not in cache:
            cache[id(model)] = (model, tf.function(
                lambda r, n: self._per_step(model, r, False, n), reduce_retracing=True))
        return cache[id(model)][1](roll, lengths)

    def samples(self, model, step, features, length=64):
        """A generated piano roll (64 steps from silence, temperature 1), as an image."""
        gens = self.__dict__.setdefault("_generators", {})
        if id(model) not in gens:
            gens[id(model)] = (model, Generator(model))
        roll = gens[id(model)][1].generate_from(tf.zeros([1, self.pitches]), length=length,
                                                temperature=1.0, seed=step)
        return {"piano_roll": piano_roll_image(roll.numpy()[0], self.meta["lowest_pitch"])}

    def serving_module(self, model):
        module = tf.Module(name="music_serving")
        base.track_variables(module, model)
        gen = Generator(model)
        P, lo = self.pitches, self.meta["lowest_pitch"]
        hi = self.meta["highest_pitch"]

        @serving.signature(tf.TensorSpec([], tf.int32, name="length"),
                           tf.TensorSpec([], tf.float32, name="temperature"),
                           tf.TensorSpec([], tf.int32, name="seed"))
        def generate(length, temperature, seed):
            with tf.control_dependencies(serving.check_generation(length, temperature)):
                start = tf.zeros([1, 1, P])
            roll = gen.sample(start, length, temperature, seed)[0]
            return {"roll": roll, "lowest_pitch": tf.constant(lo)}

        @serving.signature(tf.TensorSpec([None, None, 128], tf.float32, name="rolls"))
        def score(rolls):
            per_step, mask = self._per_step(model, rolls[:, :, lo:hi + 1], False)
            return {"nats_per_step": tf.reduce_sum(per_step * mask, 1)
                    / tf.maximum(tf.reduce_sum(mask, 1), 1.0)}

        module.serve = generate
        module.generate = generate
        module.score = score
        return module

    def after_export(self, saved_model_dir, export_dir, model):
        write_sample(saved_model_dir, os.path.join(export_dir, "sample.mid"))

    def sample(self, saved_model):
        out = saved_model.signatures["generate"](length=tf.constant(64),
                                                 temperature=tf.constant(1.0),
                                                 seed=tf.constant(0))
        roll = out["roll"].numpy()
        return (f"generated {roll.shape[0]} steps, {int(roll.sum())} note-steps, "
                f"{roll.sum(1).mean():.2f} pitches per step")


def write_midi(roll, lowest_pitch, path):
    """Writes a piano roll <[time, P]> as a MIDI file (music21), atomically."""
    s = roll_to_stream(roll, lowest_pitch)
    tmp = path + ".tmp.mid"
    s.write("midi", fp=tmp)
    os.replace(tmp, path)
    return path


def write_sample(saved_model_dir, path, length=128, temperature=1.0, seed=0):
    """Generates from an exported model and writes `path` (.mid)."""
    model = tf.saved_model.load(saved_model_dir)
    out = model.signatures["generate"](length=tf.constant(length),
                                       temperature=tf.constant(temperature),
                                       seed=tf.constant(seed))
    return write_midi(out["roll"].numpy(), int(out["lowest_pitch"]), path)




def piano_roll_image(roll, lowest_pitch):
    """A piano roll <[time, P]> (0/1) as a [1, H, W, 4] uint8 PNG image for tf.summary:
    time across, pitch up, MIDI numbers on the axis."""
    roll = np.asarray(roll)

    def draw(plt, fig):
        ax = fig.subplots()
        ax.imshow(roll.T, origin="lower", aspect="auto", cmap="Greys",
                  interpolation="nearest", extent=(0, roll.shape[0], lowest_pitch - 0.5,
                                                   lowest_pitch + roll.shape[1] - 0.5))
        ax.set_xlabel("time step")
        ax.set_ylabel("MIDI pitch")
        ax.set_title(f"generated: {int(roll.sum())} note-steps over {roll.shape[0]} steps")
    return training.figure_image(draw, (8, 3.2))
