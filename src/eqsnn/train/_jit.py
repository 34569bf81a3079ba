"""`filter_jit` semantics with JAX's asynchronous dispatch.

`eqx.filter_jit` (Equinox 0.13) blocks until every call's result is ready, to surface `eqx.error_if` errors
with a readable message. A training loop then cannot queue the next step while the current one runs: the
Python work of each call (flattening the model and the optimiser state, dispatch) is added to every step
instead of overlapping it, on the same few cores. eqsnn raises no runtime errors from inside a compiled step
(the trainer reads its non-finite flags back every `check_every` steps), so its steps use this wrapper:
arrays are traced, everything else is static (as with `eqx.filter_jit`), and the call returns as soon as the
work is queued.
"""

from __future__ import annotations

from collections.abc import Callable
import functools
from typing import Any

import equinox as eqx
import jax
import jax.tree_util as jtu


class AsyncFilterJit:
    """`fn` compiled with `jax.jit`: array leaves of the arguments are traced, all other leaves are static
    (hashable), the result's non-array leaves are restored from the trace. `lower(*args)` returns JAX's
    `Lowered` (`.compile()` gives the `Compiled`, with `memory_analysis()` and `cost_analysis()`)."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn
        out_static: dict[Any, tuple[Any, Any]] = {}

        def traced(key: tuple[Any, tuple[Any, ...]], dynamic: list[Any]) -> list[Any]:
            # A closure per instance, so no two wrappers can share a compiled function.
            treedef, static = key
            leaves = [d if s is None else s for d, s in zip(dynamic, static, strict=True)]
            args, kwargs = jtu.tree_unflatten(treedef, leaves)
            out_leaves, out_def = jtu.tree_flatten(fn(*args, **kwargs))
            is_arr = [eqx.is_array(leaf) for leaf in out_leaves]
            out_static[key] = (out_def, tuple(None if a else leaf for leaf, a in zip(out_leaves, is_arr, strict=True)))
            return [leaf for leaf, a in zip(out_leaves, is_arr, strict=True) if a]

        self._out_static = out_static
        self._jitted = jax.jit(traced, static_argnums=(0,))
        functools.update_wrapper(self, fn)

    def _split(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, list[Any]]:
        leaves, treedef = jtu.tree_flatten((args, kwargs))
        is_arr = [eqx.is_array(leaf) for leaf in leaves]
        static = tuple(None if a else leaf for leaf, a in zip(leaves, is_arr, strict=True))
        dynamic = [leaf if a else None for leaf, a in zip(leaves, is_arr, strict=True)]
        return (treedef, static), dynamic

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key, dynamic = self._split(args, kwargs)
        out_dynamic = iter(self._jitted(key, dynamic))
        out_def, out_static = self._out_static[key]
        return jtu.tree_unflatten(out_def, [next(out_dynamic) if s is None else s for s in out_static])

    def lower(self, *args: Any, **kwargs: Any) -> Any:
        key, dynamic = self._split(args, kwargs)
        return self._jitted.lower(key, dynamic)


def async_filter_jit(fn: Callable[..., Any]) -> AsyncFilterJit:
    return AsyncFilterJit(fn)
