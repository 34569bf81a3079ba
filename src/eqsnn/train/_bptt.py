"""The high-level trainer: back-propagation through time over batches of sequences."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import math
import os
from pathlib import Path
import sys
import tempfile
import time
from typing import Any
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from .._core import AbstractDynamics, check_reduce, check_remat, run
from .._custom_types import Array, PRNGKeyArray, PyTree
from ._checkpoint import CheckpointError, checkpoint_path, load_checkpoint, remove_stale_parts, save_checkpoint
from ._data import ArraySource, IterSource, Spec, as_source, check_spec, put
from ._history import History
from ._host import tune_host_allocator
from ._jit import async_filter_jit
from ._silent import warn_if_silent
from ._step import all_finite, grad_update, trainable, tree_select

_LOSS, _GRAD = 1, 2


class TrainingDivergedError(FloatingPointError):
    """Training met a non-finite (NaN/inf) loss or gradient.

    Attributes: `epoch` (1-based), `step` (1-based, within the epoch),
    `global_step` (1-based, over the whole run), `what` (`'loss'` or
    `'gradient'`), `model` (the model just before the bad step: updates stop
    at the first bad step), `checkpoint` (the path of the last good
    checkpoint, or `None`).
    """

    def __init__(
        self, message: str, *, epoch: int, step: int, global_step: int, what: str, model: Any, checkpoint: Any
    ):
        super().__init__(message)
        self.epoch, self.step, self.global_step, self.what = epoch, step, global_step, what
        self.model, self.checkpoint = model, checkpoint


class _Acc(eqx.Module):
    """On-device epoch accumulator: steps done, first bad step (-1: none) and why."""

    count: Array
    first_bad: Array
    bad_kind: Array

    @staticmethod
    def zero() -> _Acc:
        return _Acc(jnp.zeros((), jnp.int32), jnp.full((), -1, jnp.int32), jnp.zeros((), jnp.int32))


def _key_repr(key: Any) -> list[int] | None:
    if key is None:
        return None
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return [int(v) for v in np.asarray(key).ravel()]


def _resolve_devices(devices: Any, where: str) -> jax.sharding.Mesh | None:
    if devices is None:
        return None
    if isinstance(devices, jax.sharding.Mesh):
        if len(devices.axis_names) != 1:
            raise ValueError(f"{where}: `devices` as a Mesh must have one axis, got axes {devices.axis_names}")
        return devices
    if isinstance(devices, bool) or not isinstance(devices, (int, Sequence)):
        raise TypeError(
            f"{where}: `devices` must be None, a number of devices, a sequence of jax devices or a 1-D Mesh, "
            f"got {type(devices).__name__}"
        )
    if isinstance(devices, int):
        available = jax.devices()
        if not 1 <= devices <= len(available):
            raise ValueError(f"{where}: `devices` must be between 1 and {len(available)} (available), got {devices}")
        devices = available[:devices]
    devices = list(devices)
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError(f"{where}: `devices` must be a non-empty sequence of jax devices, got {devices!r}")
    return jax.sharding.Mesh(np.asarray(devices), ("batch",))


class _Engine:
    """The jitted functions of one trainer on one device layout (compiled once each)."""

    def __init__(self, trainer: BPTT, mesh: jax.sharding.Mesh | None):
        self.trainer = trainer
        self.mesh = mesh
        if mesh is None:
            self.num_devices = 1
            self.data_sharding = self.replicated = None
        else:
            self.num_devices = mesh.devices.size
            self.data_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(mesh.axis_names[0]))
            self.replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
        self.train_indexed = async_filter_jit(self._train_indexed)
        self.train_batch = async_filter_jit(self._train_batch)
        self.eval_sliced = async_filter_jit(self._eval_sliced)
        self.eval_batch = async_filter_jit(self._eval_batch)

    # -- placement ----------------------------------------------------------
    def replicate(self, tree: PyTree) -> PyTree:
        if self.replicated is None:
            return tree
        arrays, rest = eqx.partition(tree, eqx.is_array)
        return eqx.combine(jax.device_put(arrays, self.replicated), rest)

    def _constrain_batch(self, x: Array, y: Array) -> tuple[Array, Array]:
        if self.data_sharding is None:
            return x, y
        c = jax.lax.with_sharding_constraint
        return c(x, self.data_sharding), c(y, self.data_sharding)

    def _constrain_replicated(self, tree: PyTree) -> PyTree:
        if self.replicated is None:
            return tree
        arrays, rest = eqx.partition(tree, eqx.is_array)
        return eqx.combine(jax.lax.with_sharding_constraint(arrays, self.replicated), rest)

    # -- traced bodies -----------------------------------------------------
    def _train_core(self, model, opt_state, acc: _Acc, x, y):
        t = self.trainer

        def batch_loss(m, batch):
            xb, yb = batch
            outputs, monitored = t.forward(m, xb)
            loss, aux = t.call_loss(outputs, yb, monitored)
            return loss, (aux, outputs)

        new_model, new_opt, loss, (aux, outputs), grads = grad_update(batch_loss, t.optimizer, model, opt_state, (x, y))
        values = {"loss": loss, **aux, **t.call_metrics(jax.lax.stop_gradient(outputs), y)}
        loss_ok = jnp.isfinite(loss)
        bad = ~(loss_ok & all_finite(grads))
        already = acc.first_bad >= 0
        new_bad = bad & ~already
        acc = _Acc(
            count=acc.count + 1,
            first_bad=jnp.where(new_bad, acc.count, acc.first_bad),
            bad_kind=jnp.where(new_bad, jnp.where(loss_ok, _GRAD, _LOSS), acc.bad_kind),
        )
        keep_old = bad | already
        model = self._constrain_replicated(tree_select(keep_old, model, new_model))
        opt_state = self._constrain_replicated(tree_select(keep_old, opt_state, new_opt))
        return model, opt_state, acc, values

    def _train_indexed(self, model, opt_state, acc, x_all, y_all, perm):
        idx = perm[acc.count]
        x, y = self._constrain_batch(x_all[idx], y_all[idx])
        return self._train_core(model, opt_state, acc, x, y)

    def _train_batch(self, model, opt_state, acc, x, y):
        return self._train_core(model, opt_state, acc, x, y)

    def _eval_core(self, model, x, y):
        t = self.trainer
        outputs, monitored = t.forward(model, x)
        loss, aux = t.call_loss(outputs, y, monitored)
        return {"loss": loss, **aux, **t.call_metrics(outputs, y)}

    def _eval_sliced(self, model, x_all, y_all, start, size: int):
        x = jax.lax.dynamic_slice_in_dim(x_all, start, size)
        y = jax.lax.dynamic_slice_in_dim(y_all, start, size)
        if size % self.num_devices == 0:
            x, y = self._constrain_batch(x, y)
        return self._eval_core(model, x, y)

    def _eval_batch(self, model, x, y):
        return self._eval_core(model, x, y)


def _stack_fetch(values: list[dict[str, Array]]) -> dict[str, np.ndarray]:
    """One device->host transfer for a list of per-step metric dicts."""
    if not values:
        return {}
    names = sorted(values[0], key=lambda k: (k != "loss", k))
    stacked = jax.device_get({k: jnp.stack([v[k] for v in values]) for k in names})
    return {k: np.asarray(stacked[k], dtype=np.float64) for k in names}


class BPTT:
    r"""Back-propagation through time over batches of sequences (BrainPy's `bp.BPTT`).

    For a batch of inputs $x \in \mathbb{R}^{B \times T \times \dots}$ the model
    is run over time for every sample (`jax.vmap` of [`eqsnn.run`][]), the
    loss is computed from its outputs over time, and one optimiser update is
    applied to the trainable (inexact array) leaves:

    $$ \theta \leftarrow \theta + \mathrm{opt}\big(\nabla_\theta\,
       \ell(f_\theta(x)_{1:T},\, y,\, m_{1:T})\big) $$

    **The loss.** `loss_fn(outputs, targets, monitored)` where

    - `outputs`: the model's outputs over time, `[B, T, ...]` (batch-major);
    - `targets`: the batch's targets as given, `[B, ...]`;
    - `monitored`: a dict with one `[B, T, ...]` array per entry of
      `monitor` (empty when there is none), e.g. `monitored['r.spike']`;
      `[B, ...]` (reduced over time) with `reduce_monitor`;

    returns either a scalar loss or `(loss, aux)` with `aux` a dict of scalar
    metrics (e.g. `{'acc': ...}`), all recorded in the [`eqsnn.train.History`][].

    **Arguments:**

    - `loss_fn`: as above.
    - `optimizer`: an `optax.GradientTransformation`, e.g. `optax.adam(1e-3)`.
    - `monitor`: `{name: fn(state) -> array}`, recorded after every step
      (BrainPy's `monitors={'r.spike': ...}` is
      `monitor={'r.spike': lambda state: state["r"].spike}`); the same
      argument as [`eqsnn.run`][]'s.
    - `reduce_monitor`: `None` (default, stacked over time), `'sum'` or
      `'mean'`: reduce the monitors over time inside the scan
      ([`eqsnn.run`][]'s `reduce_monitor`), which saves the `[B, T, ...]`
      array and its cotangent; spike-count regularisers need only `'sum'`.
    - `metrics`: `{name: fn(outputs, targets) -> scalar}`, extra metrics
      computed without gradient (default none).
    - `inputs`: optional `fn(x_batch) -> model inputs [B, T, ...]` applied on
      the device inside the jitted step, before the model runs: data can stay
      compact (e.g. `uint8` images `[N, 28, 28]`) and be encoded per batch
      (e.g. [`eqsnn.encoding.rows_as_sequence`][] or a spike encoder). Its
      output may be any PyTree whose leaves have a leading batch axis. With
      `inputs`, the raw data may have any numeric dtype and rank >= 1.
    - `remat`: if given, [`eqsnn.run`][]'s `remat` segment length, or
      `'auto'` (about $\sqrt{T}$ steps, [`eqsnn.auto_segment`][]): recompute the forward pass in
      segments to save memory.
    - `progress`: show a tqdm bar over batches (default `True`; it is hidden
      anyway when the output is not a terminal).
    - `verbose`: print one line per epoch (default `True`).
    - `check_every`: how often (in steps) the bar's loss is refreshed and the
      non-finite check is read back from the device (default `50`). Detection
      is exact at any period: the device records the first bad step.
    - `warn_silent`: before the first step of `fit`, run the model on up to
      8 samples of the first batch and warn
      ([`eqsnn.train.SilentLayerWarning`][]) naming every spiking population
      that emits no spike (default `True`; one extra compile).
    - `tune_allocator`: `fit` and `evaluate` call
      [`eqsnn.train.tune_host_allocator`][] (default `True`): on the CPU
      backend with glibc, each step's large temporary buffers are reused
      instead of page-faulted in afresh (W2's epoch: 0.71-0.89x the time on a
      2-core CPU). Process-wide; values are unchanged.

    Shapes and dtypes must stay fixed through training (one compile): with
    array data the last `N % batch_size` samples of each epoch's permutation
    are left out of training (and all evaluated in evaluation); a batch
    iterator may end on one smaller batch, which costs one more compile.
    An epoch's value of a metric is the mean over its steps; evaluation
    weights batches by their size. Metrics stay on the device until the end
    of the epoch (one transfer); only every `check_every` steps is a value
    read back.
    """

    def __init__(
        self,
        loss_fn: Callable[..., Any],
        optimizer: optax.GradientTransformation,
        *,
        monitor: Mapping[str, Callable[[Any], Array]] | None = None,
        reduce_monitor: str | None = None,
        metrics: Mapping[str, Callable[[Any, Any], Array]] | None = None,
        inputs: Callable[[Any], Any] | None = None,
        remat: int | str | None = None,
        progress: bool = True,
        verbose: bool = True,
        check_every: int = 50,
        warn_silent: bool = True,
        tune_allocator: bool = True,
        monitors: Mapping[str, Callable[[Any], Array]] | None = None,
        reduce_monitors: str | None = None,
    ):
        if not callable(loss_fn):
            raise TypeError(
                f"BPTT: `loss_fn` must be callable (outputs, targets, monitored) -> loss or (loss, aux), "
                f"got {type(loss_fn).__name__}"
            )
        if not isinstance(optimizer, optax.GradientTransformation):
            raise TypeError(
                f"BPTT: `optimizer` must be an optax.GradientTransformation (e.g. optax.adam(1e-3)), "
                f"got {type(optimizer).__name__}"
            )
        if monitors is not None or reduce_monitors is not None:
            warnings.warn(
                "BPTT: `monitors=` / `reduce_monitors=` are renamed `monitor=` / `reduce_monitor=` (as in eqsnn.run)",
                DeprecationWarning,
                stacklevel=2,
            )
            monitor = monitors if monitor is None else monitor
            reduce_monitor = reduce_monitors if reduce_monitor is None else reduce_monitor
        for argname, mapping in (("monitor", monitor), ("metrics", metrics)):
            if mapping is None:
                continue
            if not isinstance(mapping, Mapping) or not all(
                isinstance(k, str) and callable(f) for k, f in mapping.items()
            ):
                raise TypeError(f"BPTT: `{argname}` must be a dict {{name: function}}, got {mapping!r}")
        if inputs is not None and not callable(inputs):
            raise TypeError(
                f"BPTT: `inputs` must be a function of the batch inputs or None, got {type(inputs).__name__}"
            )
        remat = check_remat(remat, "BPTT")
        if isinstance(check_every, bool) or not isinstance(check_every, int) or check_every <= 0:
            raise ValueError(f"BPTT: `check_every` must be a positive int, got {check_every!r}")
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.monitors = dict(monitor or {})
        self.metrics = dict(metrics or {})
        self.inputs = inputs
        self.remat = remat
        self.reduce_monitor = check_reduce(reduce_monitor, "BPTT")
        self.progress = progress
        self.verbose = verbose
        self.check_every = check_every
        self.warn_silent = bool(warn_silent)
        if not isinstance(tune_allocator, bool):
            raise TypeError(f"BPTT: `tune_allocator` must be a bool, got {tune_allocator!r}")
        self.tune_allocator = tune_allocator
        self._engines: dict[Any, _Engine] = {}

    # -- pieces used inside the traced step ----------------------------------
    def forward(self, model: AbstractDynamics, x: Any) -> tuple[Any, dict[str, Array]]:
        """Run `model` over every sample of a batch `[B, T, ...]` (after the
        `inputs` transform, if any): returns `(outputs [B, T, ...],
        monitored {name: [B, T, ...]})`."""
        monitors = self.monitors
        if self.inputs is not None:
            x = self.inputs(x)

        def one(xs):
            if monitors:
                _, ys, mon = run(
                    model,
                    xs,
                    monitor=monitors,
                    reduce_monitor=self.reduce_monitor,
                    remat=self.remat,
                )
                return ys, mon
            _, ys = run(model, xs, remat=self.remat)
            return ys, {}

        return jax.vmap(one)(x)

    def call_loss(self, outputs: Any, targets: Any, monitored: dict) -> tuple[Array, dict[str, Array]]:
        out = self.loss_fn(outputs, targets, monitored)
        loss, aux = out if isinstance(out, tuple) and len(out) == 2 else (out, {})
        if not hasattr(loss, "shape") or jnp.shape(loss) != ():
            raise ValueError(
                f"BPTT: `loss_fn` must return a scalar loss (or (loss, aux)), got {type(loss).__name__} "
                f"with shape {getattr(loss, 'shape', None)}"
            )
        if not isinstance(aux, Mapping):
            raise TypeError(
                f"BPTT: the aux returned by `loss_fn` must be a dict of scalar metrics, got {type(aux).__name__}"
            )
        for k, v in aux.items():
            if not isinstance(k, str) or k == "loss" or jnp.shape(v) != ():
                raise ValueError(
                    f"BPTT: the aux of `loss_fn` must map names other than 'loss' to scalars, "
                    f"got {k!r} with shape {jnp.shape(v)}"
                )
        return loss, dict(aux)

    def call_metrics(self, outputs: Any, targets: Any) -> dict[str, Array]:
        out = {}
        for k, f in self.metrics.items():
            v = f(outputs, targets)
            if jnp.shape(v) != ():
                raise ValueError(f"BPTT: metric {k!r} must return a scalar, got shape {jnp.shape(v)}")
            out[k] = v
        return out

    def _engine(self, devices: Any, where: str) -> _Engine:
        mesh = _resolve_devices(devices, where)
        cache_key = None if mesh is None else (tuple(d.id for d in mesh.devices.flat), mesh.axis_names)
        if cache_key not in self._engines:
            self._engines[cache_key] = _Engine(self, mesh)
        return self._engines[cache_key]

    # -- evaluation --------------------------------------------------------
    def _evaluate(
        self,
        engine: _Engine,
        model: Any,
        src: ArraySource | IterSource,
        batch_size: int,
        spec: Spec | None,
        epoch: int,
        on_device: tuple[Array, Array] | None = None,
    ) -> tuple[dict[str, float], dict[str, list[float]]]:
        values: list[dict[str, Array]] = []
        sizes: list[int] = []
        if isinstance(src, ArraySource):
            if on_device is None:
                on_device = (put(src.x, engine.replicated), put(src.y, engine.replicated))
            x_all, y_all = on_device
            for start in range(0, src.n, batch_size):
                size = min(batch_size, src.n - start)
                values.append(engine.eval_sliced(model, x_all, y_all, jnp.asarray(start, jnp.int32), size))
                sizes.append(size)
        else:
            for x, y in src.batches(epoch, spec, engine.num_devices):
                values.append(engine.eval_batch(model, put(x, engine.data_sharding), put(y, engine.data_sharding)))
                sizes.append(int(x.shape[0]))
        per_batch = _stack_fetch(values)
        w = np.asarray(sizes, dtype=np.float64)
        means = {k: float(np.sum(v * w) / np.sum(w)) if w.size else math.nan for k, v in per_batch.items()}
        return means, {k: v.tolist() for k, v in per_batch.items()}

    def evaluate(
        self, model: AbstractDynamics, data: Any, *, batch_size: int | np.integer = 256, devices: Any = None
    ) -> dict[str, float]:
        """Mean loss and metrics of `model` over `data` (arrays `(x, y)` or a
        callable returning an iterator of batches), weighted by batch size.

        Returns `{'loss': ..., **aux, **metrics}` as Python floats.
        """
        where = "BPTT.evaluate"
        _check_model(model, where)
        if self.tune_allocator:
            tune_host_allocator()
        _check_batch_size(batch_size, "batch_size", where)
        src = as_source("data", data, where, raw=self.inputs is not None)
        engine = self._engine(devices, where)
        means, _ = self._evaluate(engine, engine.replicate(model), src, batch_size, None, 1)
        return means

    # -- training ------------------------------------------------------------
    def fit(
        self,
        model: AbstractDynamics,
        train_data: Any,
        test_data: Any = None,
        *,
        num_epochs: int | np.integer,
        batch_size: int | np.integer = 256,
        key: PRNGKeyArray | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        resume: bool = False,
        devices: Any = None,
        eval_batch_size: int | None = None,
    ) -> tuple[AbstractDynamics, History]:
        """Train `model` for `num_epochs` epochs; returns `(model, history)`.

        **Arguments:**

        - `model`: an [`eqsnn.AbstractDynamics`][] for one sample.
        - `train_data`: arrays `(x [N, T, ...], y [N, ...])`, shuffled on
          device each epoch with `key` (the last `N % batch_size` samples of
          each permutation are left out), or a callable returning an iterator
          of `(x [B, T, ...], y [B, ...])` batches (called once per epoch).
        - `test_data`: the same kinds; evaluated after every epoch.
        - `num_epochs`: total number of epochs (counting those already done
          when resuming).
        - `batch_size`: samples per step for array data (default `256`).
        - `key`: PRNG key for shuffling (required for array `train_data`);
          epoch `e` uses `jax.random.fold_in(key, e)`.
        - `checkpoint_dir`: if given, after every epoch the model, optimiser
          state, history, key and epoch are written to
          `checkpoint_dir/checkpoint.eqx` (temporary file, then rename).
        - `resume`: continue from the checkpoint in `checkpoint_dir` if there
          is one (starting afresh if there is none); with array data and the
          same `key` the result equals an uninterrupted run (a batch iterator
          must be reproducible itself for that).
        - `devices`: `None` (default device), a number of devices, a list of
          devices or a 1-D `jax.sharding.Mesh`: each batch is split over the
          devices along its batch axis, parameters are replicated.
        - `eval_batch_size`: batch size for array `test_data` (default
          `batch_size`).

        **Raises:** [`eqsnn.train.TrainingDivergedError`][] on a NaN/inf
        loss or gradient (naming epoch and step; the last good checkpoint is
        kept); `ValueError`/`TypeError` for malformed data, before anything
        is compiled; [`eqsnn.train.CheckpointError`][] before training when
        `checkpoint_dir` is not a writable folder, on resuming a corrupt or
        truncated checkpoint or one written with another `batch_size`, and
        when a checkpoint cannot be written (the model and history trained so
        far are then attached to the error as `.model` and `.history`).
        A temporary file left in `checkpoint_dir` by a killed write is removed.
        """
        where = "BPTT.fit"
        _check_model(model, where)
        if self.tune_allocator:
            tune_host_allocator()
        if isinstance(num_epochs, (bool, np.bool_)) or not isinstance(num_epochs, (int, np.integer)) or num_epochs < 0:
            raise ValueError(f"{where}: `num_epochs` must be a non-negative int, got {num_epochs!r}")
        num_epochs = int(num_epochs)
        batch_size = _check_batch_size(batch_size, "batch_size", where)
        eval_batch_size = batch_size if eval_batch_size is None else eval_batch_size
        eval_batch_size = _check_batch_size(eval_batch_size, "eval_batch_size", where)
        if not isinstance(resume, (bool, np.bool_)):
            raise TypeError(f"{where}: `resume` must be a bool, got {resume!r}")
        if checkpoint_dir is not None:
            _check_checkpoint_dir(checkpoint_dir, where)
        train = as_source("train_data", train_data, where, raw=self.inputs is not None)
        test = None if test_data is None else as_source("test_data", test_data, where, raw=self.inputs is not None)
        if isinstance(train, ArraySource):
            if key is None:
                raise TypeError(
                    f"{where}: `key` (a PRNG key for shuffling) is required with array `train_data`, got None"
                )
            if train.n < batch_size:
                raise ValueError(f"{where}: `train_data` has {train.n} samples, fewer than `batch_size`={batch_size}")
        if key is not None and not (
            hasattr(key, "dtype")
            and (jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or (key.dtype == jnp.uint32 and key.shape == (2,)))
        ):
            raise TypeError(f"{where}: `key` must be a jax PRNG key (jax.random.key(0)), got {key!r}")
        train_spec = train.spec if isinstance(train, ArraySource) else None
        if test is not None and isinstance(test, ArraySource) and train_spec is not None:
            check_spec("test_data", test.spec, train_spec, where, "the data")
        if resume and checkpoint_dir is None:
            raise ValueError(f"{where}: `resume=True` needs `checkpoint_dir`, got None")
        engine = self._engine(devices, where)
        nd = engine.num_devices
        if isinstance(train, ArraySource) and batch_size % nd:
            raise ValueError(f"{where}: `batch_size`={batch_size} must be a multiple of the {nd} devices")

        opt_state = self.optimizer.init(trainable(model))
        history = History()
        start_epoch = 0
        ckpt = None if checkpoint_dir is None else checkpoint_path(checkpoint_dir)
        if resume and ckpt is not None and ckpt.exists():
            model, opt_state, meta = load_checkpoint(ckpt, model, opt_state)
            if meta.get("key") != _key_repr(key):
                raise ValueError(
                    f"{where}: `key` differs from the key of the checkpoint being resumed ({ckpt}); "
                    f"pass the key of the original run"
                )
            if "batch_size" in meta and meta["batch_size"] != batch_size:
                raise CheckpointError(
                    f"{where}: `batch_size`={batch_size} differs from the batch size of the checkpoint being "
                    f"resumed ({meta['batch_size']}, {ckpt}); resuming with another would not continue the "
                    f"same run: pass batch_size={meta['batch_size']} or start afresh (resume=False)"
                )
            try:
                history = History.from_dict(meta["history"])
                start_epoch = int(meta["epoch"])
            except (KeyError, TypeError, ValueError) as e:
                raise CheckpointError(f"{where}: the checkpoint {ckpt} has an incomplete header: {e}") from e
        model = engine.replicate(model)
        opt_state = engine.replicate(opt_state)

        data_on_device = test_on_device = None
        if isinstance(train, ArraySource):
            data_on_device = (put(train.x, engine.replicated), put(train.y, engine.replicated))
        if isinstance(test, ArraySource):
            test_on_device = (put(test.x, engine.replicated), put(test.y, engine.replicated))

        global_step = sum(len(next(iter(s.values()), [])) for s in history.steps["fit"])
        for epoch in range(start_epoch, num_epochs):
            t0 = time.perf_counter()
            model, opt_state, means, per_step, nsteps = self._train_epoch(
                engine,
                model,
                opt_state,
                train,
                data_on_device,
                batch_size,
                key,
                epoch,
                num_epochs,
                global_step,
                ckpt,
                train_spec,
                start_epoch,
            )
            global_step += nsteps
            if train_spec is None and isinstance(train, IterSource):
                train_spec = train.spec
                if test is not None and isinstance(test, ArraySource) and train_spec is not None:
                    check_spec("test_data", test.spec, train_spec, where, "the data")
            history.add_epoch("fit", means, per_step)
            if test is not None:
                tmeans, tper = self._evaluate(
                    engine, model, test, eval_batch_size, train_spec, epoch + 1, test_on_device
                )
                history.add_epoch("test", tmeans, tper)
            elapsed = time.perf_counter() - t0
            history.times.append(elapsed)
            if self.verbose:
                print(_epoch_line(epoch + 1, num_epochs, elapsed, history), flush=True)
            if ckpt is not None:
                meta = {
                    "epoch": epoch + 1,
                    "history": history.to_dict(),
                    "key": _key_repr(key),
                    "batch_size": batch_size,
                }
                try:
                    save_checkpoint(ckpt, model, opt_state, meta)
                except OSError as e:
                    err = CheckpointError(
                        f"{where}: could not write the checkpoint {ckpt} after epoch {epoch + 1}: {e}; "
                        f"the model and history trained so far are attached as `.model` and `.history`"
                    )
                    err.model, err.history = model, history
                    raise err from e
        return model, history

    def _train_epoch(
        self,
        engine,
        model,
        opt_state,
        train,
        data_on_device,
        batch_size,
        key,
        epoch,
        num_epochs,
        global_step,
        ckpt,
        spec,
        first_epoch,
    ):
        acc = engine.replicate(_Acc.zero())
        values: list[dict[str, Array]] = []
        if isinstance(train, ArraySource):
            nb = train.n // batch_size
            perm = jax.random.permutation(jax.random.fold_in(key, epoch), train.n)[: nb * batch_size]
            perm = put(perm.reshape(nb, batch_size), engine.replicated)
            x_all, y_all = data_on_device
            batches = ((None, None) for _ in range(nb))
        else:
            nb = None
            batches = train.batches(epoch + 1, spec, engine.num_devices)
        bar = tqdm(
            total=nb,
            desc=f"Epoch {epoch + 1}/{num_epochs}",
            unit="batch",
            leave=False,
            disable=None if self.progress else True,
            file=sys.stderr,
        )
        try:
            for i, (x, y) in enumerate(batches):
                if i == 0 and epoch == first_epoch and self.warn_silent:
                    sample = x_all[perm[0][:8]] if x is None else x[:8]
                    warn_if_silent(model, sample if self.inputs is None else self.inputs(sample), "BPTT.fit")
                if x is None:
                    model, opt_state, acc, v = engine.train_indexed(model, opt_state, acc, x_all, y_all, perm)
                else:
                    xb, yb = put(x, engine.data_sharding), put(y, engine.data_sharding)
                    model, opt_state, acc, v = engine.train_batch(model, opt_state, acc, xb, yb)
                values.append(v)
                bar.update(1)
                if (i + 1) % self.check_every == 0:
                    self._check_finite(acc, epoch, global_step, model, ckpt)
                    bar.set_postfix(loss=f"{float(v['loss']):.4f}")
        finally:
            bar.close()
        if not values:
            raise ValueError(f"BPTT.fit: `train_data` yielded no batch in epoch {epoch + 1}")
        self._check_finite(acc, epoch, global_step, model, ckpt)
        per_step = _stack_fetch(values)
        means = {k: float(np.mean(v)) for k, v in per_step.items()}
        return model, opt_state, means, {k: v.tolist() for k, v in per_step.items()}, len(values)

    def _check_finite(self, acc: _Acc, epoch: int, global_step: int, model: Any, ckpt: Path | None) -> None:
        first_bad, kind = (int(v) for v in jax.device_get((acc.first_bad, acc.bad_kind)))
        if first_bad < 0:
            return
        what = "loss" if kind == _LOSS else "gradient"
        step = first_bad + 1
        if ckpt is not None and ckpt.exists():
            kept = f"the last good checkpoint is kept at {str(ckpt)!r}"
        else:
            kept = "no checkpoint was written" if ckpt is None else "no epoch had finished, so no checkpoint exists"
        raise TrainingDivergedError(
            f"BPTT.fit: non-finite {what} (NaN or inf) at epoch {epoch + 1}, step {step} "
            f"(global step {global_step + step}); training stopped and the model was not updated from that "
            f"step on; {kept}",
            epoch=epoch + 1,
            step=step,
            global_step=global_step + step,
            what=what,
            model=model,
            checkpoint=ckpt if ckpt is not None and ckpt.exists() else None,
        )


def _epoch_line(epoch: int, num_epochs: int, seconds: float, history: History) -> str:
    parts = [f"Epoch {epoch}/{num_epochs}", f"{seconds:.2f} s"]
    for mode, label in (("fit", "train"), ("test", "test")):
        if len(history.epochs[mode]) >= 1 and (
            mode == "fit" or len(history.epochs[mode]) == len(history.epochs["fit"])
        ):
            rec = history.epochs[mode][-1]
            parts.append(label + " " + " ".join(f"{k} {v:.4f}" for k, v in rec.items()))
    return " | ".join(parts)


def _check_model(model: Any, where: str) -> None:
    if not isinstance(model, AbstractDynamics):
        raise TypeError(f"{where}: `model` must be an eqsnn dynamics (init_state/step), got {type(model).__name__}")


def _check_batch_size(value: Any, name: str, where: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{where}: `{name}` must be a positive int, got {value!r}")
    return int(value)


def _check_checkpoint_dir(directory: Any, where: str) -> None:
    """Before any training: `checkpoint_dir` is a path to a writable folder (created if
    missing); the temporary files of a killed write are removed."""
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"{where}: `checkpoint_dir` must be a str or os.PathLike, got {type(directory).__name__}")
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".eqsnn-write-test."):
            pass
    except OSError as e:
        raise CheckpointError(
            f"{where}: `checkpoint_dir`={str(directory)!r} is not a writable folder ({e}); "
            f"checked before training so that no epoch is lost"
        ) from e
    remove_stale_parts(checkpoint_path(path))
