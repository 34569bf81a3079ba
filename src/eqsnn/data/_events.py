r"""Event data (spike times and channels) held as padded NumPy arrays, binned on device.

An event data set of $N$ samples is stored once as four arrays
([`eqsnn.data.Events`][]): the time (ms) and channel of every event, padded
to the largest event count $E$, and the count of each sample. Binning into
time steps happens inside the jitted training step, for a whole batch at
once ([`eqsnn.data.bin_events`][] under `jax.vmap`), or is skipped
altogether: [`eqsnn.data.EventSequence`][] feeds the events to a model, whose
input projection adds one weight row per event
([`eqsnn.data.EventSequence.matmul`][]) without building the
`[T, num_units]` train.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Float32, Int32
import numpy as np

from .._core import AbstractSequence
from .._custom_types import Array, ArrayLike, Float, Int, RealScalarLike
from .._errors import check_positive, check_size
from ._rows import scatter_rows

__all__ = ["EventSequence", "Events", "bin_events", "from_tonic", "pad_events", "to_tonic"]


class Events(NamedTuple):
    r"""$N$ samples of events, padded to $E$ events each (NumPy, or JAX after `jax.device_put`).

    Sample $n$ holds the events $e < \mathrm{counts}_n$: event $e$ is a spike
    of channel $\mathrm{units}_{n,e}$ at time $\mathrm{times}_{n,e}$ (ms,
    from the start of the sample). Entries $e \ge \mathrm{counts}_n$ are
    padding (time `0.`, unit `0`) and are ignored by every function here.

    A NamedTuple, hence a PyTree: `jax.device_put(events)` moves all four
    arrays to the device once, and `jax.tree.map(lambda a: a[idx], events)`
    gathers a batch (inside `jit` too).

    **Fields:**

    - `times`: `float32 [N, E]`, event times in ms.
    - `units`: `int32 [N, E]`, channels ($0..699$ for SHD/SSC; for N-MNIST
      $x + 34 (y + 34 p)$).
    - `counts`: `int32 [N]`, the number of events of each sample.
    - `labels`: `int32 [N]`, the class of each sample.
    """

    times: Float32[ArrayLike, "N E"]
    units: Int32[ArrayLike, "N E"]
    counts: Int32[ArrayLike, " N"]
    labels: Int32[ArrayLike, " N"]


def pad_events(
    times: Sequence[Any],
    units: Sequence[Any],
    labels: Any,
    *,
    max_events: int | None = None,
    time_scale: float = 1.0,
) -> Events:
    r"""Pad per-sample event arrays into [`eqsnn.data.Events`][] (vectorised: one concatenation, one fill).

    $$ \mathrm{times}_{n,e} = \mathrm{float32}(s\, t^{(n)}_e), \qquad
       \mathrm{counts}_n = \min(|t^{(n)}|,\ E_{max}), \qquad
       E = \max_n \mathrm{counts}_n $$

    ($s\, t$ is computed in `float64` and rounded once to `float32`.)

    **Arguments:**

    - `times`: a sequence of $N$ 1-D arrays, the event times of each sample
      in ms (any real dtype; converted to `float32`).
    - `units`: a sequence of $N$ 1-D integer arrays, the channels, each as
      long as the matching `times`.
    - `labels`: `[N]` integer classes.
    - `max_events`: keep at most this many events per sample, the first ones
      in the given order (default `None`: keep all).
    - `time_scale`: $s$, the factor that turns the given times into ms
      (default `1.`; `1000.` for seconds, `1e-3` for µs).

    **Returns:** [`eqsnn.data.Events`][].
    """
    n = len(times)
    if len(units) != n:
        raise ValueError(
            f"pad_events: `times` and `units` must hold the same number of samples, got {n} and {len(units)}"
        )
    labels = np.asarray(labels)
    if labels.shape != (n,) or not (np.issubdtype(labels.dtype, np.integer) or n == 0):
        raise ValueError(f"pad_events: `labels` must be integers of shape ({n},), got {labels.dtype} {labels.shape}")
    if max_events is not None:
        max_events = check_size("max_events", max_events, owner="pad_events")
    lengths = np.fromiter((len(t) for t in times), dtype=np.int64, count=n)
    unit_lengths = np.fromiter((len(u) for u in units), dtype=np.int64, count=n)
    bad = np.flatnonzero(lengths != unit_lengths)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"pad_events: sample {i} has {lengths[i]} times but {unit_lengths[i]} units; they must match")
    flat_t = np.concatenate([np.asarray(t).ravel() for t in times]) if n else np.zeros(0, np.float32)
    flat_u = np.concatenate([np.asarray(u).ravel() for u in units]) if n else np.zeros(0, np.int64)
    if flat_u.size and not np.issubdtype(flat_u.dtype, np.integer):
        raise TypeError(f"pad_events: `units` must be integer arrays, got dtype {flat_u.dtype}")
    if flat_t.size and not (np.issubdtype(flat_t.dtype, np.floating) or np.issubdtype(flat_t.dtype, np.integer)):
        raise TypeError(f"pad_events: `times` must be real arrays, got dtype {flat_t.dtype}")
    if time_scale != 1.0:
        flat_t = flat_t.astype(np.float64) * float(time_scale)
    flat_t = flat_t.astype(np.float32)
    counts = lengths if max_events is None else np.minimum(lengths, max_events)
    width = int(counts.max(initial=0))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if n else np.zeros(0, np.int64)
    row = np.repeat(np.arange(n), lengths)
    pos = np.arange(flat_t.size) - np.repeat(starts, lengths)
    keep = pos < np.repeat(counts, lengths)
    out_t = np.zeros((n, width), np.float32)
    out_u = np.zeros((n, width), np.int32)
    out_t[row[keep], pos[keep]] = flat_t[keep]
    out_u[row[keep], pos[keep]] = flat_u[keep]
    return Events(out_t, out_u, counts.astype(np.int32), labels.astype(np.int32))


# ---------------------------------------------------------------- binning


def _time_steps(name: str, times: Any, count: Any, num_steps: int, dt: Any) -> tuple[Array, Array]:
    """Bin index of each event and whether it is kept (inside `[0, num_steps)`, before `count`)."""
    times = jnp.asarray(times)
    if times.ndim != 1 or not jnp.issubdtype(times.dtype, jnp.floating):
        raise TypeError(f"{name}: `times` must be a floating array [E] (ms), got {times.dtype}{list(times.shape)}")
    check_positive("dt", dt, owner=name)
    times = times.astype(jnp.promote_types(times.dtype, jnp.float32))  # float16 seconds would overflow in ms
    k = jnp.floor(times / jnp.asarray(dt, times.dtype))
    index = jnp.arange(times.shape[0], dtype=jnp.int32)
    keep = (k >= 0) & (k < num_steps)  # NaN compares False: dropped
    if count is not None:
        keep = keep & (index < jnp.asarray(count).astype(jnp.int32))
    return jnp.where(keep, k, -1.0).astype(jnp.int32), keep


def _check_units(name: str, units: Any, num_events: int) -> Array:
    units = jnp.asarray(units)
    if units.shape != (num_events,) or not jnp.issubdtype(units.dtype, jnp.integer):
        raise TypeError(
            f"{name}: `units` must be an integer array [E={num_events}] (as `times`), got {units.dtype}{list(units.shape)}"
        )
    return units.astype(jnp.int32)


def _counts(steps: Array, units: Array, num_steps: int, num_units: int, dtype: Any) -> Array:
    """`[num_steps, num_units]` event counts; events outside the table are dropped."""
    keep = (steps >= 0) & (steps < num_steps) & (units >= 0) & (units < num_units)
    flat = jnp.where(keep, steps * num_units + units, num_steps * num_units)
    table = jnp.zeros((num_steps * num_units + 1,), dtype).at[flat].add(jnp.ones((), dtype))
    return table[:-1].reshape(num_steps, num_units)


def bin_events(
    times: Float[ArrayLike, " E"],
    units: Int[ArrayLike, " E"],
    count: Int[ArrayLike, ""] | int | None,
    *,
    num_steps: int,
    dt: RealScalarLike,
    num_units: int,
    binary: bool = False,
) -> Float[Array, "num_steps num_units"]:
    r"""Bin one sample's events into a `[num_steps, num_units]` spike-count train.

    $$ x_{k,c} = \sum_{e < \mathrm{count}} [\lfloor t_e / \Delta t \rfloor = k]\,[u_e = c],
       \qquad k = 0, \dots, T - 1 $$

    i.e. bin $k$ is the half-open interval $[k \Delta t, (k + 1) \Delta t)$
    (an event exactly on an edge goes to the later bin; $\lfloor t / \Delta
    t \rfloor$ is computed in the dtype of `times`, at least `float32`).
    Events at or past $T \Delta t$, before 0, NaN, with a channel outside
    `[0, num_units)`, or at positions `>= count` (padding) are dropped.
    Several events in one bin and channel are counted, or clipped to 1 with
    `binary=True` ($\min(x_{k,c}, 1)$). Jittable; `jax.vmap` for a batch:

    ```python
    bin = functools.partial(bin_events, num_steps=100, dt=10.0, num_units=700)
    x = jax.vmap(bin)(ev.times[idx], ev.units[idx], ev.counts[idx])  # [B, 100, 700]
    ```

    **Arguments:**

    - `times`: event times in ms, floating `[E]` (`float16` is widened first).
    - `units`: event channels, integer `[E]`.
    - `count`: the number of valid events (the rest is padding); `None`: all `E`.
    - `num_steps`: $T$, the number of bins (keyword-only, like the rest).
    - `dt`: $\Delta t$, the bin width in ms (> 0).
    - `num_units`: the number of channels (700 for SHD/SSC).
    - `binary`: clip counts to 1 (default `False`: count duplicates).

    **Returns:** `[num_steps, num_units]` in the default float dtype
    (`float32`; `float64` under `jax_enable_x64`).
    """
    num_steps = check_size("num_steps", num_steps, owner="bin_events")
    num_units = check_size("num_units", num_units, owner="bin_events")
    steps, _ = _time_steps("bin_events", times, count, num_steps, dt)
    units = _check_units("bin_events", units, steps.shape[0])
    x = _counts(steps, units, num_steps, num_units, jnp.zeros(()).dtype)
    return jnp.minimum(x, 1.0) if binary else x


class EventSequence(AbstractSequence):
    r"""One sample's events as an input sequence of `num_steps` bins, never stored as a train.

    $$ x_{t,c} = \sum_e [s_e - o = t]\,[u_e = c], \qquad t = 0, \dots, T - 1 $$

    where $s_e$ is the bin of event $e$ and $o$ the offset (set by
    `segment`). It stores two integers per event. [`eqsnn.run`][] accepts it
    like a `[T, num_units]` array; a model's input layer projects it with
    `matmul` (each event adds one weight row: $E \cdot n_{out}$ additions
    instead of $T \cdot n_{in} \cdot n_{out}$ multiply-adds); anything else
    gets `materialise()`. `jax.vmap` over a batch of events gives a batch of
    sequences.

    **Arguments:**

    - `steps`: the bin of each event, integer `[E]`; a value outside
      `[0, num_steps)` drops the event.
    - `units`: the channel of each event, integer `[E]`; outside
      `[0, num_units)` drops it.
    - `num_steps`: $T$, a positive int.
    - `num_units`: the number of channels, a positive int.
    - `count`: events at positions `>= count` are padding and are dropped
      (default `None`: all events are real).
    - `offset`: $o$, the bin that is this sequence's step 0 (default `0`).

    Build one from event times with [`eqsnn.data.EventSequence.from_times`][].
    """

    steps: Int[Array, " E"]
    units: Int[Array, " E"]
    offset: Int[Array, ""]
    length: int = eqx.field(static=True)
    num_units: int = eqx.field(static=True)

    def __init__(
        self,
        steps: Int[ArrayLike, " E"],
        units: Int[ArrayLike, " E"],
        num_steps: int,
        num_units: int,
        *,
        count: Int[ArrayLike, ""] | int | None = None,
        offset: Int[ArrayLike, ""] | int = 0,
    ):
        self.length = check_size("num_steps", num_steps, owner="EventSequence")
        self.num_units = check_size("num_units", num_units, owner="EventSequence")
        steps = jnp.asarray(steps)
        if steps.ndim != 1 or not jnp.issubdtype(steps.dtype, jnp.integer):
            raise TypeError(
                f"EventSequence: `steps` must be an integer array [E], got {steps.dtype}{list(steps.shape)}"
            )
        steps = steps.astype(jnp.int32)
        if count is not None:
            index = jnp.arange(steps.shape[0], dtype=jnp.int32)
            steps = jnp.where(index < jnp.asarray(count).astype(jnp.int32), steps, -1)
        self.steps = steps
        self.units = _check_units("EventSequence", units, steps.shape[0])
        self.offset = jnp.asarray(offset).astype(jnp.int32)

    @classmethod
    def from_times(
        cls,
        times: Float[ArrayLike, " E"],
        units: Int[ArrayLike, " E"],
        count: Int[ArrayLike, ""] | int | None,
        *,
        num_steps: int,
        dt: RealScalarLike,
        num_units: int,
    ) -> EventSequence:
        r"""The sequence of events at `times` (ms) in bins of `dt` ms: $s_e = \lfloor t_e / \Delta t \rfloor$.

        Same binning and dropping rules as [`eqsnn.data.bin_events`][], so
        `from_times(...).materialise()` equals `bin_events(...)`.

        **Arguments:** `times` (ms, floating `[E]`), `units` (integer `[E]`),
        `count` (valid events; `None`: all), and keyword-only `num_steps`,
        `dt` (ms, > 0), `num_units`.

        **Returns:** an `EventSequence`.
        """
        num_steps = check_size("num_steps", num_steps, owner="EventSequence.from_times")
        steps, _ = _time_steps("EventSequence.from_times", times, count, num_steps, dt)
        return cls(steps, units, num_steps, num_units)

    @property
    def num_steps(self) -> int:
        """$T$."""
        return self.length

    def relative_steps(self) -> Int[Array, " E"]:
        """The bin of each event relative to this sequence's step 0, `[E]` (outside `[0, T)`: dropped)."""
        return self.steps - self.offset

    def segment(self, start: Int[ArrayLike, ""], size: int) -> EventSequence:
        """Steps `start, ..., start + size - 1` (with `start + size <= num_steps`) as an
        `EventSequence` of `size` steps, without building the train."""
        size = check_size("size", size, owner="EventSequence.segment")
        return EventSequence(
            self.steps, self.units, size, self.num_units, offset=self.offset + jnp.asarray(start).astype(jnp.int32)
        )

    def materialise(self) -> Float[Array, "T num_units"]:
        r"""The spike-count train $x_{t,c}$, `[T, num_units]`, in the default float dtype."""
        return _counts(self.relative_steps(), self.units, self.length, self.num_units, jnp.zeros(()).dtype)

    def matmul(self, weight: Float[ArrayLike, "num_units n_out"]) -> Float[Array, "T n_out"]:
        r"""The binned train times `weight`, computed event by event.

        $$ (x W)_t = \sum_{e:\ s_e - o = t} W_{u_e}, \qquad t = 0, \dots, T - 1 $$

        Equal to `self.materialise() @ weight` (up to float summation order),
        differentiable in `weight`
        ($\partial \mathcal{L}/\partial W_c = \sum_{e: u_e = c} \partial \mathcal{L}/\partial (xW)_{s_e - o}$),
        and batched by a loop under `jax.vmap` (no `[batch, E, n_out]`
        array; see `eqsnn/data/_rows.py`).

        **Arguments:** `weight`, `[num_units, n_out]` (e.g. `linear.weight`).

        **Returns:** `[T, n_out]`, the dtype of `weight` (no bias).
        """
        weight = jnp.asarray(weight)
        if weight.ndim != 2 or weight.shape[0] != self.num_units:
            raise ValueError(
                f"EventSequence.matmul: `weight` must have shape [num_units={self.num_units}, n_out], "
                f"got {tuple(weight.shape)}"
            )
        return scatter_rows(self.units, self.relative_steps(), weight, self.length)


