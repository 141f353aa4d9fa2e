"""The default wave recipe on several seeds: protocol MSE and training time of each.

    python -m benchmarks.wave_seeds [--seeds 0,1,2] [--set key=value ...]

Trains the wave model of params.yaml (the `wavernn` section, `--set` overriding its keys) once
per seed through the code the `train_wavernn` stage runs (benchmarks.recipes.run_wave:
training.fit on waves.WaveTask), one after the other on the section's threads, and scores each
with the fixed protocol on the 1000 validation waves. Only `seed` changes between the runs.
Prints a table, then one JSON object on the last line.
"""

import argparse
import json

from benchmarks import recipes


def parse_value(text):
    """A --set value as JSON when it parses (numbers, true/false), else the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a wavernn key")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    overrides = dict(item.split("=", 1) for item in args.set)
    overrides = {key: parse_value(value) for key, value in overrides.items()}
    rows = []
    print(f"{'seed':>4} {'mse_mean':>10} {'mse_median':>10} {'mse_worst':>10} {'train_s':>8}")
    for seed in seeds:
        config, section = recipes.configure("wave", {**overrides, "seed": seed})
        result = recipes.run_wave(config, section)
        rows.append(result)
        print(f"{seed:>4} {result['mse_mean']:10.3g} {result['mse_median']:10.3g} {result['mse_worst']:10.3g} {result['train_seconds']:8.1f}", flush=True)
    print(json.dumps({
        "seeds": seeds,
        "overrides": overrides,
        "mse_mean": [row["mse_mean"] for row in rows],
        "mse_worst": [row["mse_worst"] for row in rows],
        "train_seconds": [row["train_seconds"] for row in rows],
        "max_mse_mean": max(row["mse_mean"] for row in rows),
        "max_mse_worst": max(row["mse_worst"] for row in rows),
    }))


if __name__ == "__main__":
    main()
