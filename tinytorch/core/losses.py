# GENERATED FILE: DO NOT EDIT. Source: src/04_losses/04_losses.py
# Edit the source, then run `make export` to regenerate this file.

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


def mse_loss(pred: Tensor, target) -> Tensor:
    """Mean of `(pred - target) ** 2` over all elements.

    >>> mse_loss(Tensor([1.0, 2.0, 3.0]), [1.0, 2.0, 5.0])
    Tensor(1.3333334)
    """
    pred = checked_predictions("mse_loss", pred)
    t = _same_shape("mse_loss", pred, target_array("mse_loss", target))
    # Hint: diff = pred - target; loss = mean(diff ** 2); the gradient for pred is g * 2 * diff / n and
    # for the target its negative (used only when the target requires grad) (chapter 04, "The cost: one node").
    diff = pred.data - t
    out = np.mean(diff * diff)

    def backward(g):
        grad = g * (2.0 / diff.size) * diff
        return grad, -grad
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
    n = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -(t * np.where(t == 0, 0, log_probs)).sum() / n

    def backward(g):
        scale = g / n
        softmax = np.exp(log_probs)
        grad_x = (softmax * t.sum(axis=1, keepdims=True) - t) * scale
        return grad_x, -log_probs * scale    # for the logits, and for a target that requires grad
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
    with np.errstate(divide="ignore"):           # log(0) = -inf is expected; the clamp handles it
        log_p = np.maximum(np.log(p), _LOG_FLOOR)
        log_1mp = np.maximum(np.log1p(-p), _LOG_FLOOR)
    loss = -np.mean(t * log_p + (1 - t) * log_1mp)

    def backward(g):
        scale = g / p.size
        grad_p = (p - t) / np.maximum(p * (1 - p), _BCE_EPS) * scale
        grad_t = (log_1mp - log_p) * scale          # d loss / d target, if the target requires grad
        return grad_p, grad_t
    return Tensor.record(np.asarray(loss, dtype=p.dtype), _parents(pred, target), backward)


class BinaryCrossEntropyLoss(_Loss):
    """Binary cross-entropy on probabilities (PyTorch's `BCELoss`), mean over all elements.

    >>> round(BinaryCrossEntropyLoss()(Tensor([0.5, 0.5]), [0.0, 1.0]).item(), 4)
    0.6931
    """

    def forward(self, pred: Tensor, target) -> Tensor:
        return binary_cross_entropy(pred, target)


BCELoss = BinaryCrossEntropyLoss


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
    z = np.exp(-np.abs(x))                       # in (0, 1]: never overflows
    loss = np.mean(np.maximum(x, 0) - x * t + np.log1p(z))

    def backward(g):
        scale = g / x.size
        sigmoid = np.where(x >= 0, 1, z) / (1 + z)   # sigmoid(x), stably, from the same z
        return (sigmoid - t) * scale, -x * scale     # for the logits, and for a target that requires grad
    return Tensor.record(np.asarray(loss, dtype=x.dtype), _parents(logits, target), backward)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits (sigmoid fused in, stable for any logit), mean over all elements.

    >>> BCEWithLogitsLoss()(Tensor([-1000.0, 1000.0]), [0.0, 1.0])
    Tensor(0.)
    """

    def forward(self, logits: Tensor, target) -> Tensor:
        return binary_cross_entropy_with_logits(logits, target)
