import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.teaching_loop import teaching_model
from stages.lib.models import RECURRENT, CharRNN, GRUFreeRun, WaveRNN, sample_next
from stages.lib.params import CELLS

torch.set_num_threads(1)


def test_every_cell_the_params_allow_is_built():
    assert set(CELLS) == set(RECURRENT)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("embedding_dim", [0, 6])
@pytest.mark.parametrize("skip_connections", [False, True])
def test_char_rnn_shapes(cell, embedding_dim, skip_connections):
    model = CharRNN(11, cell, hidden_size=8, num_layers=2, embedding_dim=embedding_dim, skip_connections=skip_connections)
    logits, state = model(torch.randint(0, 11, (3, 5)))
    assert logits.shape == (3, 5, 11)
    hidden = state[0] if cell == "lstm" else state
    assert hidden.shape == (2, 3, 8)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("skip_connections", [False, True])
def test_char_rnn_carries_state_across_windows(cell, skip_connections):
    torch.manual_seed(0)
    model = CharRNN(7, cell, hidden_size=8, num_layers=3, embedding_dim=4, skip_connections=skip_connections).eval()
    text = torch.randint(0, 7, (2, 12))
    whole, _ = model(text)
    first, state = model(text[:, :5])
    second, _ = model(text[:, 5:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("skip_connections", [False, True])
def test_bfloat16_precision_trains_under_autocast_and_scores_in_float32(cell, skip_connections):
    torch.manual_seed(0)
    sizes = {"hidden_size": 16, "num_layers": 2, "embedding_dim": 4, "skip_connections": skip_connections}
    exact = CharRNN(9, cell, **sizes).eval()
    autocast = CharRNN(9, cell, precision="bfloat16", **sizes).train()  # no dropout: train mode differs only by autocast
    autocast.load_state_dict(exact.state_dict())
    decoded = []  # the dtype the decoder's matrix product ran in, call by call
    autocast.decoder.register_forward_hook(lambda module, inputs, output: decoded.append(output.dtype))
    text = torch.randint(0, 9, (3, 20))
    logits, state = autocast(text[:, :10])
    assert logits.dtype == torch.float32
    more, _ = autocast(text[:, 10:], state)  # the carried state goes back in
    expected, _ = exact(text)
    assert decoded == [torch.bfloat16, torch.bfloat16]  # autocast was on: float32 logits alone would not show it
    assert not torch.equal(torch.cat([logits, more], dim=1), expected)
    torch.testing.assert_close(torch.cat([logits, more], dim=1), expected, atol=0.05, rtol=0.05)
    scored, _ = autocast.eval()(text)  # val and test are scored in float32, as the float32 model scores them
    assert decoded[2:] == [torch.float32]
    assert torch.equal(scored, expected)


def test_skip_connections_feed_the_input_to_every_layer_and_every_layer_to_the_decoder():
    torch.manual_seed(0)
    model = CharRNN(vocab_size=6, cell="lstm", hidden_size=5, num_layers=2, embedding_dim=3, skip_connections=True).eval()
    first, second = model.layers
    assert (first.input_size, second.input_size, model.decoder.in_features) == (3, 3 + 5, 2 * 5)
    text = torch.randint(0, 6, (2, 7))
    inputs = model.embedding(text)
    low, (h1, c1) = first(inputs)
    high, (h2, c2) = second(torch.cat([inputs, low], dim=-1))
    logits, (h, c) = model(text)
    torch.testing.assert_close(logits, model.decoder(torch.cat([low, high], dim=-1)))
    torch.testing.assert_close(h, torch.cat([h1, h2]))
    torch.testing.assert_close(c, torch.cat([c1, c2]))


def test_the_teaching_model_is_the_seeds_plain_stack_whatever_params_yaml_says():
    model = teaching_model(vocab_size=77)
    assert model.rnn.nonlinearity == "relu" and model.rnn.num_layers == 3 and model.rnn.hidden_size == 512
    assert model.embedding.embedding_dim == 100 and model.decoder.in_features == 512


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("predict_delta", [True, False])
def test_wave_step_matches_forward(cell, predict_delta):
    torch.manual_seed(0)
    model = WaveRNN(cell, hidden_size=6, num_layers=2, predict_delta=predict_delta)
    values = torch.randn(4, 9, 1)
    whole, _ = model(values)
    outputs, state = model(values[:, :3])
    stepped = [outputs]
    for t in range(3, 9):
        prediction, state = model.step(values[:, t], state)
        stepped.append(prediction[:, None])
    torch.testing.assert_close(torch.cat(stepped, dim=1), whole)
    first, _ = model.step(values[:, 0], None)
    torch.testing.assert_close(first, whole[:, 0])


@pytest.mark.parametrize("cell", CELLS)
def test_a_normalized_wave_model_is_equivariant_to_the_amplitude(cell):
    torch.manual_seed(0)
    model = WaveRNN(cell, hidden_size=6, num_layers=2, predict_delta=True, normalize_amplitude=True)
    values = torch.randn(4, 9, 1)
    outputs, state = model(values[:, :5])
    scaled_outputs, scaled_state = model(3 * values[:, :5])
    torch.testing.assert_close(scaled_outputs, 3 * outputs)
    prediction, scaled = outputs[:, -1], scaled_outputs[:, -1]
    for _ in range(4):  # free-running: fed its own predictions, the scale kept in the state
        prediction, state = model.step(prediction, state)
        scaled, scaled_state = model.step(scaled, scaled_state)
        torch.testing.assert_close(scaled, 3 * prediction)
    with pytest.raises(ValueError, match="warm-up"):
        model.step(values[:, 0], None)


@pytest.mark.parametrize("core_amplitude", [1.0, 0.1])
def test_the_core_sees_the_warm_up_scaled_to_core_amplitude_and_predictions_come_back_in_the_waves_units(core_amplitude):
    torch.manual_seed(0)
    model = WaveRNN("gru", hidden_size=6, num_layers=1, predict_delta=True, normalize_amplitude=True, core_amplitude=core_amplitude)
    seen = []
    model.rnn.register_forward_hook(lambda module, args, output: seen.append(args[0]))
    amplitudes = torch.tensor([0.5, 1.0, 3.0, 7.0])[:, None, None]
    values = torch.randn(4, 9, 1) * amplitudes
    outputs, _ = model(values)
    torch.testing.assert_close(seen[0].abs().amax(dim=(1, 2)), torch.full((4,), core_amplitude))
    with torch.no_grad():  # a head that outputs 0: predict_delta repeats each input, in the wave's own units
        model.head.weight.zero_()
        model.head.bias.zero_()
    torch.testing.assert_close(model(values)[0], values)


def test_the_hand_written_gru_rollout_has_autograds_gradient():
    torch.manual_seed(0)
    model = WaveRNN("gru", hidden_size=5, num_layers=1, predict_delta=True).double()
    inputs = (torch.randn(3, 1, dtype=torch.float64, requires_grad=True), torch.randn(3, 5, dtype=torch.float64, requires_grad=True))
    weights = [*model.rnn.all_weights[0], model.head.weight, model.head.bias]
    assert torch.autograd.gradcheck(lambda *args: GRUFreeRun.apply(*args, 6), (*inputs, *weights))


@pytest.mark.parametrize("cell, normalize", [("gru", False), ("gru", True), ("lstm", True), ("rnn_tanh", False)])
def test_rollout_matches_stepping_in_values_and_gradients(cell, normalize):
    torch.manual_seed(0)
    model = WaveRNN(cell, hidden_size=6, num_layers=1, predict_delta=True, normalize_amplitude=normalize)
    values = torch.randn(4, 8, 1)

    def stepped():
        outputs, state = model(values)
        prediction, predictions = outputs[:, -1], []
        for _ in range(12):
            prediction, state = model.step(prediction, state)
            predictions.append(prediction)
        return torch.cat(predictions, dim=1)

    def rolled():
        outputs, state = model(values)
        return model.rollout(outputs[:, -1], state, 12)

    results = []
    for run in (stepped, rolled):
        model.zero_grad()
        predictions = run()
        predictions.pow(2).mean().backward()
        results.append((predictions.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(results[1][0], results[0][0])
    for rolled_grad, stepped_grad in zip(results[1][1], results[0][1]):
        torch.testing.assert_close(rolled_grad, stepped_grad)


def test_temperature_zero_is_greedy():
    logits = torch.tensor([0.1, 2.0, 1.9, -1.0])
    assert all(sample_next(logits, 0.0, 0, torch.Generator().manual_seed(s)) == 1 for s in range(20))


def test_top_k_only_draws_the_k_best():
    logits = torch.tensor([3.0, 2.9, 0.0, 0.0, 0.0, 2.8])
    generator = torch.Generator().manual_seed(0)
    drawn = {sample_next(logits, 5.0, 3, generator) for _ in range(300)}
    assert drawn == {0, 1, 5}


def test_high_temperature_draws_widely():
    logits = torch.tensor([3.0, 0.0, 0.0, 0.0])
    generator = torch.Generator().manual_seed(0)
    drawn = [sample_next(logits, 100.0, 0, generator) for _ in range(400)]
    assert set(drawn) == {0, 1, 2, 3}


@settings(max_examples=300)
@given(
    logits=st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=50),
    temperature=st.floats(min_value=0.0, max_value=100.0, allow_subnormal=True),
    top_k=st.integers(0, 60),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_temperature_the_params_allow_draws_a_valid_index(logits, temperature, top_k, seed):
    logits = torch.tensor(logits)
    index = sample_next(logits, temperature, top_k, torch.Generator().manual_seed(seed))
    assert 0 <= index < len(logits)
    if temperature < 1e-300 or top_k == 1:  # a vanishing temperature is greedy (up to ties)
        assert logits[index] == logits.max()
