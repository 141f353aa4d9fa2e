"""The default wave recipe on several seeds: MSE on the selection waves and on the protocol's, and training time.

    python -m benchmarks.wave_seeds [--seeds 0,1,2] [--set key=value ...]

Trains the wave model of params.yaml (the `wavernn` section, `--set` overriding its keys) once
per seed through the code the `train_wavernn` stage runs (benchmarks.recipes.run_wave:
training.fit on waves.WaveTask), one after the other on the section's threads, and scores each
by the protocol on the selection waves (recipes.SELECTION_SEED: choose on these) and on the
protocol's own 1000 validation waves (report these), with the drift at the end of the free
run on the selection waves (recipes.error_parts: the mean amplitude ratio A'/A and phase error in
radians, positive = ahead, fitted on the last 100 steps). Only `seed` changes between the runs.
Prints a table, then one JSON object on the last line.
"""

import json

from benchmarks import recipes


def main():
    args = recipes.seeds_parser(__doc__.splitlines()[0], "wavernn").parse_args()
    seeds, overrides = recipes.seeds_and_overrides(args)
    rows = recipes.over_seeds(
        "wave", seeds, overrides,
        f"{'seed':>4} {'select mean':>11} {'select worst':>12} {'amp ratio':>9} {'phase rad':>10} "
        f"{'protocol mean':>13} {'protocol worst':>14} {'train_s':>8}",
        lambda seed, r: f"{seed:>4} {r['mse_mean']:11.3g} {r['mse_worst']:12.3g} {r['amplitude_ratio_mean']:9.5f} "
                        f"{r['phase_error_rad_mean']:10.5f} {r['protocol_mse_mean']:13.3g} "
                        f"{r['protocol_mse_worst']:14.3g} {r['train_seconds']:8.1f}",
    )
    print(json.dumps({
        "seeds": seeds,
        "overrides": overrides,
        "mse_mean": [row["mse_mean"] for row in rows],
        "mse_worst": [row["mse_worst"] for row in rows],
        "amplitude_ratio_mean": [row["amplitude_ratio_mean"] for row in rows],
        "phase_error_rad_mean": [row["phase_error_rad_mean"] for row in rows],
        "tail_mse": [row["tail_mse"] for row in rows],
        "tail_mse_from_amplitude_alone": [row["tail_mse_from_amplitude_alone"] for row in rows],
        "tail_mse_from_phase_alone": [row["tail_mse_from_phase_alone"] for row in rows],
        "mse_at_harmonic_1": [row["mse_at_harmonic_1"] for row in rows],
        "mse_at_harmonic_2": [row["mse_at_harmonic_2"] for row in rows],
        "mse_at_harmonic_3": [row["mse_at_harmonic_3"] for row in rows],
        "train_seconds": [row["train_seconds"] for row in rows],
        "max_mse_mean": max(row["mse_mean"] for row in rows),
        "max_mse_worst": max(row["mse_worst"] for row in rows),
        "protocol_mse_mean": [row["protocol_mse_mean"] for row in rows],
        "protocol_mse_worst": [row["protocol_mse_worst"] for row in rows],
    }))


if __name__ == "__main__":
    main()
