"""The default char-RNN on several seeds: val loss on the whole val split, static and dynamic, and training time of each.

    python -m benchmarks.char_seeds [--seeds 0,1,2] [--set key=value ...]

Trains the char-RNN of params.yaml (the `charrnn` section, `--set` overriding its keys; `cell`,
`hidden_size` and `num_layers` are the top-level ones) once per seed through the code the
`train_charrnn` stage runs (benchmarks.recipes.run_char: training.fit on
streams.TextStreamTask), one after the other on the section's threads, and scores each on the
whole val split, statically and under the dynamic evaluation of params.yaml's `dynamic_eval`
section. Only `seed` changes between the runs: the model's initialisation and the streams'
random offsets. Needs the `vocab` stage's outputs (`dvc repro vocab`). Prints a table,
then one JSON object on the last line.
"""

import json
import statistics

from benchmarks import recipes
from stages.lib import params


def main():
    args = recipes.seeds_parser(__doc__.splitlines()[0], "charrnn").parse_args()
    seeds, overrides = recipes.seeds_and_overrides(args)
    rows = recipes.over_seeds(
        "char", seeds, overrides,
        f"{'seed':>4} {'val nats/char':>13} {'dynamic':>8} {'bits/char':>9} {'train_s':>8} {'chars/s':>8}",
        lambda seed, r: f"{seed:>4} {r['val_loss']:13.5f} {r['dynamic_val_loss']:8.5f} {r['val_bpc']:9.4f} "
                        f"{r['train_seconds']:8.1f} {r['chars_per_s']:8,.0f}",
        dynamic_section=params.load("dynamic_eval")["dynamic_eval"],
    )
    summary = {"seeds": seeds, "overrides": overrides, "train_seconds": [row["train_seconds"] for row in rows]}
    for key, name in (("val_loss", "static"), ("dynamic_val_loss", "dynamic")):
        losses = [round(row[key], 5) for row in rows]
        mean = statistics.fmean(losses)
        std = round(statistics.stdev(losses), 5) if len(losses) > 1 else None  # undefined for one seed
        print(f"{name}: mean {mean:.5f} nats/char, std {'undefined' if std is None else f'{std:.5f}'} (sample, n={len(losses)})")
        prefix = "" if key == "val_loss" else "dynamic_"
        summary.update({key: losses, f"{prefix}mean": round(mean, 5), f"{prefix}std": std})
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
