"""Small plain-JAX image classifiers shared by the chapters.

Each model is a pair of pure functions, ``init(key, input_shape) -> params``
(a nested dict of arrays) and ``apply(params, x) -> logits`` for a batch
``x`` of NHWC images, bundled in a frozen :class:`Model`.  Layers are
written with ``jax.lax.conv_general_dilated`` and reshapes
rather than a framework (flax, haiku) so that a parameter vector is just
``jax.flatten_util.ravel_pytree(params)`` and the code reads top to bottom.

The architectures are those of Gressmann, Eaton-Rosen & Luschi (NeurIPS
2020, section 4 and the official code's Keras definitions), with Keras's
default initialisation (Glorot-uniform kernels, zero biases):

* :func:`fc`  -- Flatten -> Dense 128 ReLU -> Dense 10.
  D = 101 770 on MNIST (28x28x1), 394 634 on CIFAR-10 (32x32x3).
* :func:`cnn` -- Conv3x3x32 ReLU -> MaxPool2 -> Conv3x3x64 ReLU -> MaxPool2 ->
  Conv3x3x64 ReLU -> Flatten -> Dense 64 ReLU -> Dense 10, valid padding.
  D = 93 322 on MNIST, 122 570 on CIFAR-10.  The counts require the Flatten
  between the third convolution and Dense 64 (a Dense on the 3x3x64 feature
  map's last axis would have 4 160 instead of 36 928 weights); the ReLUs
  (all layers but the last, as in the official ``base_conv`` network) do not
  change the count.
* :func:`resnet8` -- the Keras "ResNet v1" for CIFAR-10 with one basic block
  per stage (16, 32, 64 filters; conv-BN-ReLU, 1x1 projection shortcuts
  without normalisation, global average pooling, Dense 10), convolutions
  without biases.  Keras counts 78 330 parameters for it -- the paper's
  D -- but 480 of them are batch-norm running means/variances, which are not
  trained; the trainable parameter vector here has D = 77 850.  Batch norm
  uses the statistics of the batch it is applied to (also at evaluation,
  so evaluate in large batches); this keeps ``apply`` a pure function of
  ``(params, x)`` with no running state, a deviation from Keras's inference
  mode.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

_DIMS = ("NHWC", "HWIO", "NHWC")


def softmax_cross_entropy(logits, labels):
    """Mean softmax cross-entropy of integer ``labels``."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def accuracy(logits, labels):
    """Fraction of rows of ``logits`` whose arg-max is the label."""
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)


@dataclass(frozen=True)
class Model:
    """A named pair of pure functions ``init(key, input_shape)`` and ``apply(params, x)``."""

    name: str
    init: Callable
    apply: Callable

    def __call__(self, params, x):
        return self.apply(params, x)


def count_params(params) -> int:
    """Number of scalars in a parameter pytree (the paper's D)."""
    return int(sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(params)))


def flat_dim(model: Model, input_shape) -> int:
    """D of ``model`` for single-example ``input_shape`` without allocating the parameters."""
    input_shape = tuple(int(n) for n in input_shape)
    shapes = jax.eval_shape(lambda key: model.init(key, input_shape), jax.random.key(0))
    return count_params(shapes)


def ravel(params):
    """``(flat, unravel)`` as :func:`jax.flatten_util.ravel_pytree`."""
    return ravel_pytree(params)


# ---------------------------------------------------------------- layers
def glorot_uniform(key, shape, fan_in: int, fan_out: int, dtype=jnp.float32):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return jax.random.uniform(key, shape, dtype, -limit, limit)


def he_normal(key, shape, fan_in: int, dtype=jnp.float32):
    """Keras ``he_normal``: truncated normal with std sqrt(2 / fan_in)."""
    std = math.sqrt(2.0 / fan_in) / 0.87962566103423978  # std of N(0,1) truncated at +-2
    return std * jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)


def dense_init(key, n_in: int, n_out: int, bias: bool = True):
    p = {"w": glorot_uniform(key, (n_in, n_out), n_in, n_out)}
    if bias:
        p["b"] = jnp.zeros((n_out,), jnp.float32)
    return p


def conv_init(key, k: int, c_in: int, c_out: int, bias: bool = True, init: str = "glorot"):
    shape = (k, k, c_in, c_out)
    if init == "glorot":
        w = glorot_uniform(key, shape, k * k * c_in, k * k * c_out)
    else:
        w = he_normal(key, shape, k * k * c_in)
    p = {"w": w}
    if bias:
        p["b"] = jnp.zeros((c_out,), jnp.float32)
    return p


def dense(p, x):
    y = x @ p["w"]
    return y + p["b"] if "b" in p else y


def conv(p, x, stride: int = 1, padding: str = "VALID"):
    y = jax.lax.conv_general_dilated(x, p["w"], (stride, stride), padding, dimension_numbers=_DIMS)
    return y + p["b"] if "b" in p else y


def max_pool(x, size: int = 2):
    """Keras ``MaxPool2D(size)``: non-overlapping windows, valid padding.

    Written as a reshape and a max over the window axes rather than
    ``lax.reduce_window``: the values are the same, but the gradient of
    ``reduce_window`` (``select_and_scatter``) is slow on XLA:CPU -- the
    CNN's SGD step takes half the time this way (measured).  At ties the
    gradient is shared among the maxima instead of going to the first one.
    """
    n, h, w, c = x.shape
    h2, w2 = h // size, w // size
    x = x[:, : h2 * size, : w2 * size, :].reshape(n, h2, size, w2, size, c)
    return x.max(axis=(2, 4))


