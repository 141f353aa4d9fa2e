"""Val nats/char at an equal CPU budget: the n-gram, the teaching loop, the project's default
char-RNN and a small causal transformer, on the default corpus split.

    python -m benchmarks.quality               # 5 minutes of training per model, about 23 minutes
    python -m benchmarks.quality --minutes 1

Needs the `vocab` stage's outputs (`dvc repro vocab`). Every neural model gets the same training
budget: a short calibration run measures its seconds per step, then it trains for the fixed
number of steps that fits in `--minutes` (so its learning-rate schedule knows its length), and
is scored on the whole val split. The n-gram is the ngram stage's model at params' max_order.
The transformer is nanoGPT's shape at 4 layers, 4 heads, 128 dimensions, blocks of 128,
trained on random blocks by the project's trainer (Adam, warm-up, cosine decay, clipping) in
the same precision as the char-RNN (`charrnn.precision`), and scored with windows of 128
advanced by 64, so that every scored character has at least 64 characters of context. Prints a table, then one JSON object on the last line.
"""

import argparse
import json
import math
import os
import time

os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks import recipes  # noqa: E402
from benchmarks.teaching_loop import SEED_WINDOW, teaching_model, train_teaching_loop  # noqa: E402
from stages.lib import ngram, params, streams, text, training  # noqa: E402

CALIBRATION_STEPS = 20
ROWS = ("ngram", "teaching", "transformer", "default")
TRANSFORMER = {"layers": 4, "heads": 4, "dim": 128, "block": 128}
TRANSFORMER_TRAINER = {
    "batch_size": 32,
    "lr": 1e-3,
    "lr_schedule": "cosine",
    "warmup_steps": 100,
    "min_lr_fraction": 0.1,
    "adam_beta2": 0.999,
    "weight_decay": 0.0,
    "clip": 1.0,
    "log_every": 50,
    "eval_every": 0,
    "checkpoint_every": 0,
}


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention and an MLP, each with a residual."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        batch, time_steps, dim = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(dim, dim=2)
        q, k, v = (t.view(batch, time_steps, self.heads, dim // self.heads).transpose(1, 2) for t in (q, k, v))
        attended = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attended.transpose(1, 2).reshape(batch, time_steps, dim))
        return x + self.mlp(self.norm2(x))


class TinyGPT(nn.Module):
    """A nanoGPT-style character transformer: token + position embeddings, blocks, tied decoder,
    nanoGPT's initialisation (normal 0.02, residual projections scaled by 1/sqrt(2 layers))."""

    def __init__(self, vocab_size, layers, heads, dim, block, precision="float32"):
        super().__init__()
        self.precision = precision
        self.tokens, self.positions = nn.Embedding(vocab_size, dim), nn.Embedding(block, dim)
        self.blocks = nn.Sequential(*(Block(dim, heads) for _ in range(layers)))
        self.norm = nn.LayerNorm(dim)
        self.decoder = nn.Linear(dim, vocab_size, bias=False)
        self.decoder.weight = self.tokens.weight
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for block in self.blocks:
            for projection in (block.proj, block.mlp[2]):
                nn.init.normal_(projection.weight, std=0.02 / math.sqrt(2 * layers))

    def forward(self, indices):
        positions = torch.arange(indices.shape[1], device=indices.device)
        with torch.autocast(indices.device.type, dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
            x = self.blocks(self.tokens(indices) + self.positions(positions))
            logits = self.decoder(self.norm(x))
        return logits.float()


class RandomBlocks:
    """nanoGPT's batches for training.fit: `batch_size` random blocks of the train split."""

    def __init__(self, train, block, batch_size, seed):
        self.data = torch.as_tensor(np.asarray(train, dtype=np.int64))
        self.block, self.batch_size = block, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def loss(self, model, step):
        starts = torch.randint(len(self.data) - self.block - 1, (self.batch_size,), generator=self.generator)
        windows = torch.stack([self.data[s : s + self.block + 1] for s in starts.tolist()])
        logits = model(windows[:, :-1])
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))


