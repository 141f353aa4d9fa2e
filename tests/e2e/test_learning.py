"""Tests that fail when a model learns nothing: each model, trained briefly on the tiny project,
must beat the baseline that knows nothing of sequences by a wide margin."""

import json

from conftest import stage_main, update_params

# A little more training than the tiny pipeline's (which only checks that every stage runs).
CHAR_LEARNS = {"hidden_size": 32, "charrnn.batch_size": 8, "charrnn.seq_len": 32, "charrnn.steps": 150, "charrnn.lr": 0.01}
# 800 steps: at the default core_amplitude 0.1 the wave model starts slowly (README, "Wave model").
# Here its MSE is 0.50 after 200 steps, 0.056 after 400 and 0.023 after 800, against 0.51 for zero.
WAVE_LEARNS = {"wavernn.hidden_size": 16, "wavernn.steps": 800, "wavernn.rollout_end": 40, "wavernn.rollout_final": 80, "wavernn.lr": 0.01}


def test_the_char_rnn_scores_far_below_the_unigram_model_on_the_test_text(project):
    update_params(project, CHAR_LEARNS)
    for stage in ("download", "vocab", "ngram", "train_charrnn"):
        stage_main(stage, project)
    unigram = json.loads((project / "metrics/ngram.json").read_text())["per_order"]["1"]["test_loss"]
    charrnn = json.loads((project / "metrics/charrnn.json").read_text())["test_loss"]
    assert charrnn < 0.8 * unigram, (charrnn, unigram)


def test_the_wave_model_scores_far_below_predicting_zero(project):
    update_params(project, WAVE_LEARNS)
    for stage in ("train_wavernn", "evaluate_wave"):
        stage_main(stage, project)
    wave = json.loads((project / "metrics/wave.json").read_text())
    assert wave["mse_mean"] < 0.1 * wave["zero_predictor_mse_mean"], wave
