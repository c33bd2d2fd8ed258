"""TinyTorch: a small, fast, honest deep-learning framework in NumPy.

Hand-written (not generated): it only re-exports the public names of the generated modules in
`tinytorch.core`, so that `from tinytorch import Tensor, SGD, Trainer` works.
"""
from tinytorch.core.autograd import no_grad, is_grad_enabled
from tinytorch.core.tensor import Tensor

__version__ = "0.1.0"
