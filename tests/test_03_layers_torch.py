"""Module 03 against PyTorch: Linear values and gradients with identical weights."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle; install torch==2.13.0 to run parity tests")

from tinytorch.core.layers import Linear  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402


# (out_features, input shape): batches smaller and larger than the width, a few and many rows summed
# into the bias gradient, and a 3-D input.
@pytest.mark.parametrize("out, shape", [(4, (7, 5)), (4, (2, 3, 5)), (40, (3, 5)), (40, (36, 5)), (4, (64, 5))])
def test_linear_matches_torch(out, shape):
    rng = np.random.default_rng(0)
    ours = Linear(5, out)
    ref = torch.nn.Linear(5, out)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(ours.weight.data))
        ref.bias.copy_(torch.from_numpy(ours.bias.data))
    x = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape[:-1] + (out,)).astype(np.float32)
    xt = torch.from_numpy(x).requires_grad_()
    ref(xt).backward(torch.from_numpy(g))
    xo = Tensor(x, requires_grad=True)
    y = ours(xo)
    y.backward(g)
    np.testing.assert_allclose(y.data, ref(xt).detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.weight.grad, ref.weight.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.bias.grad, ref.bias.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_linear_init_bound_matches_torch_default():
    torch.manual_seed(0)
    ref = torch.nn.Linear(64, 32)
    ours = Linear(64, 32)
    for a, b in ((ours.weight.data, ref.weight.detach().numpy()), (ours.bias.data, ref.bias.detach().numpy())):
        # both uniform on [-1/sqrt(fan_in), 1/sqrt(fan_in)]
        assert abs(np.abs(a).max() - np.abs(b).max()) < 0.02
