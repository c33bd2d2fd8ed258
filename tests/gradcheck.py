"""Numerical gradient check shared by the test files: `from gradcheck import check_gradients`.

The analytic gradient that `backward()` produces is compared with central differences,
(f(x + eps) - f(x - eps)) / (2 eps), one input element at a time, all in float64 so that the
comparison can be tight (the truncation error is O(eps^2), the rounding error O(1e-16 / eps)).

The function under test may return a tensor of any shape. Instead of summing it (which would hide a
rule that permutes or mixes up its output positions) the check seeds `backward()` with a fixed random
weight `w` of the output's shape, so it checks the gradient of the scalar sum(w * f(inputs)).
"""
from __future__ import annotations

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor


def _as_array(value) -> np.ndarray:
    return np.array(value.data if isinstance(value, Tensor) else value, dtype=np.float64)


def _weighted_output(f, arrays, weight) -> float:
    """sum(weight * f(arrays)) with plain float64 constant tensors (no graph is recorded)."""
    with no_grad():
        out = f(*[Tensor(a, dtype=np.float64) for a in arrays])
    return float(np.sum(np.asarray(out.data, dtype=np.float64) * weight))


def numerical_gradients(f, arrays, weight, eps: float = 1e-6) -> list[np.ndarray]:
    """Central-difference gradient of sum(weight * f(*arrays)) with respect to each array."""
    grads = []
    for k, base in enumerate(arrays):
        grad = np.zeros_like(base)
        for j in np.ndindex(base.shape):
            shifted = [a.copy() for a in arrays]
            shifted[k][j] = base[j] + eps
            up = _weighted_output(f, shifted, weight)
            shifted[k][j] = base[j] - eps
            down = _weighted_output(f, shifted, weight)
            grad[j] = (up - down) / (2 * eps)
        grads.append(grad)
    return grads


def check_gradients(f, *inputs, wrt=None, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-6,
                    seed: int = 0) -> list[np.ndarray]:
    """Assert that backward() through `f(*tensors)` matches central differences.

    `inputs` are arrays (or tensors) converted to float64; `f` takes that many Tensors and returns a
    Tensor. `wrt` lists the positions of the inputs that require grad (default: all); the others
    must end with `.grad is None`. Returns the analytic gradients, for further checks.
    """
    arrays = [_as_array(x) for x in inputs]
    wrt = set(range(len(arrays)) if wrt is None else wrt)
    tensors = [Tensor(a.copy(), dtype=np.float64, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    out = f(*tensors)
    assert isinstance(out, Tensor), f"the function under test returned {type(out).__name__}, not a Tensor"
    assert out.dtype == np.float64, f"float64 inputs gave a {out.dtype} output"
    weight = np.random.default_rng(seed).uniform(0.5, 1.5, size=out.shape)
    weight *= np.where(np.random.default_rng(seed + 1).random(out.shape) < 0.5, -1.0, 1.0)
    out.backward(weight)

    expected = numerical_gradients(f, arrays, weight, eps)
    analytic = []
    for i, (t, want) in enumerate(zip(tensors, expected)):
        if i not in wrt:
            assert t.grad is None, f"input {i} does not require grad but received one"
            analytic.append(None)
            continue
        assert t.grad is not None, f"input {i} of shape {t.shape} received no gradient"
        assert isinstance(t.grad, np.ndarray), f"input {i}: .grad is a {type(t.grad).__name__}"
        assert t.grad.shape == t.shape, f"input {i}: gradient shape {t.grad.shape}, expected {t.shape}"
        assert t.grad.dtype == np.float64, f"input {i}: gradient dtype {t.grad.dtype}, expected float64"
        if not np.allclose(t.grad, want, rtol=rtol, atol=atol):
            err = np.abs(t.grad - want)
            worst = tuple(int(n) for n in np.unravel_index(np.argmax(err), err.shape)) if err.ndim else ()
            raise AssertionError(
                f"input {i} (counting from 0) of shape {t.shape}: analytic and numerical gradients differ, "
                f"worst at index {worst}: {float(t.grad[worst]):.6g} (analytic) vs {float(want[worst]):.6g} "
                f"(numerical), max abs error {float(err.max()):.3g}\n"
                f"analytic:\n{t.grad}\nnumerical:\n{want}")
        analytic.append(t.grad)
    return analytic
