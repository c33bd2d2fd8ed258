# GENERATED FILE: DO NOT EDIT. Source: src/09_convolutions/09_convolutions.py
# Edit the source, then run `make export` to regenerate this file.

import numpy as np

from tinytorch.core.layers import Flatten, Linear, Module
from tinytorch.core.tensor import Tensor, as_float, check_tensor
from tinytorch.utils.validation import check_bool, check_int, describe

__all__ = ["Conv2d", "Conv2D", "MaxPool2d", "MaxPool2D", "AvgPool2d", "Flatten",
           "conv2d", "max_pool2d", "avg_pool2d", "conv_output_size"]


def _pair(layer: str, name: str, value, minimum: int) -> tuple:
    """An int or a pair of ints (each >= minimum) as a pair of Python ints."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{layer} {name} must be an integer or a pair of integers, "
                             f"got {describe(value)}")
        return tuple(check_int(f"{layer} {name}", v, minimum) for v in value)
    size = check_int(f"{layer} {name}", value, minimum)
    return size, size


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """How many positions a kernel takes along one axis: (size + 2 padding - kernel) // stride + 1.

    >>> conv_output_size(28, 3)
    26
    >>> conv_output_size(32, 3, stride=2, padding=1)
    16
    """
    size, kernel = check_int("conv_output_size size", size, 0), check_int("conv_output_size kernel", kernel, 1)
    stride = check_int("conv_output_size stride", stride, 1)
    padding = check_int("conv_output_size padding", padding, 0)
    return (size + 2 * padding - kernel) // stride + 1


def _as_input(layer, x) -> Tensor:
    """A layer's input as a Tensor: the layers also take arrays and nested lists (the functions
    below take Tensors only); data that is not numbers gets an error naming the layer."""
    if isinstance(x, Tensor):
        return x
    try:
        return Tensor(x)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{layer!r} input: {error}") from None


def _image_batch(layer: str, x, channels: int = None) -> Tensor:
    """`x` as a floating tensor of shape (N, C, H, W), or an error naming `layer`.

    Integer and bool images (raw pixels) become float32 (DESIGN.md, "Integer inputs"). A 3-D
    (C, H, W) image is refused, on purpose: PyTorch would treat it as one unbatched image, which
    hides a forgotten batch axis; the message says to write `x.reshape(1, *x.shape)`.
    """
    check_tensor(layer, x)
    x = as_float(x)
    if x.ndim != 4:
        raise ValueError(f"{layer} expects input of shape (N, C, H, W), got shape {x.shape} "
                         f"({x.ndim}-D)" + ("; for one image use x.reshape(1, *x.shape)"
                                            if x.ndim == 3 else ""))
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{layer} expects {channels} input channel(s), got input of shape "
                         f"{x.shape} with {x.shape[1]} channel(s) on axis 1")
    return x


def _check_fits(layer: str, x: Tensor, kernel: tuple, padding: tuple = (0, 0)) -> None:
    padded = (x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1])
    if x.shape[0] * x.shape[1] * padded[0] * padded[1] > np.iinfo(np.intp).max // 8:
        raise ValueError(f"{layer}: padding {padding} makes the padded input of shape {x.shape[:2] + padded} "
                         f"more elements than one array can hold")
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(f"{layer}: kernel_size {kernel} is larger than the padded input "
                         f"{padded} (input of shape {x.shape}, padding {padding})")


def _window(start: int, stride: int, count: int) -> slice:
    """The `count` positions start, start + stride, ... of one kernel offset (a strided view)."""
    return slice(start, start + stride * (count - 1) + 1, stride)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor = None, stride=1, padding=0) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of an (N, C, H, W) batch, one graph node.

    `weight` has shape (F, C, kh, kw), `bias` shape (F,) or None. The result has shape
    (N, F, OH, OW) with OH = (H + 2 padding - kh) // stride + 1 (likewise OW).

    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> conv2d(x, Tensor(np.ones((1, 1, 2, 2)))).data[0, 0]
    array([[10., 14., 18.],
           [26., 30., 34.],
           [42., 46., 50.]], dtype=float32)
    """
    sh, sw = _pair("conv2d", "stride", stride, 1)
    ph, pw = _pair("conv2d", "padding", padding, 0)
    check_tensor("conv2d weight", weight)
    if weight.ndim != 4:
        raise ValueError(f"conv2d weight must have shape (F, C, kh, kw), got shape {weight.shape}")
    n_out, channels, kh, kw = weight.shape
    x = _image_batch("conv2d", x, channels)
    _check_fits("conv2d", x, (kh, kw), (ph, pw))
    if bias is not None:
        check_tensor("conv2d bias", bias)
        if bias.shape != (n_out,):
            raise ValueError(f"conv2d bias must have shape ({n_out},), got shape {bias.shape}")
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and param.dtype != x.dtype:   # PyTorch refuses the mix too
            raise TypeError(f"conv2d got {x.dtype} input but its {name} is {param.dtype}: convert "
                            f"the input (Tensor(x.data, dtype=np.{param.dtype})) or the parameters")
    n, _, h, w = x.shape
    oh, ow = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    xpad = np.pad(x.data, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x.data
    cols = np.empty((channels, kh, kw, n, oh, ow), dtype=xpad.dtype)   # the column buffer
    # Hint: for each offset (i, j) copy xpad[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw], axes moved to
    # (C, N, OH, OW), into cols[:, i, j]; then out = weight as (F, C*kh*kw) @ cols as (C*kh*kw, N*OH*OW),
    # a 2-D (F, N*OH*OW) matrix: the code below adds the bias and reshapes it (chapter 09, "The kernel-offset loop").
    for i in range(kh):
        for j in range(kw):
            view = xpad[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
            cols[:, i, j] = view.transpose(1, 0, 2, 3)
    out = weight.data.reshape(n_out, -1) @ cols.reshape(channels * kh * kw, -1)
    cols = cols.reshape(channels * kh * kw, n * oh * ow)    # kept for the backward pass
    if bias is not None:
        out += bias.data[:, None]
    out = out.reshape(n_out, n, oh, ow).transpose(1, 0, 2, 3)

    def backward(g):
        rows = g.transpose(1, 0, 2, 3).reshape(n_out, -1)   # (F, N*OH*OW): free if g came from out
        grad_w = (rows @ cols.T).reshape(weight.shape) if weight.requires_grad else None
        grad_b = rows.sum(axis=1) if bias is not None and bias.requires_grad else None
        grad_x = None
        if x.requires_grad:
            grad_cols = (weight.data.reshape(n_out, -1).T @ rows).reshape(channels, kh, kw, n, oh, ow)
            grad_pad = np.zeros((channels, n) + xpad.shape[2:], dtype=g.dtype)
            for i, j in np.ndindex(kh, kw):   # the forward loop in reverse: scatter-add
                grad_pad[:, :, _window(i, sh, oh), _window(j, sw, ow)] += grad_cols[:, i, j]
            grad_x = grad_pad[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)
        return grad_x, grad_w, grad_b

    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor.record(out, parents, backward)


class Conv2d(Module):
    """A 2-D convolution layer over (N, C, H, W) batches, initialised as PyTorch does.

    The weight has shape (out_channels, in_channels, kh, kw); weight and bias start uniform on
    [-1/sqrt(fan_in), 1/sqrt(fan_in)] with fan_in = in_channels * kh * kw (PyTorch's
    kaiming-uniform with a = sqrt(5)). A convolution is a `Linear` layer applied to every patch,
    so the initial values are drawn by a `Linear(fan_in, out_channels)` (`manual_seed` applies).

    >>> from tinytorch.core.layers import manual_seed
    >>> manual_seed(0)
    >>> conv = Conv2d(3, 8, kernel_size=3, padding=1)
    >>> conv(Tensor(np.zeros((2, 3, 28, 28)))).shape
    (2, 8, 28, 28)
    >>> conv.weight.shape
    (8, 3, 3, 3)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True):
        self.in_channels = check_int("Conv2d in_channels", in_channels, 1)
        self.out_channels = check_int("Conv2d out_channels", out_channels, 1)
        self.kernel_size = _pair("Conv2d", "kernel_size", kernel_size, 1)
        self.stride = _pair("Conv2d", "stride", stride, 1)
        self.padding = _pair("Conv2d", "padding", padding, 0)
        with_bias = check_bool("Conv2d bias", bias)
        kh, kw = self.kernel_size
        if self.out_channels * self.in_channels * kh * kw > np.iinfo(np.intp).max // 8:
            raise ValueError(f"Conv2d out_channels * in_channels * kernel_size = {self.out_channels} * "
                             f"{self.in_channels} * {self.kernel_size} is more weights than one array can hold")
        patch = Linear(self.in_channels * kh * kw, self.out_channels, bias=with_bias)
        self.weight = Tensor(patch.weight.data.reshape(self.out_channels, self.in_channels, kh, kw),
                             requires_grad=True)
        self.bias = patch.bias

    def forward(self, x) -> Tensor:
        x = _image_batch(repr(self), _as_input(self, x), self.in_channels)
        _check_fits(repr(self), x, self.kernel_size, self.padding)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None})")


Conv2D = Conv2d  # the older name some course material uses


def _pool_geometry(layer: str, x, kernel_size, stride):
    kernel = _pair(layer, "kernel_size", kernel_size, 1)
    step = kernel if stride is None else _pair(layer, "stride", stride, 1)
    x = _image_batch(layer, x)
    _check_fits(layer, x, kernel)
    out_size = (conv_output_size(x.shape[2], kernel[0], step[0]),
                conv_output_size(x.shape[3], kernel[1], step[1]))
    return x, kernel, step, out_size


def max_pool2d(x: Tensor, kernel_size, stride=None) -> Tensor:
    """Maximum over each kh x kw window of an (N, C, H, W) batch; stride defaults to kernel_size.

    >>> max_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2).data[0, 0]
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    """
    x, (kh, kw), (sh, sw), (oh, ow) = _pool_geometry("max_pool2d", x, kernel_size, stride)
    views = [(_window(i, sh, oh), _window(j, sw, ow)) for i in range(kh) for j in range(kw)]
    # Hint: start from (a copy of) the first offset's strided view x.data[:, :, rows, cols] and take
    # np.maximum with each of the others (chapter 09, "Pooling").
    rows, cols = views[0]
    out = x.data[:, :, rows, cols].copy()
    for rows, cols in views[1:]:
        out = np.maximum(out, x.data[:, :, rows, cols])

    # Windows that neither overlap nor leave input uncovered write every gradient entry once.
    tiles = (sh, sw) == (kh, kw) and x.shape[2] == kh * oh and x.shape[3] == kw * ow

    def backward(g):
        grad = (np.empty if tiles else np.zeros)(x.shape, dtype=g.dtype)
        pending = None                 # output positions whose winner is not found yet
        for rows, cols in views:
            winner = x.data[:, :, rows, cols] == out
            if pending is None:
                pending = ~winner
            else:
                winner &= pending      # only the first maximum of a window wins (as in PyTorch)
                pending ^= winner      # winner lies inside pending: this removes it
            if tiles:
                np.multiply(g, winner, out=grad[:, :, rows, cols])
            else:
                grad[:, :, rows, cols] += g * winner
        return (grad,)
    return Tensor.record(out, (x,), backward)


def avg_pool2d(x: Tensor, kernel_size, stride=None) -> Tensor:
    """Mean over each kh x kw window of an (N, C, H, W) batch; stride defaults to kernel_size.

    >>> avg_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2).data[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """
    x, (kh, kw), (sh, sw), (oh, ow) = _pool_geometry("avg_pool2d", x, kernel_size, stride)
    views = [(_window(i, sh, oh), _window(j, sw, ow)) for i in range(kh) for j in range(kw)]
    scale = x.data.dtype.type(1.0 / (kh * kw))
    # Hint: add up the strided views x.data[:, :, rows, cols] of all kernel offsets, then multiply
    # by scale = 1 / (kh * kw) (chapter 09, "Pooling").
    rows, cols = views[0]
    out = x.data[:, :, rows, cols].copy()
    for rows, cols in views[1:]:
        out = out + x.data[:, :, rows, cols]
    out = out * scale

    def backward(g):
        grad = np.zeros_like(x.data, dtype=g.dtype)
        share = g * scale
        for rows, cols in views:
            grad[:, :, rows, cols] += share
        return (grad,)
    return Tensor.record(out, (x,), backward)


class _Pool2d(Module):
    """What both poolings share: the window and stride arguments, the input checks and the repr;
    each subclass names its pooling function."""

    pool = None   # max_pool2d or avg_pool2d

    def __init__(self, kernel_size, stride=None):
        name = type(self).__name__
        self.kernel_size = _pair(name, "kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else _pair(name, "stride", stride, 1)

    def forward(self, x) -> Tensor:
        x = _image_batch(repr(self), _as_input(self, x))
        _check_fits(repr(self), x, self.kernel_size)
        return type(self).pool(x, self.kernel_size, self.stride)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2d(_Pool2d):
    """Max pooling over (N, C, H, W) batches: `MaxPool2d(2)` halves height and width.

    >>> MaxPool2d(kernel_size=2)(Tensor(np.zeros((8, 16, 30, 30)))).shape
    (8, 16, 15, 15)
    """

    pool = staticmethod(max_pool2d)


class AvgPool2d(_Pool2d):
    """Average pooling over (N, C, H, W) batches.

    >>> AvgPool2d(kernel_size=3, stride=1)(Tensor(np.zeros((1, 2, 5, 5)))).shape
    (1, 2, 3, 3)
    """

    pool = staticmethod(avg_pool2d)


MaxPool2D = MaxPool2d  # the older name some course material uses
