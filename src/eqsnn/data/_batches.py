"""Mini-batches: a Python epoch iterator and a jittable index builder, both shuffling on device."""

from __future__ import annotations

from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np

from .._custom_types import Array, ArrayLike, Int, PRNGKeyArray
from .._errors import check_size


def _check_key(key: object, owner: str) -> None:
    if key is None:
        return
    ok = hasattr(key, "dtype") and (
        jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or (key.dtype == jnp.uint32 and key.shape == (2,))
    )
    if not ok:
        shape, dtype = getattr(key, "shape", None), getattr(key, "dtype", type(key).__name__)
        raise TypeError(
            f"{owner}: `key` must be a PRNG key (jax.random.key or jax.random.PRNGKey) or None, "
            f"got {dtype} with shape {shape}"
        )


def _order(n: int, key: PRNGKeyArray | None) -> Int[Array, " n"]:
    return jnp.arange(n) if key is None else jax.random.permutation(key, n)


def batches(
    *arrays: ArrayLike,
    batch_size: int,
    key: PRNGKeyArray | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[Array, ...]]:
    r"""One epoch of mini-batches over the leading axis of `arrays`.

    The arrays are moved to the device once; each batch is gathered there with
    one index array, so no per-sample Python work happens. With a `key` the
    order is `jax.random.permutation(key, N)` (the same key gives the same
    order); without one the data are taken in order.

    **Arguments:**

    - `*arrays`: one or more arrays with the same leading length `N`
      (e.g. `images, labels`).
    - `batch_size`: samples per batch (a positive int).
    - `key`: PRNG key for shuffling, or `None` (default) for no shuffling.
    - `drop_last`: drop the last batch when it has fewer than `batch_size`
      samples (default `False`: it is kept, smaller).

    **Returns:** an iterator over tuples `(a[idx], b[idx], ...)` of JAX arrays
    (a tuple even for one array), $\lceil N / B \rceil$ of them
    ($\lfloor N / B \rfloor$ with `drop_last`).

    !!! example

        ```python
        for epoch in range(num_epochs):
            key, sub = jax.random.split(key)
            for x, y in eqsnn.data.batches(images, labels, batch_size=256, key=sub):
                model, opt_state = step(model, opt_state, x, y)
        ```
    """
    if not arrays:
        raise TypeError("batches: expected at least one array, got none")
    batch_size = check_size("batch_size", batch_size, owner="batches")
    _check_key(key, "batches")
    lengths = []
    for i, a in enumerate(arrays):
        shape = np.shape(a)
        if len(shape) == 0:
            raise ValueError(f"batches: array {i} must have a leading (sample) axis, got a scalar")
        lengths.append(shape[0])
    if len(set(lengths)) != 1:
        raise ValueError(f"batches: all arrays must have the same leading length, got lengths {lengths}")
    n = lengths[0]
    device_arrays = tuple(jnp.asarray(a) for a in arrays)
    order = _order(n, key)
    stop = n - n % batch_size if drop_last else n
    return _iterate(device_arrays, order, batch_size, stop)


def _iterate(arrays: tuple[Array, ...], order: Array, batch_size: int, stop: int) -> Iterator[tuple[Array, ...]]:
    for start in range(0, stop, batch_size):
        idx = order[start : min(start + batch_size, stop)]
        yield tuple(jnp.take(a, idx, axis=0) for a in arrays)


def epoch_indices(
    n: int, batch_size: int, key: PRNGKeyArray | None = None, *, drop_last: bool = True
) -> Int[Array, "num_batches batch_size"]:
    r"""Sample indices of one epoch, as a `[num_batches, batch_size]` array (jittable).

    Row $b$ holds the indices of batch $b$: a jitted training loop can `scan`
    over the rows and gather `x[idx]` on device, with no Python per batch.
    The order is `jax.random.permutation(key, n)` (or `arange(n)` when `key` is
    `None`). `n` and `batch_size` are Python ints (static under `jit`).

    **Arguments:**

    - `n`: number of samples. `batch_size`: samples per batch.
    - `key`: PRNG key for shuffling, or `None` (default).
    - `drop_last`: `True` (default) drops the last `n % batch_size` samples
      of the order, giving $\lfloor n / B \rfloor$ rows. `False` gives
      $\lceil n / B \rceil$ rows, the last one completed with the first
      indices of the same order (those samples appear twice in the epoch).

    **Returns:** `int32 [num_batches, batch_size]`.
    """
    n = check_size("n", n, owner="epoch_indices")
    batch_size = check_size("batch_size", batch_size, owner="epoch_indices")
    _check_key(key, "epoch_indices")
    order = _order(n, key)
    num_full, rest = divmod(n, batch_size)
    if drop_last or rest == 0:
        if num_full == 0:
            raise ValueError(f"epoch_indices: `batch_size` must be <= n={n} when drop_last=True, got {batch_size}")
        return order[: num_full * batch_size].reshape(num_full, batch_size)
    pad = jnp.resize(order, (batch_size - rest,))  # wraps around when n < batch_size - rest
    return jnp.concatenate([order, pad]).reshape(num_full + 1, batch_size)