# ---------------------------------------------------------------- tonic interop


def _sensor(name: str, sensor_size: Any) -> tuple[int, int, int]:
    size = tuple(int(s) for s in sensor_size) if sensor_size is not None else ()
    if len(size) == 2:
        size = size + (1,)
    if len(size) != 3 or min(size) <= 0:
        raise ValueError(
            f"{name}: `sensor_size` must be tonic's (width, height, polarities) of positive ints, got {sensor_size!r}"
        )
    return size  # type: ignore[return-value]


def from_tonic(
    data: Any,
    *,
    sensor_size: Sequence[int] | None = None,
    labels: Any = None,
    max_events: int | None = None,
) -> Events:
    r"""Turn tonic-style structured event arrays into [`eqsnn.data.Events`][].

    Each sample is a NumPy structured array with fields `t` (µs), `x`, and
    optionally `y` and `p` (tonic's layout). Times become ms and the
    coordinates one channel index, row-major over (polarity, y, x):

    $$ t_{ms} = t_{\mu s} / 1000, \qquad u = x + W\,(y + H\,p) $$

    where $p$ counts only when there is more than one polarity ($P > 1$;
    tonic's SHD sets $p = 1$ with $P = 1$). tonic itself is not needed (nor
    imported).

    **Arguments:**

    - `data`: a tonic dataset (indexable, `len()`, items `(events, target)`),
      a sequence of such pairs, or a sequence of structured arrays.
    - `sensor_size`: tonic's `(W, H, P)` (default: `data.sensor_size` when
      present, else one more than the largest `x`, `y`, `p` seen).
    - `labels`: `[N]` classes; default: the targets of `data`'s pairs
      (`-1` for bare arrays).
    - `max_events`: as in [`eqsnn.data.pad_events`][].

    **Returns:** [`eqsnn.data.Events`][] (channels in `[0, W H P)`).
    """
    samples, targets = [], []
    for i in range(len(data)):
        item = data[i]
        if isinstance(item, tuple) and len(item) == 2:
            ev, target = item
        else:
            ev, target = item, -1
        ev = np.asarray(ev)
        if ev.dtype.names is None or "t" not in ev.dtype.names or "x" not in ev.dtype.names:
            raise TypeError(
                f"from_tonic: sample {i} of `data` must be a structured array with fields t, x (and y, p), "
                f"got dtype {ev.dtype}"
            )
        samples.append(ev)
        targets.append(int(np.asarray(target)))
    if sensor_size is None:
        sensor_size = getattr(data, "sensor_size", None)
    if sensor_size is None:

        def top(field):
            return 1 + max((int(s[field].max()) for s in samples if field in s.dtype.names and s.size), default=0)

        sensor_size = (top("x"), top("y"), top("p"))
    w, h, p = _sensor("from_tonic", sensor_size)
    units = []
    for i, ev in enumerate(samples):
        x = ev["x"].astype(np.int64)
        y = ev["y"].astype(np.int64) if "y" in ev.dtype.names else np.zeros_like(x)
        pol = ev["p"].astype(np.int64) if ("p" in ev.dtype.names and p > 1) else np.zeros_like(x)
        for field, v, hi in (("x", x, w), ("y", y, h), ("p", pol, p)):
            if v.size and (v.min() < 0 or v.max() >= hi):
                raise ValueError(
                    f"from_tonic: field {field!r} of sample {i} must be in [0, {hi}) for sensor_size "
                    f"{(w, h, p)}, got values in [{v.min()}, {v.max()}]"
                )
        units.append(x + w * (y + h * pol))
    times = [ev["t"] for ev in samples]
    labels = np.asarray(targets if labels is None else labels)
    return pad_events(times, units, labels, max_events=max_events, time_scale=1e-3)


