"""The default wave recipe on several seeds: MSE on the selection waves and on the protocol's, and training time.

    python -m benchmarks.wave_seeds [--seeds 0,1,2] [--set key=value ...]

Trains the wave model of params.yaml (the `wavernn` section, `--set` overriding its keys) once
per seed through the code the `train_wavernn` stage runs (benchmarks.recipes.run_wave:
training.fit on waves.WaveTask), one after the other on the section's threads, and scores each
by the protocol on the selection waves (recipes.SELECTION_SEED: choose on these) and on the
protocol's own 1000 validation waves (report these). Only `seed` changes between the runs.
Prints a table, then one JSON object on the last line.
"""

import json

from benchmarks import recipes


def main():
    args = recipes.seeds_parser(__doc__.splitlines()[0], "wavernn").parse_args()
    seeds, overrides = recipes.seeds_and_overrides(args)
    rows = recipes.over_seeds(
        "wave", seeds, overrides,
        f"{'seed':>4} {'select mean':>11} {'select worst':>12} {'protocol mean':>13} {'protocol worst':>14} {'train_s':>8}",
        lambda seed, r: f"{seed:>4} {r['mse_mean']:11.3g} {r['mse_worst']:12.3g} {r['protocol_mse_mean']:13.3g} "
                        f"{r['protocol_mse_worst']:14.3g} {r['train_seconds']:8.1f}",
    )
    print(json.dumps({
        "seeds": seeds,
        "overrides": overrides,
        "mse_mean": [row["mse_mean"] for row in rows],
        "mse_worst": [row["mse_worst"] for row in rows],
        "train_seconds": [row["train_seconds"] for row in rows],
        "max_mse_mean": max(row["mse_mean"] for row in rows),
        "max_mse_worst": max(row["mse_worst"] for row in rows),
        "protocol_mse_mean": [row["protocol_mse_mean"] for row in rows],
        "protocol_mse_worst": [row["protocol_mse_worst"] for row in rows],
    }))


if __name__ == "__main__":
    main()
