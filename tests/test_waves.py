import math

import pytest
import torch

from stages.lib import waves


class Oracle:
    """Knows every wave; predicts the true next value whatever it is fed."""

    def __init__(self, values):
        self.values = values

    def __call__(self, inputs, state):
        t = inputs.shape[1]
        return self.values[:, 1 : t + 1, None], t

    def step(self, value, t):
        return self.values[:, t + 1 : t + 2], t + 1


class Zero:
    def __call__(self, inputs, state):
        return torch.zeros_like(inputs), None

    def step(self, value, state):
        return torch.zeros_like(value), None


class Echo:
    """Predicts that the next value equals the one it reads."""

    def __call__(self, inputs, state):
        return inputs, None

    def step(self, value, state):
        return value, None


@pytest.fixture(scope="module")
def validation():
    return waves.validation_waves(seed=7, count=200, length=300)


def test_waves_follow_the_spec(validation):
    assert validation.values.shape == (200, 300)
    assert 0.5 <= validation.amplitude.min() and validation.amplitude.max() <= 1.5
    assert 0 <= validation.phase.min() and validation.phase.max() < 2 * math.pi
    t = torch.arange(300, dtype=torch.float64) * 10 / 99
    expected = validation.amplitude[3].double() * torch.cos(t + validation.phase[3].double())
    torch.testing.assert_close(validation.values[3].double(), expected, atol=1e-6, rtol=0)


def test_validation_waves_depend_only_on_their_seed():
    a = waves.validation_waves(seed=7, count=5, length=20)
    torch.manual_seed(123)
    b = waves.validation_waves(seed=7, count=5, length=20)
    torch.testing.assert_close(a.values, b.values)


def test_oracle_scores_zero(validation):
    mse, _ = waves.protocol_mse(Oracle(validation.values), validation, warmup=100)
    assert float(mse.max()) < 1e-12


def test_zero_predictor_scores_half_the_squared_amplitude(validation):
    mse, _ = waves.protocol_mse(Zero(), validation, warmup=100)
    torch.testing.assert_close(mse, waves.zero_predictor_mse(validation, 100))
    expected = (validation.amplitude.double() ** 2 / 2).mean()
    assert abs(float(mse.mean()) - float(expected)) < 0.02 * float(expected)


def test_echo_holds_the_last_warmup_value(validation):
    # Free-running, an echo model repeats the last true value it read (step 99) forever.
    mse, predictions = waves.protocol_mse(Echo(), validation, warmup=100)
    held = validation.values[:, 99:100].double()
    expected = (validation.values[:, 101:].double() - held).pow(2).mean(dim=1)
    torch.testing.assert_close(mse, expected)
    assert predictions.shape == (200, 200)


def test_warmup_values_are_never_scored(validation):
    corrupted = waves.Waves(validation.values.clone(), validation.amplitude, validation.phase)
    oracle = Oracle(validation.values)
    corrupted.values[:, :101] += 5.0  # warm-up and the unscored first prediction
    mse, _ = waves.protocol_mse(oracle, corrupted, warmup=100)
    assert float(mse.max()) < 1e-12


def test_rollout_grows_geometrically_then_ends_at_the_final_length():
    config = {"rollout_start": 20, "rollout_end": 400, "rollout_growth_fraction": 0.5, "steps": 1000,
              "rollout_final": 900, "rollout_final_fraction": 0.1}
    lengths = [waves.rollout_length(step, config) for step in (0, 250, 500, 899, 900, 999)]
    assert lengths == [20, round(20 * 20**0.5), 400, 400, 900, 900]


def test_a_final_fraction_of_zero_never_uses_the_final_length():
    config = {"rollout_start": 20, "rollout_end": 400, "rollout_growth_fraction": 0.5, "steps": 1000,
              "rollout_final": 900, "rollout_final_fraction": 0.0}
    assert max(waves.rollout_length(step, config) for step in range(1000)) == 400


def test_teaching_feedback_schedule():
    config = {"feedback_start": 0.5, "feedback_increase": 0.1, "feedback_every": 100, "feedback_max": 0.85}
    values = [waves.feedback_probability(step, config) for step in (0, 99, 100, 250, 10_000)]
    assert values == pytest.approx([0.6, 0.6, 0.7, 0.8, 0.85])
