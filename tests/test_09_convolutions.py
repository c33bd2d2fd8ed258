"""Tests for tinytorch.core.spatial (module 09): Conv2d, MaxPool2d, AvgPool2d and their functional
forms. Values against the definition written as plain loops, output shapes against PyTorch's rule
over hypothesis-drawn configurations, gradients against central differences in float64, the
initialisation statistics, the errors (their type and the layer and argument they name), integer
input, `Tensor.flatten` / `Tensor.matmul`, and the older seed's CNN example trained with the Trainer.
Agreement with PyTorch itself is in test_09_convolutions_torch.py. White-box checks of the reference
(graph nodes, the exact messages, the hints in src/) are in
tests/internals/test_09_convolutions_internals.py."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck import check_gradients
from tinytorch import (Accuracy, Adam, CrossEntropyLoss, DataLoader, Dense, Flatten, ReLU, Sequential,
                       TensorDataset, Trainer, manual_seed)
from tinytorch.core.spatial import (AvgPool2d, Conv2D, Conv2d, MaxPool2D, MaxPool2d, avg_pool2d, conv2d,
                                    conv_output_size, max_pool2d)
from tinytorch.core.tensor import Tensor

SETTINGS = settings(max_examples=30, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def torch_rule(size, kernel, stride, padding):
    """The output size PyTorch documents for Conv2d / MaxPool2d (dilation 1, floor mode)."""
    return int(np.floor((size + 2 * padding - kernel) / stride + 1))


def reference_conv(x, weight, bias, stride, padding):
    """The definition, one output position at a time (slow and obvious, float64)."""
    (sh, sw), (ph, pw) = stride, padding
    f, _, kh, kw = weight.shape
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (xpad.shape[2] - kh) // sh + 1, (xpad.shape[3] - kw) // sw + 1
    out = np.zeros((x.shape[0], f, oh, ow))
    for y in range(oh):
        for z in range(ow):
            patch = xpad[:, :, y * sh:y * sh + kh, z * sw:z * sw + kw]
            out[:, :, y, z] = np.tensordot(patch, weight, axes=([1, 2, 3], [1, 2, 3]))
    return out if bias is None else out + bias[:, None, None]


def reference_pool(x, kernel, stride, reduce):
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    out = np.zeros(x.shape[:2] + (oh, ow))
    for y in range(oh):
        for z in range(ow):
            out[:, :, y, z] = reduce(x[:, :, y * sh:y * sh + kh, z * sw:z * sw + kw], axis=(2, 3))
    return out


@st.composite
def conv_configs(draw, max_side=7):
    """(input shape, weight shape, stride pair, padding pair) whose kernel fits the padded input."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), max_side))
    w = draw(st.integers(max(1, kw - 2 * pw), max_side))
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return (n, c, h, w), (f, c, kh, kw), stride, (ph, pw)


@st.composite
def pool_configs(draw, max_side=7):
    """(input shape, kernel pair, stride pair or None)."""
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)),
             draw(st.integers(kh, max_side)), draw(st.integers(kw, max_side)))
    stride = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    return shape, (kh, kw), stride


