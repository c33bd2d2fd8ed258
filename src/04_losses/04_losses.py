# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 04: Losses
#
# A loss turns a batch of predictions and the matching targets into one number that says how wrong
# the model is; `loss.backward()` then sends the gradient of that number to every parameter. This
# module builds the four losses that cover regression and classification:
#
# | loss | predictions | targets |
# |---|---|---|
# | `MSELoss` | any shape | same shape |
# | `CrossEntropyLoss` | logits `(N, C)` | class labels `(N,)` or probabilities `(N, C)` |
# | `BinaryCrossEntropyLoss` | probabilities in `[0, 1]` | same shape, in `[0, 1]` |
# | `BCEWithLogitsLoss` | logits, any shape | same shape, in `[0, 1]` |
#
# Every loss averages over the elements of the batch (PyTorch's default `reduction="mean"`) and
# returns a scalar tensor of shape `()`.
#
# Like the activations of module 02, each loss is **one graph node**: the forward pass is a few
# vectorized NumPy lines and the backward rule, written beside it, gives the gradient in closed form.
# Cross-entropy built from `log_softmax`, indexing and `mean` would record three nodes and keep three
# arrays alive; fused, the gradient is the famous one-liner `(softmax - target) / N`.
#
# Targets may be Tensors, NumPy arrays or lists. Predictions must be Tensors (they carry the graph).
# Shapes are checked before anything is computed, and the error names both shapes.

# %%
#| default_exp core.losses

# %% [markdown]
# ## Shared checks
#
# Every loss starts the same way: the prediction must be a Tensor (integer or bool predictions are
# promoted to float32, the package's integer rule), the target becomes an
# ndarray (floating targets take the prediction's dtype, so a float64 target cannot drag a float32
# model into float64), and an empty batch is refused because its mean is undefined. A target that is
# a Tensor with `requires_grad=True` becomes a second parent of the node and receives a gradient too
# (useful for distillation, where the target is another network's output).

# %%
#| export
import numpy as np

from tinytorch.core.tensor import Tensor, as_float
from tinytorch.utils.validation import describe


def checked_predictions(name: str, pred) -> Tensor:
    """The predictions as a floating Tensor: integer and bool ones become float32 (PyTorch refuses
    them; DESIGN.md, "Integer inputs"). Not a Tensor: TypeError; empty: ValueError."""
    if not isinstance(pred, Tensor):
        raise TypeError(f"{name}: predictions must be a Tensor, got {describe(pred)}")
    if pred.size == 0:
        raise ValueError(f"{name}: got an empty batch of shape {pred.shape}; the mean of nothing is undefined")
    return as_float(pred)


def target_array(name: str, target) -> np.ndarray:
    """The target as an ndarray of numbers (its own dtype; the loss casts floating targets)."""
    if isinstance(target, Tensor):
        return target.data
    try:
        array = np.asarray(target)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: targets must be numbers in one rectangular shape, got "
                         f"{describe(target)} ({error})") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name}: targets must be numbers, got {describe(target)} of dtype {array.dtype}")
    return array


def _same_shape(name: str, pred: Tensor, target: np.ndarray) -> np.ndarray:
    if target.shape != pred.shape:
        raise ValueError(f"{name}: predictions of shape {pred.shape} and targets of shape {target.shape} "
                         "must have the same shape")
    return target.astype(pred.dtype, copy=False)


def _parents(pred: Tensor, target) -> tuple:
    """The node's inputs: the target joins only when it wants a gradient itself."""
    if isinstance(target, Tensor) and target.requires_grad:
        return (pred, target)
    return (pred,)


class _Loss:
    """Shared behaviour of the loss objects: callable, no parameters, readable repr."""

    def forward(self, pred: Tensor, target) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward(pred, target)")

    def __call__(self, pred: Tensor, target) -> Tensor:
        return self.forward(pred, target)

    def parameters(self) -> list:
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# %% [markdown]
# ## Mean squared error
#
# $$L = \frac{1}{n} \sum_i (p_i - t_i)^2, \qquad \frac{\partial L}{\partial p_i} = \frac{2}{n}(p_i - t_i).$$
#
# $n$ is the number of elements (not rows), as in PyTorch. The difference is computed once and shared
# by both passes; the sum of squares is a dot product of the difference with itself, a single BLAS
# call that needs no squared temporary.

