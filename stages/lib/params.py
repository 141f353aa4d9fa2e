"""The schema of params.yaml: every key, its type and range, and which stage reads which keys.

A stage calls `load(stage)` first: it checks the whole file for unknown keys, then the type and
range of every key the stage reads, and returns those sections. Any problem raises a UserError
that names the key and what is allowed, before the stage does any work.
"""

import math
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML, YAMLError

from .cli import UserError

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru", "mingru", "qrnn", "sru")
MAX_WAVE_VALUES = 100_000_000  # evaluate_wave.count x evaluate_wave.length


@dataclass(frozen=True)
class Spec:
    """What one parameter may hold."""

    kind: type
    low: float | None = None  # inclusive lower bound
    high: float | None = None  # inclusive upper bound
    above: float | None = None  # exclusive lower bound
    choices: tuple = ()

    def describe(self):
        """The allowed values, in words."""
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        parts = [self.kind.__name__]
        if self.above is not None:
            parts.append(f"> {self.above}")
        if self.low is not None:
            parts.append(f">= {self.low}")
        if self.high is not None:
            parts.append(f"<= {self.high}")
        return " ".join(parts)

    def check(self, key, value, where="params.yaml"):
        """Return `value` converted to this spec's type, or raise a UserError naming `key` (found in `where`)."""
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        ok = isinstance(value, self.kind) and not (self.kind is not bool and isinstance(value, bool))
        if ok and self.kind is float:
            ok = math.isfinite(value)
        if ok and self.choices:
            ok = value in self.choices
        if ok and self.low is not None:
            ok = value >= self.low
        if ok and self.high is not None:
            ok = value <= self.high
        if ok and self.above is not None:
            ok = value > self.above
        if not ok:
            raise UserError(f"{where}: '{key}' is {value!r}; allowed: {self.describe()}")
        return value


# Upper bounds catch a slip of the keyboard before it becomes an out-of-memory error or an
# hour-long hang; they are far above anything this study needs.
MAX_SIZE = 4096  # widths, batch sizes, windows
MAX_STEPS = 10_000_000
MAX_LENGTH = 1_000_000  # characters to generate, wave steps

SEED = Spec(int, low=0, high=2**32 - 1)  # numpy's limit
SIZE = Spec(int, low=1, high=MAX_SIZE)
STEPS = Spec(int, low=1, high=MAX_STEPS)
STEP_COUNT = Spec(int, low=0, high=MAX_STEPS)
LENGTH = Spec(int, low=1, high=MAX_LENGTH)
PROBABILITY = Spec(float, low=0.0, high=1.0)
POSITIVE = Spec(float, above=0.0)
TEXT = Spec(str)

# The seed, optimisation, logging and device knobs both trainers share (see training.fit).
TRAINER = {
    "seed": SEED,  # one per model: a seed sweep of one never retrains the other
    "steps": STEPS,
    "batch_size": SIZE,
    "lr": POSITIVE,
    "lr_schedule": Spec(str, choices=("cosine", "constant")),
    "warmup_steps": STEP_COUNT,
    "min_lr_fraction": PROBABILITY,
    "adam_beta2": Spec(float, low=0.0, high=0.99999),
    "weight_decay": Spec(float, low=0.0),
    "clip": POSITIVE,
    "log_every": STEPS,
    "eval_every": STEP_COUNT,
    "checkpoint_every": STEP_COUNT,
    "device": Spec(str, choices=("auto", "cpu", "cuda")),
    "threads": Spec(int, low=0, high=1024),
}

SCHEMA = {
    "cell": Spec(str, choices=CELLS),
    "hidden_size": SIZE,
    "num_layers": Spec(int, low=1, high=16),
    "corpus": {"path": TEXT, "url": TEXT, "sha256": TEXT},
    "vocab": {"val_fraction": Spec(float, above=0.0, high=0.5), "test_fraction": Spec(float, above=0.0, high=0.5)},
    "ngram": {"max_order": Spec(int, low=1, high=12)},
    "charrnn": {
        "embedding_dim": Spec(int, low=0, high=MAX_SIZE),
        "dropout": Spec(float, low=0.0, high=0.9),
        "seq_len": SIZE,
        "precision": Spec(str, choices=("float32", "bfloat16")),
        "skip_connections": Spec(bool),
        **TRAINER,
        "eval_chars": Spec(int, low=1, high=100_000_000),
    },
    "dynamic_eval": {
        "method": Spec(str, choices=("rms", "sgd")),
        "step": Spec(float, low=0.0, high=10.0),
        "decay": PROBABILITY,
        "segment_len": SIZE,
        "gradient_chars": Spec(int, low=1, high=100_000_000),
        "device": TRAINER["device"],
        "threads": TRAINER["threads"],
    },
    "generate": {
        "seed": SEED,
        "temperature": Spec(float, low=0.0, high=100.0),
        "top_k": Spec(int, low=0, high=1_000_000),
        "prime": TEXT,
        "length": LENGTH,
    },
    "wavernn": {
        "cell": Spec(str, choices=CELLS),
        "hidden_size": SIZE,
        "num_layers": Spec(int, low=1, high=16),
        "predict_delta": Spec(bool),
        "normalize_amplitude": Spec(bool),
        "core_amplitude": Spec(float, above=0.0, high=1000.0),
        "mode": Spec(str, choices=("free_running", "teacher_forcing")),
        **TRAINER,
        "teacher_steps": LENGTH,
        "rollout_start": LENGTH,
        "rollout_end": LENGTH,
        "rollout_growth_fraction": PROBABILITY,
        "rollout_final": LENGTH,
        "rollout_final_fraction": PROBABILITY,
        "sequence_length": Spec(int, low=2, high=MAX_LENGTH),
        "loss_warmup": Spec(int, low=0, high=MAX_LENGTH),
        "feedback_start": PROBABILITY,
        "feedback_increase": PROBABILITY,
        "feedback_every": STEPS,
        "feedback_max": PROBABILITY,
    },
    "evaluate_wave": {
        "seed": SEED,
        "count": Spec(int, low=1, high=100_000),
        "length": Spec(int, low=2, high=MAX_LENGTH),
        "warmup": LENGTH,
        "threads": Spec(int, low=0, high=1024),
    },
    "plot": {"rolling_window": STEPS},
}

