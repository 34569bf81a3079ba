"""Hand-written plain-JAX versions of the benchmark workloads (no eqsnn import).

Exactly the math of the eqsnn models they are compared with (same update
order, same constants, same loss), written the way a careful JAX user would:
batch-level arrays, time-major `lax.scan`, state-independent projections
hoisted out of the scan, one `jax.jit` per training step, Optax Adam.
Parameters are passed in as a dict of arrays, so both sides start from the
same weights.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

# ---------------------------------------------------------------- data on device


def latency_steps(x, num_steps, tau=2.0, dt=0.1, thr=0.2, eps=1e-7):
    """Spike step of each pixel (num_steps = no spike): T = tau/dt * log(x / (x - thr))."""
    xc = jnp.clip(x, thr + eps, 1e9)
    t = (tau / dt) * jnp.log(xc / (xc - thr))
    steps = jnp.minimum(t, num_steps).astype(jnp.int32)
    return jnp.where(x >= thr, steps, num_steps)


def batch_pixels(images_u8, idx):
    """uint8 images [N, 784] on device, batch indices [B] -> floats in [0, 1]."""
    return images_u8[idx].astype(jnp.float32) / 255.0


def cross_entropy(logits, labels):
    return jnp.mean(jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0])


# ---------------------------------------------------------------- W1: LSTM


def lstm_loss(p, x, labels):
    """x [B, 28, 28] (rows as time). LSTM(28->100) + Linear(100->10) per step, max over time."""
    xs = jnp.swapaxes(x, 0, 1)  # [T, B, 28]
    gx = xs @ p["w_ih"].T + p["b"]  # hoisted input projection [T, B, 4H]
    hidden = p["w_hh"].shape[1]

    def body(carry, g):
        h, c = carry
        z = g + h @ p["w_hh"].T
        i, f, gg, o = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(gg)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    zeros = jnp.zeros((x.shape[0], hidden), x.dtype)
    _, hs = jax.lax.scan(body, (zeros, zeros), gx)
    ys = hs @ p["w_out"] + p["b_out"]  # read-out hoisted after the scan [T, B, 10]
    return cross_entropy(ys.max(axis=0), labels)


def lstm_loss_stepwise(p, x, labels):
    """The same math step by step: input projection and read-out inside the scan body (no hoisting).

    On a CPU this is faster than the hoisted form for W1's sizes: the hoisted `[T, B, 4H]` input
    projection and its cotangent are extra loop operands, and the per-step matmuls are small either way."""
    xs = jnp.swapaxes(x, 0, 1)  # [T, B, 28]
    hidden = p["w_hh"].shape[1]

    def body(carry, x_t):
        h, c = carry
        z = x_t @ p["w_ih"].T + h @ p["w_hh"].T + p["b"]
        i, f, gg, o = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(gg)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h @ p["w_out"] + p["b_out"]

    zeros = jnp.zeros((x.shape[0], hidden), x.dtype)
    _, ys = jax.lax.scan(body, (zeros, zeros), xs)
    return cross_entropy(ys.max(axis=0), labels)


def make_lstm_step(optimizer, form="hoisted"):
    """form: 'hoisted' (input projection before the scan, read-out after it) or 'stepwise' (all in the body)."""
    loss_fn = lstm_loss if form == "hoisted" else lstm_loss_stepwise

    @jax.jit
    def step(p, opt_state, images, labels, idx):
        x = images[idx]
        loss, g = jax.value_and_grad(loss_fn)(p, x, labels[idx])
        updates, opt_state = optimizer.update(g, opt_state, p)
        return optax.apply_updates(p, updates), opt_state, loss

    return step


# ---------------------------------------------------------------- W2/W3: SNN


@jax.custom_jvp
def spike(x):
    return (x >= 0).astype(x.dtype)


@spike.defjvp
def _spike_jvp(primals, tangents):
    (x,), (tx,) = primals, tangents
    return spike(x), tx / (100.0 * jnp.abs(x) + 1.0) ** 2  # InvSquare(alpha=100)


SNN_CONST = dict(dt=0.1, tau_mem=10.0, tau_syn=10.0, tau_out=5.0, v_th=1.0, v_reset=0.0, tau_ref=0.0)


def snn_scan(p, u, checkpoint=None, counts=False):
    """u: input currents [T, B, H] (bias included). Returns read-out [T, B, O] and hidden spikes [T, B, H],
    or with `counts` the hidden spike counts [B, H] summed over time in the scan's carry."""
    c = SNN_CONST
    a_syn = math.exp(-c["dt"] / c["tau_syn"])
    a_mem = math.exp(-c["dt"] / c["tau_mem"])
    a_out = math.exp(-c["dt"] / c["tau_out"])
    batch, hidden, out = u.shape[1], p["w_in"].shape[1], p["w_out"].shape[1]

    def body(carry, u_t):
        g_in, g_out, v, s, t_last, t, o = carry
        g_in = a_syn * g_in + u_t  # i2r Expon (input already projected)
        g_out = a_syn * g_out + (s @ p["w_out"] + p["b_out"])  # r2o sees the previous spikes
        v_new = g_in + (v - g_in) * a_mem  # LifRef, exponential Euler, v_rest = 0, R = 1
        refractory = jax.lax.stop_gradient((t - t_last) <= c["tau_ref"])
        v_new = jnp.where(refractory, v, v_new)
        s = spike(v_new - c["v_th"])
        v_new = v_new - (c["v_th"] - c["v_reset"]) * s  # soft reset
        t_last = jax.lax.stop_gradient(jnp.where(s > 0, t, t_last))
        o = a_out * o + g_out  # Leaky read-out
        return (g_in, g_out, v_new, s, t_last, t + c["dt"], o), (o, s)

    zh, zo = jnp.zeros((batch, hidden)), jnp.zeros((batch, out))
    init = (zh, zo, zh, zh, jnp.full((batch, hidden), -1e7), jnp.zeros(()), zo)
    if counts:

        def counting_body(carry, u_t):
            inner, n = carry
            inner, (o, s) = body(inner, u_t)
            return (inner, n + s), o

        (_, n), ys = jax.lax.scan(counting_body, (init, zh), u)
        return ys, n
    if checkpoint is None:
        _, (ys, spikes) = jax.lax.scan(body, init, u)
        return ys, spikes
    steps = u.shape[0]
    seg = u.reshape((steps // checkpoint, checkpoint) + u.shape[1:])

    @jax.checkpoint
    def seg_body(carry, u_seg):
        return jax.lax.scan(body, carry, u_seg)

    _, (ys, spikes) = jax.lax.scan(seg_body, init, seg)
    return ys.reshape((steps,) + ys.shape[2:]), spikes.reshape((steps,) + spikes.shape[2:])


def snn_loss_from_currents(p, u, labels, checkpoint=None, counts=False):
    ys, spikes = snn_scan(p, u, checkpoint, counts)
    l1 = 1e-5 * jnp.sum(spikes)
    l2 = 1e-5 * jnp.mean(jnp.sum(spikes.reshape(-1, spikes.shape[-1]), axis=0) ** 2)
    return cross_entropy(ys.max(axis=0), labels) + l1 + l2


def dense_currents(p, steps, num_steps):
    """Dense path: build the spike tensor [T, B, 784], one matmul."""
    spikes = (steps[None, :, :] == jnp.arange(num_steps)[:, None, None]).astype(jnp.float32)
    return spikes @ p["w_in"] + p["b_in"]


def event_currents(p, steps, num_steps):
    """Event path in plain JAX: a loop over the batch, each sample scatters its weight rows by spike step."""

    def one(st):
        idx = jnp.where(st < num_steps, st, num_steps)
        return jnp.zeros((num_steps + 1, p["w_in"].shape[1])).at[idx].add(p["w_in"])[:num_steps]

    u = jax.lax.map(one, steps)  # [B, T, H]
    return jnp.swapaxes(u, 0, 1) + p["b_in"]


def make_snn_step(optimizer, num_steps, mode="dense", checkpoint=None):
    """mode: 'dense', 'event', or 'event+counts' (spike counts summed in the scan instead of stacked)."""
    currents = dense_currents if mode == "dense" else event_currents
    counts = mode.endswith("+counts")

    def loss(p, steps, labels):
        return snn_loss_from_currents(p, currents(p, steps, num_steps), labels, checkpoint, counts)

    @jax.jit
    def step(p, opt_state, images, labels, idx):
        steps = latency_steps(batch_pixels(images, idx), num_steps)
        value, g = jax.value_and_grad(loss)(p, steps, labels[idx])
        updates, opt_state = optimizer.update(g, opt_state, p)
        return optax.apply_updates(p, updates), opt_state, value

    return step


# ---------------------------------------------------------------- W4: SHD-shaped recurrent SNN on events

SHD_CONST = dict(tau_mem=10.0, tau_out=20.0, dt=1.0, v_th=1.0, v_reset=0.0)


def event_bins(times, counts, num_steps, bin_ms):
    """Bin of each event [B, E] (int32), -1 for padding and events outside [0, num_steps)."""
    k = jnp.floor(times / bin_ms)
    index = jnp.arange(times.shape[1], dtype=jnp.int32)[None, :]
    keep = (k >= 0) & (k < num_steps) & (index < counts[:, None])
    return jnp.where(keep, k, -1.0).astype(jnp.int32)


def binned_input(p, times, units, counts, num_steps, bin_ms):
    """Dense path: one scatter-add of all events of the batch into [B, T, 700] counts, one matmul -> [T, B, H]."""
    batch, n_in = times.shape[0], p["w_in"].shape[0]
    k = event_bins(times, counts, num_steps, bin_ms)
    b = jnp.arange(batch, dtype=jnp.int32)[:, None]
    flat = jnp.where(k >= 0, (b * num_steps + k) * n_in + units, batch * num_steps * n_in)
    x = jnp.zeros(batch * num_steps * n_in + 1).at[flat.ravel()].add(1.0)[:-1].reshape(batch, num_steps, n_in)
    return jnp.swapaxes(x, 0, 1) @ p["w_in"] + p["b_in"]


def event_input(p, times, units, counts, num_steps, bin_ms):
    """Event path: a loop over the batch; each sample adds weight row `unit` into time row `bin` per event."""
    k = event_bins(times, counts, num_steps, bin_ms)

    def one(args):
        ki, ui = args
        rows = p["w_in"][ui]  # [E, H]
        return jnp.zeros((num_steps + 1, rows.shape[1])).at[jnp.where(ki >= 0, ki, num_steps)].add(rows)[:num_steps]

    return jnp.swapaxes(jax.lax.map(one, (k, units)), 0, 1) + p["b_in"]


def recurrent_scan(p, u):
    """u: input currents [T, B, H]. Recurrent LIF (exponential Euler, soft reset) -> leaky read-out [T, B, O]."""
    c = SHD_CONST
    a_mem = math.exp(-c["dt"] / c["tau_mem"])
    a_out = math.exp(-c["dt"] / c["tau_out"])
    batch, hidden, out = u.shape[1], p["w_rec"].shape[0], p["w_out"].shape[1]

    def body(carry, u_t):
        v, s, o = carry
        i = u_t + s @ p["w_rec"]  # the previous step's spikes
        v = i + (v - i) * a_mem  # v_rest = 0, R = 1
        s = spike(v - c["v_th"])
        v = v - (c["v_th"] - c["v_reset"]) * s
        o = a_out * o + (s @ p["w_out"] + p["b_out"])
        return (v, s, o), o

    zh = jnp.zeros((batch, hidden))
    _, ys = jax.lax.scan(body, (zh, zh, jnp.zeros((batch, out))), u)
    return ys


def make_shd_step(optimizer, num_steps, bin_ms, mode="binned"):
    """mode: 'binned' (dense counts + matmul) or 'event' (per-sample scatter of weight rows)."""
    currents = binned_input if mode == "binned" else event_input

    def loss(p, times, units, counts, labels):
        ys = recurrent_scan(p, currents(p, times, units, counts, num_steps, bin_ms))
        return cross_entropy(ys.max(axis=0), labels)

    @jax.jit
    def step(p, opt_state, times, units, counts, labels, idx):
        value, g = jax.value_and_grad(loss)(p, times[idx], units[idx], counts[idx], labels[idx])
        updates, opt_state = optimizer.update(g, opt_state, p)
        return optax.apply_updates(p, updates), opt_state, value

    return step


# ---------------------------------------------------------------- W5: deep feed-forward SNN (3 x 512 LIF)


def deep_scan(p, u, num_hidden_layers=3):
    """u: first-layer currents [T, B, H]. LIF (tau 10 ms, dt 1 ms, soft reset) -> Linear -> LIF ... -> leaky read-out."""
    a_mem, a_out = math.exp(-1.0 / 10.0), math.exp(-1.0 / 5.0)
    batch, hidden = u.shape[1], u.shape[2]

    def lif(v, x):
        v = x + (v - x) * a_mem
        s = spike(v - 1.0)
        return v - s, s

    def body(carry, u_t):
        vs, o = carry
        new_vs = []
        x = u_t
        for k in range(num_hidden_layers):
            v, s = lif(vs[k], x)
            new_vs.append(v)
            x = s @ p[f"w{k + 1}"] + p[f"b{k + 1}"]
        o = a_out * o + x
        return (tuple(new_vs), o), o

    zh = jnp.zeros((batch, hidden))
    init = (tuple(zh for _ in range(num_hidden_layers)), jnp.zeros((batch, p[f"w{num_hidden_layers}"].shape[1])))
    _, ys = jax.lax.scan(body, init, u)
    return ys


def make_deep_step(optimizer, num_steps):
    """Event input (per-sample scatter of first-layer weight rows, as `event_currents`), then the deep scan."""

    def loss(p, steps, labels):
        u = event_currents(dict(w_in=p["w0"], b_in=p["b0"]), steps, num_steps)
        return cross_entropy(deep_scan(p, u).max(axis=0), labels)

    @jax.jit
    def step(p, opt_state, images, labels, idx):
        steps = latency_steps(batch_pixels(images, idx), num_steps)
        value, g = jax.value_and_grad(loss)(p, steps, labels[idx])
        updates, opt_state = optimizer.update(g, opt_state, p)
        return optax.apply_updates(p, updates), opt_state, value

    return step