# %%
#| export
def mse_loss(pred: Tensor, target) -> Tensor:
    """Mean of `(pred - target) ** 2` over all elements.

    >>> mse_loss(Tensor([1.0, 2.0, 3.0]), [1.0, 2.0, 5.0])
    Tensor(1.3333334)
    """
    pred = checked_predictions("mse_loss", pred)
    t = _same_shape("mse_loss", pred, target_array("mse_loss", target))
    # Hint: diff = pred - target; loss = mean(diff ** 2); the gradient for pred is g * 2 * diff / n and
    # for the target its negative (used only when the target requires grad) (chapter 04, "The cost: one node").
    ### BEGIN SOLUTION
    diff = pred.data - t
    out = np.mean(diff * diff)

    def backward(g):
        grad = g * (2.0 / diff.size) * diff
        return grad, -grad
    ### END SOLUTION
    return Tensor.record(np.asarray(out, dtype=pred.dtype), _parents(pred, target), backward)


class MSELoss(_Loss):
    """Mean squared error, as a callable object.

    >>> loss = MSELoss()
    >>> loss(Tensor([[0.0, 2.0]]), np.array([[1.0, 1.0]]))
    Tensor(1.)
    """

    def forward(self, pred: Tensor, target) -> Tensor:
        return mse_loss(pred, target)


MeanSquaredError = MSELoss


# %%
def test_unit_mse():
    p = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    loss = MSELoss()(p, [[1.0, 0.0], [3.0, 5.0]])
    assert loss.shape == () and loss.dtype == np.float32
    assert np.isclose(loss.item(), (0 + 4 + 0 + 1) / 4)
    loss.backward()
    assert np.allclose(p.grad, [[0, 1], [0, -0.5]])
    try:
        mse_loss(p, np.zeros((3, 2)))
        raise AssertionError("mismatched shapes must raise")
    except ValueError as e:
        assert "mse_loss" in str(e), "the message names the loss"
    print("mse: ok")


if __name__ == "__main__":
    test_unit_mse()

# %% [markdown]
# ## Cross-entropy with logits
#
# A classifier outputs one score (logit) $x_{c}$ per class. Softmax turns a row into probabilities
# and the loss is the negative log-probability of the right class, averaged over the $N$ rows:
#
# $$L = -\frac{1}{N}\sum_{n} \log \mathrm{softmax}(x_n)_{y_n}
#     = \frac{1}{N}\sum_{n} \Big(\log \sum_c e^{x_{nc}} - x_{n y_n}\Big).$$
#
# **Stability.** As in `log_softmax`, we subtract each row's maximum before exponentiating, so no
# exponent is positive and the log-sum-exp is at least 0. We never form `log(softmax(x))`: a
# probability that underflows to 0 would give `-inf` instead of a large finite loss. With logits of
# ±1000 the loss is an exact, finite 2000.
#
# **Gradient.** Differentiating the second form, row $n$ of the gradient is
# $(\mathrm{softmax}(x_n) - \mathrm{onehot}(y_n)) / N$. The backward pass keeps the forward's
# log-probabilities: their exponential is the softmax, from which the one-hot rows are subtracted
# before the scaling by the incoming gradient over $N$. A target that requires grad gets its own
# gradient, $-\log \mathrm{softmax}(x_n) / N$, as the second value `backward` returns.
#
# **Probability targets.** The target may instead be a row of probabilities $t_n$ (one-hot rows,
# label smoothing, distillation): $L = -\frac{1}{N}\sum_{n,c} t_{nc} \log \mathrm{softmax}(x_n)_c$.
# Its gradient is $(\mathrm{softmax}(x_n) \sum_c t_{nc} - t_n)/N$, which is the same formula when the
# rows sum to 1. Like PyTorch, we do not insist that they do.
#
# The kind of target is read from its shape: `(N,)` integer labels or `(N, C)` probabilities. A label
# outside `0..C-1` would index the wrong memory (or crash far away), so it is refused with its value.

# %%
#| export
_UNSIGNED = {}      # an integer dtype -> the unsigned dtype of its size and byte order (labels, below)


