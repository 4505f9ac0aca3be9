"""nnlib: the small NumPy library behind the Artificial Neural Networks lecture.

One concept per module, each small enough to read in one sitting:

==================  ==============================================================
``activations``     sigmoid, tanh, ReLU, leaky ReLU, PReLU, softplus, linear, softmax
``losses``          the lecture's losses, with ``torch.nn.functional`` conventions
``gradcheck``       numerical gradients and relative-error checks ("backprop checks")
``autograd``        a scalar reverse-mode autograd engine (``Value``)
``graph``           drawing a ``Value``'s computational graph with matplotlib
``layers``          forward/backward pairs with an explicit cache (CS231n style)
``mlp``             a NumPy multilayer perceptron built from those layers
``optim``           SGD (with momentum) and Adam
``train``           the training loop with a progress bar and a loss history
``datasets``        offline, seeded datasets (Playground sets, Iris, digits, physics)
``plotting``        the figures the lectures share
``tracking``        local, offline experiment tracking
``testing``         ``quiet`` and ``strict``: warnings in the assignments' test cells
``neuron``          a leaky integrate-and-fire neuron (the biological analogy)
``playground``      a TensorFlow-Playground-like trainer with ipywidgets controls
``utils``           seeding and device selection
==================  ==============================================================

Submodules are imported on first use (``nnlib.losses`` works after ``import nnlib``), so
``import nnlib`` stays fast and does not import torch or matplotlib.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "activations",
    "losses",
    "gradcheck",
    "autograd",
    "graph",
    "layers",
    "mlp",
    "optim",
    "train",
    "datasets",
    "plotting",
    "tracking",
    "testing",
    "neuron",
    "playground",
    "utils",
)

__all__ = list(_SUBMODULES) + ["__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'nnlib' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