def to_tonic(events: Events, *, sensor_size: Sequence[int]) -> list[np.ndarray]:
    r"""The inverse of [`eqsnn.data.from_tonic`][]: one tonic-style structured array per sample.

    $$ t_{\mu s} = \mathrm{round}(1000\, t_{ms}), \qquad
       x = u \bmod W, \quad y = \lfloor u / W \rfloor \bmod H, \quad p = \lfloor u / (W H) \rfloor $$

    Fields are `(t, x, p)` for a one-row sensor ($H = 1$, tonic's SHD
    layout, with $p = 1$ when $P = 1$ as tonic writes it) and `(x, y, t, p)`
    otherwise (tonic's N-MNIST layout), all `int64`; padding is left out.

    **Arguments:** `events` ([`eqsnn.data.Events`][]); `sensor_size`, tonic's `(W, H, P)`.

    **Returns:** a list of $N$ structured arrays (the labels stay in `events.labels`).
    """
    w, h, p = _sensor("to_tonic", sensor_size)
    times, units, counts = (np.asarray(a) for a in (events.times, events.units, events.counts))
    names = ("t", "x", "p") if h == 1 else ("x", "y", "t", "p")
    dtype = np.dtype([(n, np.int64) for n in names])
    out = []
    for n in range(times.shape[0]):
        c = int(counts[n])
        u = units[n, :c].astype(np.int64)
        arr = np.empty(c, dtype)
        arr["t"] = np.rint(times[n, :c].astype(np.float64) * 1000.0).astype(np.int64)
        arr["x"] = u % w
        if h > 1:
            arr["y"] = (u // w) % h
        arr["p"] = u // (w * h) if p > 1 else np.ones(c, np.int64)
        out.append(arr)
    return out