def class_labels(name: str, labels: np.ndarray, logits: Tensor) -> np.ndarray:
    """`labels` checked as class labels for `logits` (N, C): integers of shape (N,) in 0..C-1."""
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"{name}: class labels must be an integer array, got {describe(labels)}")
    n, c = logits.shape
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name}: class-label targets of shape {labels.shape} must be integers, got dtype "
                        f"{labels.dtype}; pass integer labels or (N, C) probabilities")
    if labels.shape != (n,):
        raise ValueError(f"{name}: logits of shape {logits.shape} need class labels of shape ({n},), "
                         f"got targets of shape {labels.shape}")
    # Seen as unsigned (same size and byte order), a negative label is a huge number: one max()
    # finds both kinds of bad label.
    unsigned = _UNSIGNED.get(labels.dtype)
    if unsigned is None:
        unsigned = _UNSIGNED[labels.dtype] = np.dtype(labels.dtype.str.replace("i", "u"))
    if np.maximum.reduce(labels.view(unsigned)) >= c:
        bad = (labels < 0) | (labels >= c)
        raise ValueError(f"{name}: class label {labels[bad][0]} is out of range for {c} classes "
                         f"(labels must be in 0..{c - 1})")
    return labels


def cross_entropy(logits: Tensor, target) -> Tensor:
    """Softmax cross-entropy of logits `(N, C)`, averaged over the batch.

    `target` is either integer class labels of shape `(N,)` or probabilities of shape `(N, C)`.
    A class ruled out by a logit of -inf adds nothing where its target is 0 (0 log 0 = 0): the loss
    stays finite, as PyTorch's does for labels (for probabilities PyTorch gives nan there).

    >>> logits = Tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> cross_entropy(logits, [0, 2])
    Tensor(0.6690786)
    >>> cross_entropy(logits, np.eye(3)[[0, 2]])      # the same targets, one-hot
    Tensor(0.6690786)
    """
    name = "cross_entropy"
    logits = checked_predictions(name, logits)
    if logits.ndim != 2:
        raise ValueError(f"{name}: logits must have shape (N, C), got shape {logits.shape}")
    t = target_array(name, target)
    if t.ndim == 2:
        t = _same_shape(name, logits, t)
    else:                                  # class labels: as one-hot rows, the same formula below
        t = _one_hot(class_labels(name, t, logits), logits.shape[1], logits.dtype)
    x = logits.data
    # Hint: log_probs = shifted - log(sum(exp(shifted))) (rows shifted by their max); loss = -sum(t * L) / N,
    # L = np.where(t == 0, 0, log_probs) (0 log 0 = 0); backward returns (softmax * row sums of t - t) * g / N
    # and, for the target, -log_probs * g / N (chapter 04, "Stability" and "Worked example: classification").
    ### BEGIN SOLUTION
    n = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -(t * np.where(t == 0, 0, log_probs)).sum() / n

    def backward(g):
        scale = g / n
        softmax = np.exp(log_probs)
        grad_x = (softmax * t.sum(axis=1, keepdims=True) - t) * scale
        return grad_x, -log_probs * scale    # for the logits, and for a target that requires grad
    ### END SOLUTION
    return Tensor.record(np.asarray(loss, dtype=x.dtype), _parents(logits, target), backward)