# The top-level keys each stage reads; dvc.yaml lists exactly these under the stage's `params:`.
STAGE_PARAMS = {
    "download": ["corpus"],
    "vocab": ["vocab"],
    "ngram": ["ngram"],
    "train_charrnn": ["cell", "hidden_size", "num_layers", "charrnn"],
    "dynamic_eval": ["dynamic_eval"],
    "generate": ["generate", "ngram"],
    "mix": [],
    "train_wavernn": ["wavernn"],
    "evaluate_wave": ["evaluate_wave"],
    "plot": ["plot"],
}


def read_yaml(path):
    """Parse params.yaml with the YAML 1.2 parser that DVC itself uses."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except YAMLError as error:
        raise UserError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of parameters at the top level")
    return data


def check_known(data, schema, prefix=""):
    """Raise a UserError for any key of `data` that the schema does not know."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in schema:
            known = ", ".join(sorted(schema))
            raise UserError(f"params.yaml: unknown key '{name}'; known keys here: {known}")
        if isinstance(schema[key], dict):
            if not isinstance(value, dict):
                raise UserError(f"params.yaml: '{name}' must be a section of keys")
            check_known(value, schema[key], prefix=f"{name}.")


def check_values(data, schema, prefix=""):
    """Return `data` with every value checked against the schema; all keys are required."""
    checked = {}
    for key, spec in schema.items():
        name = f"{prefix}{key}"
        if key not in data:
            raise UserError(f"params.yaml: missing key '{name}'")
        if isinstance(spec, dict):
            checked[key] = check_values(data[key], spec, prefix=f"{name}.")
        else:
            checked[key] = spec.check(name, data[key])
    return checked


def check_relations(params):
    """Checks that involve more than one key."""
    corpus = params.get("corpus")
    if corpus and corpus["path"] and corpus["url"]:
        raise UserError("params.yaml: set 'corpus.path' or 'corpus.url', not both")
    vocab = params.get("vocab")
    if vocab and vocab["val_fraction"] + vocab["test_fraction"] >= 0.9:
        raise UserError("params.yaml: 'vocab.val_fraction' + 'vocab.test_fraction' must be < 0.9 (the rest trains)")
    wave = params.get("wavernn")
    if wave:
        if wave["rollout_start"] > wave["rollout_end"]:
            raise UserError("params.yaml: 'wavernn.rollout_start' must not exceed 'wavernn.rollout_end'")
        if wave["normalize_amplitude"] and wave["mode"] == "teacher_forcing":
            raise UserError(
                "params.yaml: 'wavernn.normalize_amplitude' needs a warm-up to measure the amplitude; "
                "'wavernn.mode: teacher_forcing' has none: set normalize_amplitude to false"
            )
        if wave["loss_warmup"] >= wave["sequence_length"] - 1:
            raise UserError("params.yaml: 'wavernn.loss_warmup' must be < 'wavernn.sequence_length' - 1")
    for section in ("charrnn", "wavernn"):
        trainer = params.get(section)
        if trainer and trainer["lr"] * trainer["weight_decay"] >= 1:
            raise UserError(
                f"params.yaml: '{section}.lr' x '{section}.weight_decay' must be < 1 "
                f"(it is {trainer['lr'] * trainer['weight_decay']:g}; decoupled weight decay shrinks every weight by that fraction each step)"
            )
    evaluation = params.get("evaluate_wave")
    if evaluation and evaluation["count"] * evaluation["length"] > MAX_WAVE_VALUES:
        raise UserError(
            f"params.yaml: 'evaluate_wave.count' x 'evaluate_wave.length' is "
            f"{evaluation['count'] * evaluation['length']:,}; allowed: <= {MAX_WAVE_VALUES:,} "
            f"(the protocol holds several float arrays of that size, {MAX_WAVE_VALUES * 16 // 2**30} GiB at the limit)"
        )
    if evaluation and evaluation["warmup"] >= evaluation["length"] - 1:
        raise UserError(
            "params.yaml: 'evaluate_wave.warmup' must be < 'evaluate_wave.length' - 1 "
            "(the protocol scores the steps after the warm-up and its first prediction)"
        )


def load(stage, path="params.yaml"):
    """Validate params.yaml for `stage` and return the sections and keys it reads."""
    data = read_yaml(path)
    check_known(data, SCHEMA)
    wanted = {key: SCHEMA[key] for key in STAGE_PARAMS[stage]}
    params = check_values(data, wanted)
    check_relations(params)
    return params