@torch.no_grad()
def transformer_val_nll(model, val, block, batch_size=64):
    """Mean NLL of val[1:] with windows of `block` advanced by block/2; each target scored once."""
    model.eval()
    data = torch.as_tensor(np.asarray(val, dtype=np.int64))
    targets = len(data) - 1
    starts = list(range(0, targets - block, block // 2)) + [targets - block]
    total, scored_until = 0.0, 0
    for first in range(0, len(starts), batch_size):
        chunk = starts[first : first + batch_size]
        windows = torch.stack([data[s : s + block + 1] for s in chunk])
        nll = nn.functional.cross_entropy(model(windows[:, :-1]).transpose(1, 2), windows[:, 1:], reduction="none")
        for row, start in zip(nll, chunk):
            total += float(row[scored_until - start :].sum())
            scored_until = start + block
    return total / targets


def steps_for_budget(seconds_per_step, minutes):
    return max(1, math.floor(minutes * 60 / seconds_per_step))


def ngram_row(vocab, train, val, config):
    began = time.perf_counter()
    order = config["ngram"]["max_order"]
    model = ngram.KneserNey(train, len(vocab), order)
    loss = float(-model.log_probs(val, order).mean())
    return {"model": f"Kneser-Ney {order}-gram", "steps": 0, "train_s": round(time.perf_counter() - began, 1), "val_loss": loss}


def teaching_row(vocab, train, val, minutes):
    _, chars_per_s = train_teaching_loop(teaching_model(len(vocab)), train, CALIBRATION_STEPS)
    steps = steps_for_budget(SEED_WINDOW / chars_per_s, minutes)
    model = teaching_model(len(vocab))
    began = time.perf_counter()
    train_teaching_loop(model, train, steps)
    seconds = time.perf_counter() - began
    loss = float(streams.stream_nll(model, val, torch.device("cpu")).mean())
    return {"model": "teaching loop: rnn_relu 3x512, batch 1 x 50", "steps": steps, "train_s": round(seconds, 1), "val_loss": loss}


def default_row(minutes, threads):
    steps = steps_for_budget(recipes.char_seconds_per_step({"threads": threads, "device": "cpu"}, CALIBRATION_STEPS), minutes)
    config, section = recipes.configure("char", {"steps": steps, "threads": threads, "device": "cpu"})
    result = recipes.run_char(config, section)
    name = f"project default: {config['cell']} {config['num_layers']}x{config['hidden_size']}"
    return {"model": name, "steps": steps, "train_s": result["train_seconds"], "val_loss": result["val_loss"]}


def transformer_row(vocab, train, val, minutes, seed, precision):
    def fit(steps):
        training.seed_everything(seed)
        model = TinyGPT(len(vocab), **TRANSFORMER, precision=precision)
        task = RandomBlocks(train, TRANSFORMER["block"], TRANSFORMER_TRAINER["batch_size"], seed)
        _, speed = recipes.train(model, task, {**TRANSFORMER_TRAINER, "steps": steps}, "transformer", 1)
        return model, speed["train_seconds"]

    _, seconds = fit(CALIBRATION_STEPS)
    steps = steps_for_budget(seconds / CALIBRATION_STEPS, minutes)
    model, seconds = fit(steps)
    loss = transformer_val_nll(model, val, TRANSFORMER["block"])
    return {"model": f"transformer: 4 layers, 4 heads, 128 dims, block 128, {precision}", "steps": steps, "train_s": round(seconds, 1), "val_loss": loss}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="training minutes per neural model")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--models", default=",".join(ROWS), help=f"a comma-separated subset of {','.join(ROWS)}")
    args = parser.parse_args()
    training.setup_device("cpu", args.threads)
    threads = torch.get_num_threads()
    config = params.load("train_charrnn") | params.load("ngram")
    vocab, train, val = text.load_encoded()
    builders = {
        "ngram": lambda: ngram_row(vocab, train, val, config),
        "teaching": lambda: teaching_row(vocab, train, val, args.minutes),
        "transformer": lambda: transformer_row(vocab, train, val, args.minutes, config["charrnn"]["seed"], config["charrnn"]["precision"]),
        "default": lambda: default_row(args.minutes, threads),
    }
    rows = [builders[name]() for name in args.models.split(",")]
    print(f"{'model':<52} {'steps':>6} {'train s':>8} {'val nats/char':>14} {'bits/char':>10}")
    for row in rows:
        row["val_loss"] = round(row["val_loss"], 4)
        print(f"{row['model']:<52} {row['steps']:>6} {row['train_s']:>8} {row['val_loss']:>14.4f} {text.nats_to_bits(row['val_loss']):>10.3f}")
    project = next((row for row in rows if row["model"].startswith("project default")), None)
    beats_all = None
    if project and len(rows) > 1:
        beats_all = all(project["val_loss"] < row["val_loss"] for row in rows if row is not project)
        print(f"project default {'beats' if beats_all else 'does NOT beat'} every other row at {args.minutes:g} minutes")
    print(json.dumps({"minutes": args.minutes, "threads": threads, "rows": rows, "project_beats_all": beats_all}))


if __name__ == "__main__":
    main()