def _one_hot(labels: np.ndarray, classes: int, dtype) -> np.ndarray:
    """Rows of zeros with a 1 at each label: shape (N, classes)."""
    rows = np.zeros((labels.shape[0], classes), dtype)
    rows[np.arange(labels.shape[0]), labels] = 1
    return rows


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy (fused log-softmax + negative log-likelihood), mean over the batch.

    >>> CrossEntropyLoss()(Tensor([[1000.0, -1000.0]]), [1])     # stable: finite, exact
    Tensor(2000.)
    """

    def forward(self, logits: Tensor, target) -> Tensor:
        return cross_entropy(logits, target)


# %%
def test_unit_cross_entropy():
    x = Tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], requires_grad=True)
    loss = CrossEntropyLoss()(x, [2, 0])
    p = np.exp(x.data) / np.exp(x.data).sum(axis=1, keepdims=True)
    assert np.isclose(loss.item(), -(np.log(p[0, 2]) + np.log(p[1, 0])) / 2)
    assert loss.dtype == np.float32
    loss.backward()
    assert np.allclose(x.grad, (p - np.eye(3)[[2, 0]]) / 2), "(softmax - onehot) / N"
    x.grad = None
    soft = CrossEntropyLoss()(x, np.eye(3, dtype=np.float32)[[2, 0]])
    assert np.isclose(soft.item(), loss.item())
    soft.backward()
    assert np.allclose(x.grad, (p - np.eye(3)[[2, 0]]) / 2)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        big = cross_entropy(Tensor([[1000.0, -1000.0], [-1000.0, 1000.0]]), [1, 1])
    assert big.item() == 1000.0, "finite and exact for huge logits"
    for bad in ([0, 3], [0, 1, 2]):            # a label out of range; one label too many
        try:
            cross_entropy(x, bad)
            raise AssertionError(f"targets {bad} must raise")
        except ValueError as e:
            assert "label" in str(e), "the message names the labels"
    print("cross_entropy: ok")


if __name__ == "__main__":
    test_unit_cross_entropy()

# %% [markdown]
# ## Binary cross-entropy on probabilities
#
# For a prediction $p \in [0, 1]$ that an event happens and a target $t \in [0, 1]$:
#
# $$L = -\frac{1}{n}\sum_i \big(t_i \log p_i + (1 - t_i) \log(1 - p_i)\big), \qquad
# \frac{\partial L}{\partial p_i} = \frac{1}{n}\,\frac{p_i - t_i}{p_i (1 - p_i)}.$$
#
# **The clamp.** A float32 sigmoid rounds to exactly 1 for inputs above about 16.6 (and underflows to
# exactly 0 below about -104), and then $\log 0 = -\infty$. We do what PyTorch's `BCELoss` does, so both give
# the same numbers: each logarithm is clamped at $-100$ (so one sample contributes at most 100 to the
# sum), and in the backward pass the denominator $p(1-p)$ is clamped at $10^{-12}$. The forward uses
# `log1p(-p)` for $\log(1 - p)$, which is accurate when $p$ is tiny. Predictions outside $[0, 1]$ are
# refused: they are not probabilities, and the logarithm would be NaN.
#
# If you have logits, prefer the next loss: it needs no clamp at all.

# %%
#| export
_LOG_FLOOR = -100.0      # PyTorch's clamp of log(p) and log(1 - p) in BCELoss
_BCE_EPS = 1e-12         # PyTorch's clamp of p * (1 - p) in BCELoss's gradient


def binary_cross_entropy(pred: Tensor, target) -> Tensor:
    """Binary cross-entropy of probabilities, mean over all elements; logs clamped at -100 like PyTorch.

    >>> round(binary_cross_entropy(Tensor([0.9, 0.2]), [1.0, 0.0]).item(), 4)
    0.1643
    >>> binary_cross_entropy(Tensor([0.0]), [1.0])       # log(0) is clamped to -100
    Tensor(100.)
    """
    name = "binary_cross_entropy"
    pred = checked_predictions(name, pred)
    t = _same_shape(name, pred, target_array(name, target))
    p = pred.data
    low, high = p.min(), p.max()
    if not (low >= 0 and high <= 1):           # written this way round so that NaN fails too
        raise ValueError(f"{name}: all predictions must be probabilities in [0, 1] (PyTorch checks the "
                         f"same), got values in [{low}, {high}]{' including NaN' if np.isnan(low) else ''}; "
                         "use binary_cross_entropy_with_logits for raw scores")
    # Hint: clamp log(p) and log1p(-p) at -100, loss = -mean(t log p + (1 - t) log(1 - p)); backward
    # returns (p - t) / max(p (1 - p), 1e-12) * g / n and, for the target, (log(1 - p) - log p) * g / n
    # (chapter 04, "Stability").
    ### BEGIN SOLUTION
    with np.errstate(divide="ignore"):           # log(0) = -inf is expected; the clamp handles it
        log_p = np.maximum(np.log(p), _LOG_FLOOR)
        log_1mp = np.maximum(np.log1p(-p), _LOG_FLOOR)
    loss = -np.mean(t * log_p + (1 - t) * log_1mp)

    def backward(g):
        scale = g / p.size
        grad_p = (p - t) / np.maximum(p * (1 - p), _BCE_EPS) * scale
        grad_t = (log_1mp - log_p) * scale          # d loss / d target, if the target requires grad
        return grad_p, grad_t
    ### END SOLUTION
    return Tensor.record(np.asarray(loss, dtype=p.dtype), _parents(pred, target), backward)


class BinaryCrossEntropyLoss(_Loss):
    """Binary cross-entropy on probabilities (PyTorch's `BCELoss`), mean over all elements.

    >>> round(BinaryCrossEntropyLoss()(Tensor([0.5, 0.5]), [0.0, 1.0]).item(), 4)
    0.6931
    """

    def forward(self, pred: Tensor, target) -> Tensor:
        return binary_cross_entropy(pred, target)


BCELoss = BinaryCrossEntropyLoss


# %% [markdown]
# ## Binary cross-entropy on logits
#
# With $p = \sigma(x)$, the two logarithms simplify: $\log \sigma(x) = -\log(1 + e^{-x})$ and
# $\log(1 - \sigma(x)) = -x - \log(1 + e^{-x})$. Rewriting with $|x|$ so that the exponent is never
# positive gives a form that is exact for any logit and needs no clamp:
#
# $$\ell(x, t) = \max(x, 0) - x\,t + \log\big(1 + e^{-|x|}\big),
# \qquad \frac{\partial \ell}{\partial x} = \sigma(x) - t.$$
#
# The gradient is the binary twin of cross-entropy's `softmax - onehot`. The forward pass computes
# $e^{-|x|}$ once; the backward pass reuses it for the stable sigmoid of module 02.

# %%
#| export
def binary_cross_entropy_with_logits(logits: Tensor, target) -> Tensor:
    """Binary cross-entropy of `sigmoid(logits)`, computed stably from the logits; mean over all elements.

    >>> round(binary_cross_entropy_with_logits(Tensor([0.0, 1000.0]), [1.0, 1.0]).item(), 4)
    0.3466
    """
    name = "binary_cross_entropy_with_logits"
    logits = checked_predictions(name, logits)
    t = _same_shape(name, logits, target_array(name, target))
    x = logits.data
    # Hint: loss = mean(max(x, 0) - x t + log1p(exp(-|x|))); backward returns (sigmoid(x) - t) * g / n,
    # the sigmoid from the same exp(-|x|), and, for the target, -x * g / n (chapter 04, "Stability").
    ### BEGIN SOLUTION
    z = np.exp(-np.abs(x))                       # in (0, 1]: never overflows
    loss = np.mean(np.maximum(x, 0) - x * t + np.log1p(z))

    def backward(g):
        scale = g / x.size
        sigmoid = np.where(x >= 0, 1, z) / (1 + z)   # sigmoid(x), stably, from the same z
        return (sigmoid - t) * scale, -x * scale     # for the logits, and for a target that requires grad
    ### END SOLUTION
    return Tensor.record(np.asarray(loss, dtype=x.dtype), _parents(logits, target), backward)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits (sigmoid fused in, stable for any logit), mean over all elements.

    >>> BCEWithLogitsLoss()(Tensor([-1000.0, 1000.0]), [0.0, 1.0])
    Tensor(0.)
    """

    def forward(self, logits: Tensor, target) -> Tensor:
        return binary_cross_entropy_with_logits(logits, target)


# %%
def test_unit_binary_cross_entropy():
    p = Tensor([0.9, 0.2, 0.5], requires_grad=True)
    t = np.array([1.0, 0.0, 1.0], dtype=np.float32)
    loss = BinaryCrossEntropyLoss()(p, t)
    expected = -np.mean(t * np.log(p.data) + (1 - t) * np.log(1 - p.data))
    assert np.isclose(loss.item(), expected)
    loss.backward()
    assert np.allclose(p.grad, (p.data - t) / (p.data * (1 - p.data)) / 3)
    edge = binary_cross_entropy(Tensor([0.0, 1.0]), [1.0, 0.0])
    assert edge.item() == 100.0, "log(0) is clamped at -100, as in PyTorch"

    x = Tensor([2.0, -1.0, 0.0], requires_grad=True)
    with_logits = BCEWithLogitsLoss()(x, t)
    s = 1 / (1 + np.exp(-x.data))
    assert np.isclose(with_logits.item(), -np.mean(t * np.log(s) + (1 - t) * np.log(1 - s)))
    with_logits.backward()
    assert np.allclose(x.grad, (s - t) / 3)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        huge = binary_cross_entropy_with_logits(Tensor([1000.0, -1000.0]), [0.0, 1.0])
    assert huge.item() == 1000.0
    try:
        binary_cross_entropy(Tensor([1.5]), [1.0])
        raise AssertionError("a probability above 1 must raise")
    except ValueError as e:
        assert "predictions" in str(e), "the message names the argument"
    print("binary cross-entropy: ok")


if __name__ == "__main__":
    test_unit_binary_cross_entropy()
