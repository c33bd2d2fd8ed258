"""Module 09 against PyTorch at float32: Conv2d, MaxPool2d and AvgPool2d values and gradients with
identical weights over hypothesis-drawn configurations (ties in max-pooling included), the
initialisation distribution, and Tensor.flatten / Tensor.matmul. PyTorch is a test oracle only;
without it this module is skipped and the summary says why."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed: the parity tests against it were skipped "
                    "(pip install torch==2.13.0 to run them)")

from tinytorch.core.layers import manual_seed  # noqa: E402
from tinytorch.core.spatial import AvgPool2d, Conv2d, MaxPool2d  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402

pytestmark = pytest.mark.torch
SETTINGS = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)
RTOL, ATOL = 1e-5, 1e-5


@st.composite
def conv_configs(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h, w = draw(st.integers(max(1, kh - 2 * ph), 12)), draw(st.integers(max(1, kw - 2 * pw), 12))
    return dict(n=draw(st.integers(1, 4)), c=draw(st.integers(1, 5)), f=draw(st.integers(1, 6)),
                h=h, w=w, kernel=(kh, kw), stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                padding=(ph, pw), bias=draw(st.booleans()))


@SETTINGS
@given(cfg=conv_configs(), seed=seeds)
def test_conv2d_matches_torch(cfg, seed):
    rng = np.random.default_rng(seed)
    ours = Conv2d(cfg["c"], cfg["f"], cfg["kernel"], stride=cfg["stride"], padding=cfg["padding"],
                  bias=cfg["bias"])
    ref = torch.nn.Conv2d(cfg["c"], cfg["f"], cfg["kernel"], stride=cfg["stride"], padding=cfg["padding"],
                          bias=cfg["bias"])
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(ours.weight.data))
        if cfg["bias"]:
            ref.bias.copy_(torch.from_numpy(ours.bias.data))
    x = rng.standard_normal((cfg["n"], cfg["c"], cfg["h"], cfg["w"])).astype(np.float32)
    xt = torch.from_numpy(x).requires_grad_()
    expected = ref(xt)
    g = rng.standard_normal(tuple(expected.shape)).astype(np.float32)
    expected.backward(torch.from_numpy(g))
    xo = Tensor(x, requires_grad=True)
    out = ours(xo)
    assert out.shape == tuple(expected.shape)
    out.backward(g)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ours.weight.grad, ref.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    if cfg["bias"]:
        np.testing.assert_allclose(ours.bias.grad, ref.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


@SETTINGS
@given(kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)),
       size=st.tuples(st.integers(3, 10), st.integers(3, 10)), after_relu=st.booleans(), seed=seeds)
def test_pools_match_torch_including_ties(kernel, stride, size, after_relu, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3) + size).astype(np.float32)
    if after_relu:   # many zeros: windows with tied maxima, where the first one must win
        x = np.maximum(x, 0)
    for ours, ref in ((MaxPool2d(kernel, stride), torch.nn.MaxPool2d(kernel, stride)),
                      (AvgPool2d(kernel, stride), torch.nn.AvgPool2d(kernel, stride))):
        xt = torch.from_numpy(x).requires_grad_()
        expected = ref(xt)
        g = rng.standard_normal(tuple(expected.shape)).astype(np.float32)
        expected.backward(torch.from_numpy(g))
        xo = Tensor(x, requires_grad=True)
        out = ours(xo)
        out.backward(g)
        np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_a_cnn_step_matches_torch():
    """Conv, ReLU, pool, flatten, linear and cross-entropy together: the loss and every gradient."""
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Flatten, Linear, Sequential
    from tinytorch.core.losses import CrossEntropyLoss

    manual_seed(0)
    ours = Sequential([Conv2d(1, 8, 3), ReLU(), MaxPool2d(2), Flatten(), Linear(8 * 13 * 13, 10)])
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(8 * 13 * 13, 10))
    with torch.no_grad():
        for p, q in zip(ours.parameters(), ref.parameters()):
            q.copy_(torch.from_numpy(p.data))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    loss = CrossEntropyLoss()(ours(Tensor(x)), Tensor(y))
    loss.backward()
    expected = torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(y))
    expected.backward()
    assert abs(loss.item() - expected.item()) < 1e-5
    for p, q in zip(ours.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_init_distribution_matches_torch_default():
    torch.manual_seed(0)
    manual_seed(0)
    ref, ours = torch.nn.Conv2d(8, 32, 5), Conv2d(8, 32, 5)
    for a, b in ((ours.weight.data, ref.weight.detach().numpy()), (ours.bias.data, ref.bias.detach().numpy())):
        assert a.shape == b.shape and a.dtype == b.dtype
        # both uniform on [-1/sqrt(fan_in), 1/sqrt(fan_in)], fan_in = 8 * 5 * 5
        assert abs(np.abs(a).max() - np.abs(b).max()) < 0.01
    assert abs(ours.weight.data.std() - ref.weight.detach().numpy().std()) < 0.002


@pytest.mark.parametrize("shape, dims", [((2, 3, 4, 5), ()), ((2, 3, 4, 5), (1,)), ((2, 3, 4, 5), (1, 2)),
                                         ((2, 3, 4, 5), (-3, -1)), ((), ()), ((3,), (0, 0))])
def test_tensor_flatten_matches_torch(shape, dims):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    assert Tensor(x).flatten(*dims).shape == tuple(torch.from_numpy(x).flatten(*dims).shape)


def test_tensor_matmul_matches_torch():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 2, 4)).astype(np.float32), rng.standard_normal((4,)).astype(np.float32)
    np.testing.assert_allclose(Tensor(a).matmul(Tensor(b)).data,
                               torch.from_numpy(a).matmul(torch.from_numpy(b)).numpy(), rtol=1e-6)