def batch_norm(p, x, eps: float = 1e-3):
    """Batch normalisation with the statistics of ``x`` (Keras epsilon 1e-3)."""
    mean = x.mean(axis=(0, 1, 2))
    var = x.var(axis=(0, 1, 2))
    return (x - mean) * jax.lax.rsqrt(var + eps) * p["scale"] + p["offset"]


def _check_shape(input_shape, name):
    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ValueError(
            f"{name}: input_shape must be (height, width, channels), got {input_shape}"
        )
    return input_shape


# ---------------------------------------------------------------- FC
def fc(n_classes: int = 10, hidden: int = 128) -> Model:
    """Flatten -> Dense(hidden) ReLU -> Dense(n_classes)."""

    def init(key, input_shape):
        h, w, c = _check_shape(input_shape, "fc")
        k1, k2 = jax.random.split(key)
        return {
            "dense1": dense_init(k1, h * w * c, hidden),
            "dense2": dense_init(k2, hidden, n_classes),
        }

    def apply(params, x):
        x = x.reshape(x.shape[0], -1)
        return dense(params["dense2"], jax.nn.relu(dense(params["dense1"], x)))

    return Model("fc", init, apply)


# ---------------------------------------------------------------- CNN
def cnn(n_classes: int = 10) -> Model:
    """The paper's CNN (official ``base_conv``), valid padding throughout."""

    def init(key, input_shape):
        h, w, c = _check_shape(input_shape, "cnn")
        for _ in range(2):
            h, w = (h - 2) // 2, (w - 2) // 2
        h, w = h - 2, w - 2
        if h < 1 or w < 1:
            raise ValueError(
                f"cnn: input {input_shape} is too small for three valid 3x3 convolutions"
            )
        ks = jax.random.split(key, 5)
        return {
            "conv1": conv_init(ks[0], 3, c, 32),
            "conv2": conv_init(ks[1], 3, 32, 64),
            "conv3": conv_init(ks[2], 3, 64, 64),
            "dense1": dense_init(ks[3], h * w * 64, 64),
            "dense2": dense_init(ks[4], 64, n_classes),
        }

    def apply(params, x):
        x = max_pool(jax.nn.relu(conv(params["conv1"], x)))
        x = max_pool(jax.nn.relu(conv(params["conv2"], x)))
        x = jax.nn.relu(conv(params["conv3"], x))
        x = x.reshape(x.shape[0], -1)
        return dense(params["dense2"], jax.nn.relu(dense(params["dense1"], x)))

    return Model("cnn", init, apply)


# ---------------------------------------------------------------- ResNet-8
_STAGES = (16, 32, 64)


def resnet8(n_classes: int = 10) -> Model:
    """Keras ResNet v1 (He et al. 2016, CIFAR variant) with depth 8: one basic block per stage."""

    def init(key, input_shape):
        _, _, c = _check_shape(input_shape, "resnet8")
        keys = iter(jax.random.split(key, 16))

        def bn(ch):
            return {"scale": jnp.ones((ch,), jnp.float32), "offset": jnp.zeros((ch,), jnp.float32)}

        params = {
            "stem": {"conv": conv_init(next(keys), 3, c, 16, bias=False, init="he"), "bn": bn(16)}
        }
        c_in = 16
        for i, c_out in enumerate(_STAGES):
            block = {
                "conv1": conv_init(next(keys), 3, c_in, c_out, bias=False, init="he"),
                "bn1": bn(c_out),
                "conv2": conv_init(next(keys), 3, c_out, c_out, bias=False, init="he"),
                "bn2": bn(c_out),
            }
            if c_in != c_out:
                block["shortcut"] = conv_init(next(keys), 1, c_in, c_out, bias=False, init="he")
            params[f"stage{i + 1}"] = block
            c_in = c_out
        params["head"] = dense_init(next(keys), c_in, n_classes)
        return params

    def apply(params, x):
        s = params["stem"]
        x = jax.nn.relu(batch_norm(s["bn"], conv(s["conv"], x, padding="SAME")))
        for i in range(len(_STAGES)):
            b = params[f"stage{i + 1}"]
            stride = 1 if i == 0 else 2
            y = jax.nn.relu(batch_norm(b["bn1"], conv(b["conv1"], x, stride, "SAME")))
            y = batch_norm(b["bn2"], conv(b["conv2"], y, 1, "SAME"))
            if "shortcut" in b:
                x = conv(b["shortcut"], x, stride, "SAME")
            x = jax.nn.relu(x + y)
        x = x.mean(axis=(1, 2))  # global average pooling (Keras: AveragePooling2D(8) on 8x8)
        return dense(params["head"], x)

    return Model("resnet8", init, apply)


#: constructors by name
MODELS = {"fc": fc, "cnn": cnn, "resnet8": resnet8}


def get_model(name: str, n_classes: int = 10) -> Model:
    """The model called ``name`` (one of :data:`MODELS`)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name](n_classes)
