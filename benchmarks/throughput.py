"""Training throughput: the teaching loop against the project's trainer on the same model and threads.

    python -m benchmarks.throughput            # about 6 minutes on a 2-core CPU
    python -m benchmarks.throughput --quick    # under 3 minutes

Needs the `vocab` stage's outputs (`dvc repro vocab`). In one process, with the same threads:
1. the teaching example's model (embedding 100, rnn_relu 3 x 512) trained by the teaching loop
   (batch 1, windows of 50, Adam 1e-3, one .item() per step);
2. the same model trained by the project's trainer (training.fit: batched truncated BPTT with
   the charrnn section's batch_size and seq_len, host syncs only every log_every steps), in
   float32 as the teaching loop (`speedup_vs_seed_loop`) and in the params' precision;
3. the default char-RNN of params.yaml, trained by the project's trainer, and its utilisation
   of the CPU (benchmarks.flops): model FLOP per character, achieved FLOP/s, the fraction of
   the CPU's peak and of what a large matrix product reaches on the same threads;
4. the 1000-wave evaluation protocol (evaluate_wave params) on a wave model of the default size.
Prints a table, then one JSON object on the last line.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402

from benchmarks import flops, recipes  # noqa: E402
from benchmarks.teaching_loop import SEED_LR, SEED_MODEL, teaching_model, train_teaching_loop  # noqa: E402
from stages.lib import params, text, training, waves  # noqa: E402
from stages.lib.models import WaveRNN, wave_architecture  # noqa: E402

# (teaching-loop windows, project-trainer steps on the seed model, default-model steps)
STEPS = {"quick": (600, 20, 100), "full": (2000, 60, 300)}


def teaching_loop_speed(threads, windows):
    """Chars/s of the teaching loop on the teaching model."""
    training.setup_device("cpu", threads)
    vocab, train_split, _ = text.load_encoded()
    _, chars_per_s = train_teaching_loop(teaching_model(len(vocab)), train_split, windows)
    return chars_per_s


def trainer_speed(overrides, steps):
    """Chars/s of the project's trainer with params.yaml's charrnn section and `overrides`, and the model."""
    config, section = recipes.configure("char", {**overrides, "steps": steps, "device": "cpu"})
    _, model, task, _ = recipes.char_setup(config, section)
    _, speed = recipes.train(model, task, section, "charrnn", section["batch_size"] * section["seq_len"])
    return speed["chars_per_s"], model


def wave_eval_seconds():
    """Seconds for the protocol on evaluate_wave's validation waves with a default-size wave model."""
    config = params.load("evaluate_wave")
    protocol = config["evaluate_wave"]
    training.setup_device("cpu", protocol["threads"])
    wave_section = params.load("train_wavernn")["wavernn"]
    model = WaveRNN(**wave_architecture(wave_section)).eval()
    validation = waves.validation_waves(protocol["seed"], protocol["count"], protocol["length"])
    began = time.perf_counter()
    waves.protocol_mse(model, validation, protocol["warmup"])
    return time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps: finishes in under 3 minutes")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads for the char runs (0: torch's default)")
    args = parser.parse_args()
    windows, seed_model_steps, default_steps = STEPS["quick" if args.quick else "full"]
    threads = args.threads or torch.get_num_threads()

    char = params.load("train_charrnn")
    precision = char["charrnn"]["precision"]
    seed_model = {**SEED_MODEL, "lr": SEED_LR, "threads": threads}
    seed_loop = teaching_loop_speed(threads, windows)
    project, _ = trainer_speed(seed_model, seed_model_steps)
    project_params_precision, _ = trainer_speed({**seed_model, "precision": precision}, seed_model_steps)
    default, default_model = trainer_speed({"threads": threads}, default_steps)
    use = flops.utilisation(default_model, default, threads, precision)
    wave_eval = wave_eval_seconds()
    result = {
        "threads": threads,
        "seed_loop_chars_per_s": round(seed_loop, 1),
        "project_chars_per_s": round(project, 1),
        "speedup_vs_seed_loop": round(project / seed_loop, 2),
        f"project_{precision}_chars_per_s": round(project_params_precision, 1),
        "default_model": f"{char['cell']} {char['num_layers']}x{char['hidden_size']} {precision}",
        "default_chars_per_s": round(default, 1),
        **{f"default_{key}": value for key, value in use.items()},
        "wave_eval_s": round(wave_eval, 3),
    }
    batch = f"batch {char['charrnn']['batch_size']} x {char['charrnn']['seq_len']}"
    rows = [
        ("teaching model (rnn_relu 3x512), teaching loop (batch 1 x 50)", seed_loop),
        (f"teaching model, project trainer ({batch}), float32", project),
        (f"teaching model, project trainer ({batch}), {precision}", project_params_precision),
        (f"default model ({result['default_model']}), project trainer", default),
    ]
    print(f"{'run':<62} {'chars/s':>10}")
    for name, chars_per_s in rows:
        print(f"{name:<62} {chars_per_s:>10,.0f}")
    peak = f"{use['peak_flops'] / 1e12:.2f} TFLOP/s" if use["peak_flops"] else "unknown (no clock)"
    fraction = f"{use['fraction_of_peak']:.1%}" if use["peak_flops"] else "-"
    print(f"default model: {use['flop_per_char'] / 1e6:.1f} MFLOP per char, {use['achieved_flops'] / 1e12:.3f} TFLOP/s achieved; "
          f"{fraction} of the {peak} peak ({threads} cores, {use['peak_unit']}); "
          f"{use['fraction_of_matmul']:.1%} of a large {precision} matrix product's {use['matmul_flops'] / 1e12:.3f} TFLOP/s")
    print(f"speed-up of the trainer on the teaching model, both float32: {project / seed_loop:.1f}x")
    print(f"1000-wave protocol evaluation: {wave_eval:.2f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