def distinct(shape, seed):
    """float64 values at least 0.1 apart, so a max has no near-tie within the finite-difference step."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    return (rng.permutation(size) * 0.1 - 0.05 * size + rng.uniform(-0.02, 0.02, size)).reshape(shape)


# ---------------------------------------------------------------------------------- shapes and values
@SETTINGS
@given(config=conv_configs(max_side=10), seed=seeds)
def test_conv_output_shape_follows_the_torch_rule_and_values_the_definition(config, seed):
    x_shape, w_shape, stride, padding = config
    rng = np.random.default_rng(seed)
    x, weight, bias = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out = conv2d(Tensor(x, dtype=np.float64), Tensor(weight, dtype=np.float64), Tensor(bias, dtype=np.float64),
                 stride=stride, padding=padding)
    expected_shape = (x_shape[0], w_shape[0], torch_rule(x_shape[2], w_shape[2], stride[0], padding[0]),
                      torch_rule(x_shape[3], w_shape[3], stride[1], padding[1]))
    assert out.shape == expected_shape
    np.testing.assert_allclose(out.data, reference_conv(x, weight, bias, stride, padding), rtol=1e-10, atol=1e-10)


@SETTINGS
@given(config=pool_configs(max_side=10), seed=seeds)
def test_pool_output_shapes_follow_the_torch_rule_and_values_the_definition(config, seed):
    shape, kernel, stride = config
    x = np.random.default_rng(seed).standard_normal(shape)
    step = kernel if stride is None else stride
    expected_shape = shape[:2] + (torch_rule(shape[2], kernel[0], step[0], 0),
                                  torch_rule(shape[3], kernel[1], step[1], 0))
    biggest = max_pool2d(Tensor(x, dtype=np.float64), kernel, stride)
    mean = avg_pool2d(Tensor(x, dtype=np.float64), kernel, stride)
    assert biggest.shape == mean.shape == expected_shape
    np.testing.assert_array_equal(biggest.data, reference_pool(x, kernel, step, np.max))
    np.testing.assert_allclose(mean.data, reference_pool(x, kernel, step, np.mean), rtol=1e-12)


def test_layers_compute_what_the_functions_compute():
    manual_seed(0)
    x = Tensor(np.random.default_rng(1).standard_normal((2, 3, 9, 8)))
    conv = Conv2d(3, 5, (3, 2), stride=(2, 1), padding=1)
    assert conv(x).shape == (2, 5, 5, 9)
    np.testing.assert_array_equal(conv(x).data, conv2d(x, conv.weight, conv.bias, (2, 1), 1).data)
    np.testing.assert_array_equal(MaxPool2d(3, 2)(x).data, max_pool2d(x, 3, 2).data)
    np.testing.assert_array_equal(AvgPool2d((2, 3))(x).data, avg_pool2d(x, (2, 3)).data)
    assert MaxPool2d(3, 2)(x).shape == (2, 3, 4, 3) and AvgPool2d((2, 3))(x).shape == (2, 3, 4, 2)
    assert conv_output_size(32, 3) == 30 and conv_output_size(30, 2, 2) == 15


def test_float32_in_float32_out_with_float32_gradients():
    manual_seed(0)
    model = Sequential([Conv2d(2, 4, 3, padding=1), ReLU(), MaxPool2d(2), Conv2d(4, 2, 2), AvgPool2d(2)])
    x = Tensor(np.random.default_rng(0).standard_normal((3, 2, 8, 8)), requires_grad=True)
    out = model(x)
    assert out.dtype == np.float32 and out.shape == (3, 2, 1, 1)
    out.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == x.shape
    assert all(p.grad.dtype == np.float32 and p.grad.shape == p.shape for p in model.parameters())


def test_integer_images_are_promoted_to_float32():
    manual_seed(0)
    pixels = np.random.default_rng(0).integers(0, 256, (2, 1, 6, 6)).astype(np.uint8)
    conv = Conv2d(1, 3, 3)
    out = conv(Tensor(pixels))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, conv(Tensor(pixels.astype(np.float32))).data)
    for pool in (MaxPool2d(2), AvgPool2d(2)):
        pooled = pool(Tensor(pixels.astype(np.int64)))
        assert pooled.dtype == np.float32
        np.testing.assert_array_equal(pooled.data, pool(Tensor(pixels.astype(np.float32))).data)
    assert conv(pixels.astype(np.float32)).shape == (2, 3, 4, 4), "an ndarray input is wrapped"


# ---------------------------------------------------------------------------------- gradients
@settings(max_examples=15, deadline=None)
@given(config=conv_configs(max_side=5), seed=seeds, with_bias=st.booleans())
def test_conv_gradients_match_central_differences(config, seed, with_bias):
    x_shape, w_shape, stride, padding = config
    rng = np.random.default_rng(seed)
    inputs = [rng.uniform(-2, 2, x_shape), rng.uniform(-1, 1, w_shape)]
    if with_bias:
        inputs.append(rng.uniform(-1, 1, w_shape[0]))

    def f(x, w, b=None):
        return conv2d(x, w, b, stride=stride, padding=padding)
    check_gradients(f, *inputs)
    check_gradients(f, *inputs, wrt=[1] + ([2] if with_bias else []))   # the input needs no gradient
    check_gradients(f, *inputs, wrt=[0])                                  # frozen weights


@settings(max_examples=20, deadline=None)
@given(config=pool_configs(max_side=6), seed=seeds)
def test_pool_gradients_match_central_differences(config, seed):
    shape, kernel, stride = config
    x = distinct(shape, seed)
    check_gradients(lambda t: max_pool2d(t, kernel, stride), x)
    check_gradients(lambda t: avg_pool2d(t, kernel, stride), x)


def test_a_small_cnn_has_the_gradient_of_central_differences():
    manual_seed(3)
    conv = Conv2d(2, 3, 3, padding=1)
    weight, bias = conv.weight.data.astype(np.float64), conv.bias.data.astype(np.float64)
    x = distinct((2, 2, 6, 6), 0) / 10

    def f(x, w, b):
        return max_pool2d(conv2d(x, w, b, padding=1), 2, 2)
    check_gradients(f, x, weight, bias)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum_like_pytorch():
    x = Tensor(np.zeros((1, 1, 4, 4)), requires_grad=True)       # every window is a tie
    out = max_pool2d(x, 2)
    out.backward(np.arange(1.0, 5.0, dtype=np.float32).reshape(1, 1, 2, 2))
    expected = np.zeros((4, 4))
    expected[0, 0], expected[0, 2], expected[2, 0], expected[2, 2] = 1, 2, 3, 4
    np.testing.assert_array_equal(x.grad[0, 0], expected)
    x.grad = None
    out = max_pool2d(x, 3, 1)                                     # overlapping windows accumulate
    out.backward(np.ones(out.shape, np.float32))
    assert x.grad.sum() == 4 and x.grad[0, 0, 0, 0] == 1 and x.grad[0, 0, 1, 1] == 1


def test_an_input_that_needs_no_gradient_gets_none():
    manual_seed(0)
    conv = Conv2d(1, 2, 3)
    x = Tensor(np.ones((2, 1, 5, 5)))
    conv(x).sum().backward()
    assert x.grad is None and conv.weight.grad is not None and conv.bias.grad is not None


# ---------------------------------------------------------------------------------- initialisation
def test_init_is_uniform_on_one_over_sqrt_fan_in_like_pytorch():
    manual_seed(0)
    conv = Conv2d(16, 64, 3)
    bound = 1 / np.sqrt(16 * 3 * 3)
    w, b = conv.weight.data, conv.bias.data
    assert w.shape == (64, 16, 3, 3) and b.shape == (64,) and w.dtype == b.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.99 * bound, "the whole interval is used"
    # U(-a, a) has mean 0 and variance a^2 / 3; 9216 draws put both well inside these margins
    assert abs(w.mean()) < 0.05 * bound and abs(w.var() / (bound ** 2 / 3) - 1) < 0.05
    assert abs(np.mean(np.abs(b) < bound / 2) - 0.5) < 0.2


def test_init_follows_manual_seed_and_bias_false_has_no_bias():
    manual_seed(7)
    first = Conv2d(3, 4, 5)
    manual_seed(7)
    second = Conv2d(3, 4, 5)
    np.testing.assert_array_equal(first.weight.data, second.weight.data)
    np.testing.assert_array_equal(first.bias.data, second.bias.data)
    plain = Conv2d(3, 4, 5, bias=False)
    assert plain.bias is None and [n for n, _ in plain.named_parameters()] == ["weight"]
    assert conv2d(Tensor(np.ones((1, 3, 5, 5))), plain.weight).shape == (1, 4, 1, 1)


def test_parameter_count_is_out_in_kh_kw_plus_out():
    conv = Conv2d(3, 16, kernel_size=(3, 5))
    assert sum(p.size for p in conv.parameters()) == 16 * 3 * 3 * 5 + 16
    assert MaxPool2d(2).parameters() == [] and AvgPool2d(2).parameters() == []


def test_state_dict_round_trip():
    manual_seed(0)
    conv, other = Conv2d(2, 3, 3), Conv2d(2, 3, 3)
    other.load_state_dict(conv.state_dict())
    x = Tensor(np.random.default_rng(0).standard_normal((1, 2, 5, 5)))
    np.testing.assert_array_equal(conv(x).data, other(x).data)


# ---------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, kind, words", [
    (lambda: Conv2d(0, 4, 3), ValueError, ["Conv2d in_channels"]),
    (lambda: Conv2d(3, 4.0, 3), TypeError, ["Conv2d out_channels"]),
    (lambda: Conv2d(3, 4, 0), ValueError, ["Conv2d kernel_size"]),
    (lambda: Conv2d(3, 4, (3, 3, 3)), ValueError, ["Conv2d kernel_size"]),
    (lambda: Conv2d(3, 4, "3"), TypeError, ["Conv2d kernel_size"]),
    (lambda: Conv2d(3, 4, 3, stride=0), ValueError, ["Conv2d stride"]),
    (lambda: Conv2d(3, 4, 3, padding=-1), ValueError, ["Conv2d padding"]),
    (lambda: Conv2d(3, 4, 3, bias=1), TypeError, ["Conv2d bias"]),
    (lambda: Conv2d(True, 4, 3), TypeError, ["Conv2d in_channels"]),
    (lambda: MaxPool2d(0), ValueError, ["MaxPool2d kernel_size"]),
    (lambda: MaxPool2d(2, stride=(1, 0)), ValueError, ["MaxPool2d stride"]),
    (lambda: AvgPool2d(2.5), TypeError, ["AvgPool2d kernel_size"]),
])
def test_bad_constructor_arguments_name_the_layer_and_the_argument(call, kind, words):
    with pytest.raises(kind) as error:
        call()
    for word in words:
        assert word in str(error.value), str(error.value)


@pytest.mark.parametrize("layer", [lambda: Conv2d(3, 4, 3), lambda: MaxPool2d(2), lambda: AvgPool2d(2)])
@pytest.mark.parametrize("shape", [(3, 8, 8), (8, 8), (1, 1, 3, 8, 8)])
def test_wrong_input_rank_names_the_layer(layer, shape):
    module = layer()
    with pytest.raises(ValueError, match=type(module).__name__):
        module(Tensor(np.zeros(shape)))


def test_wrong_channel_count_names_the_layer():
    conv = Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match="Conv2d"):
        conv(Tensor(np.zeros((2, 1, 8, 8))))
    with pytest.raises(ValueError, match="conv2d"):
        conv2d(Tensor(np.zeros((2, 1, 8, 8))), conv.weight)


@pytest.mark.parametrize("make, shape", [
    (lambda: Conv2d(1, 2, 5), (1, 1, 4, 8)),
    (lambda: Conv2d(1, 2, (3, 6), padding=(1, 0)), (1, 1, 4, 5)),
    (lambda: MaxPool2d(3), (1, 1, 2, 5)),
    (lambda: AvgPool2d((1, 4)), (1, 1, 5, 3)),
])
def test_a_kernel_larger_than_the_padded_input_is_an_error(make, shape):
    with pytest.raises(ValueError, match="kernel_size"):
        make()(Tensor(np.zeros(shape)))


def test_padding_makes_a_large_kernel_fit():
    assert Conv2d(1, 2, 5, padding=1)(Tensor(np.zeros((1, 1, 3, 3)))).shape == (1, 2, 1, 1)


def test_a_failed_call_changes_nothing():
    manual_seed(0)
    conv = Conv2d(2, 2, 3)
    before = conv.state_dict()
    with pytest.raises(ValueError):
        conv(Tensor(np.zeros((1, 3, 5, 5))))
    for name, value in conv.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    assert conv.weight.grad is None


def test_functional_arguments_are_checked():
    x = Tensor(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="conv2d weight"):
        conv2d(x, Tensor(np.zeros((2, 3, 3))))
    with pytest.raises(ValueError, match="conv2d bias"):
        conv2d(x, Tensor(np.zeros((2, 1, 3, 3))), Tensor(np.zeros(3)))
    with pytest.raises(TypeError, match="conv2d stride"):
        conv2d(x, Tensor(np.zeros((2, 1, 3, 3))), stride=1.5)
    with pytest.raises(ValueError, match="max_pool2d kernel_size"):
        max_pool2d(x, 0)


def test_functions_take_tensors_and_one_floating_precision():
    weight = Tensor(np.zeros((2, 1, 3, 3)))
    with pytest.raises(TypeError, match="conv2d"):
        conv2d(np.zeros((1, 1, 4, 4)), weight)
    with pytest.raises(TypeError, match="max_pool2d"):
        max_pool2d([[1.0]], 1)
    double = Tensor(np.zeros((1, 1, 4, 4)), dtype=np.float64)
    with pytest.raises(TypeError, match="weight"):
        Conv2d(1, 2, 3)(double)
    assert max_pool2d(double, 2).dtype == np.float64, "pools keep a floating input's precision"


def test_old_names_are_the_same_classes():
    assert Conv2D is Conv2d and MaxPool2D is MaxPool2d
    import tinytorch
    from tinytorch.core import layers, spatial
    assert spatial.Flatten is layers.Flatten, "one home for Flatten"
    assert {"Conv2d", "Conv2D", "MaxPool2d", "MaxPool2D", "AvgPool2d"} <= set(tinytorch.__all__)


# ---------------------------------------------------------------------------------- Tensor.flatten, matmul
def test_tensor_flatten_merges_the_named_axes_and_routes_the_gradient_back():
    x = Tensor(np.arange(120.0).reshape(2, 3, 4, 5), requires_grad=True)
    assert x.flatten().shape == (120,) and x.flatten(1).shape == (2, 60)
    assert x.flatten(1, 2).shape == (2, 12, 5) and x.flatten(-3, -2).shape == (2, 12, 5)
    assert x.flatten(2, 2).shape == (2, 3, 4, 5) and Tensor(7.0).flatten().shape == (1,)
    np.testing.assert_array_equal(x.flatten(1).data, x.data.reshape(2, 60))
    weight = np.random.default_rng(0).standard_normal((2, 12, 5)).astype(np.float32)
    (x.flatten(1, 2) * Tensor(weight)).sum().backward()
    np.testing.assert_array_equal(x.grad, weight.reshape(2, 3, 4, 5))
    assert Tensor(np.zeros((0, 3, 2))).flatten(1).shape == (0, 6), "empty batches keep their shape"


@pytest.mark.parametrize("args, kind, words", [
    ((4,), ValueError, ["start_dim"]),
    ((0, -5), ValueError, ["end_dim"]),
    ((2, 1), ValueError, ["start_dim", "end_dim"]),
    ((1.0,), TypeError, ["start_dim"]),
    ((0, None), TypeError, ["end_dim"]),
])
def test_tensor_flatten_errors_name_the_argument(args, kind, words):
    with pytest.raises(kind) as error:
        Tensor(np.zeros((2, 3, 4, 5))).flatten(*args)
    for word in words:
        assert word in str(error.value), str(error.value)


def test_tensor_matmul_method_is_the_operator():
    a = Tensor(np.random.default_rng(0).standard_normal((2, 3, 4)), requires_grad=True)
    b = Tensor(np.random.default_rng(1).standard_normal((4, 5)), requires_grad=True)
    out = a.matmul(b)
    np.testing.assert_array_equal(out.data, (a @ b).data)
    out.sum().backward()
    np.testing.assert_allclose(b.grad, a.data.reshape(6, 4).sum(0)[:, None].repeat(5, 1), rtol=1e-5)
    check_gradients(lambda p, q: p.matmul(q), np.ones((3, 2)) * 0.5, np.arange(8.0).reshape(2, 4))


# ---------------------------------------------------------------------------------- the older seed's CNN
def test_seed_003_cnn_example_builds_and_trains_with_the_trainer(capsys):
    """The older seed's "Real-World Training Workflows" model and Trainer, as printed; the data are
    random CIFAR-shaped images (3x32x32, 10 classes), 16 to learn and 16 to validate on."""
    manual_seed(0)
    rng = np.random.default_rng(0)
    images = rng.standard_normal((32, 3, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, size=32)
    train_loader = DataLoader(TensorDataset(Tensor(images[:16]), Tensor(labels[:16])), batch_size=16,
                              shuffle=True, seed=0)
    val_loader = DataLoader(TensorDataset(Tensor(images[16:]), Tensor(labels[16:])), batch_size=16)

    # Configure CNN for computer vision
    cnn_model = Sequential([
        Conv2D(3, 16, kernel_size=3), ReLU(),
        MaxPool2D(kernel_size=2),
        Conv2D(16, 32, kernel_size=3), ReLU(),
        Flatten(),
        Dense(32 * 13 * 13, 128), ReLU(),
        Dense(128, 10)
    ])

    # Train with monitoring and validation
    trainer = Trainer(cnn_model, Adam(cnn_model.parameters()), CrossEntropyLoss(), [Accuracy()])
    history = trainer.fit(train_loader, val_loader, epochs=100)

    # Analyze training results
    print(f"Final train accuracy: {history['train_accuracy'][-1]:.4f}")
    print(f"Final val accuracy: {history['val_accuracy'][-1]:.4f}")

    output = capsys.readouterr().out
    assert "Final train accuracy: " in output and "Final val accuracy: " in output
    assert len(history["train_accuracy"]) == len(history["val_accuracy"]) == 100
    assert sum(p.size for p in cnn_model.parameters()) == (16 * 3 * 9 + 16) + (32 * 16 * 9 + 32) \
        + (32 * 13 * 13 * 128 + 128) + (128 * 10 + 10)
    # 16 random images are memorised: the loss falls and every training image ends up right
    assert history["train_loss"][-1] < 0.1 * history["train_loss"][0]
    assert history["train_accuracy"][-1] == 1.0
