"""PyTorch `nn.LSTM` for W1 and snnTorch for W2, driven by `benchmarks/peers/__init__.py` (run with the
interpreter that has torch and snntorch).

Protocol as in `brainpy_peer.py`: `python torch_peer.py W1|W2 DATA.npz`, one JSON line when ready (after one
warm-up step on batch 0), then one `{"s": seconds}` line per batch index read from stdin; an empty line ends it.
Eager PyTorch on the CPU with its default threads, Adam 1e-3, batch-first data.

W1: `nn.LSTM(28, 100)` (PyTorch's fused CPU LSTM) + `nn.Linear(100, 10)` on every step, CE of the max over time.
W2: W2's network in snnTorch: input projection over the whole sequence, `snn.Synaptic` hidden layer (synaptic
and membrane decays exp(-dt/tau) of tau_syn = tau_mem = 10 ms, dt = 0.1 ms, threshold 1, subtractive reset), the
read-out a non-resetting `snn.Synaptic` fed the previous step's spikes (tau_syn 10 ms, tau_out 5 ms), CE of the
max over time + 1e-5 L1 + 1e-5 L2 of the hidden spikes. snnTorch's `Synaptic` integrates its input without
eqsnn's (1 - decay) factor, so the input currents are scaled by it; snnTorch resets from the previous step's
potential (eqsnn within the step) and uses its own surrogate, so spikes differ slightly, not the work per step.
"""

from __future__ import annotations

import math
import sys
import time

from _protocol import serve  # benchmarks/peers/_protocol.py, beside this script
import numpy as np
import torch
from torch import nn


class LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 100, batch_first=True)
        self.out = nn.Linear(100, 10)

    def forward(self, x):
        h, _ = self.lstm(x)  # [B, 28, 100]
        return self.out(h).max(dim=1).values


class SNNNet(nn.Module):
    def __init__(self, num_steps: int):
        import snntorch as snn

        super().__init__()
        a_syn, a_mem, a_out = math.exp(-0.1 / 10.0), math.exp(-0.1 / 10.0), math.exp(-0.1 / 5.0)
        self.num_steps = num_steps
        self.in_scale = 1.0 - a_mem  # eqsnn's exponential Euler: v <- a v + (1 - a) g
        self.fc1 = nn.Linear(784, 100)
        self.fc2 = nn.Linear(100, 10)
        self.hidden = snn.Synaptic(alpha=a_syn, beta=a_mem, threshold=1.0, reset_mechanism="subtract")
        self.readout = snn.Synaptic(alpha=a_syn, beta=a_out, reset_mechanism="none")

    def forward(self, x):  # x: [B, T, 784] spikes
        cur = self.fc1(x) * self.in_scale  # [B, T, 100], the whole sequence at once
        syn1, mem1 = self.hidden.init_synaptic()
        syn2, mem2 = self.readout.init_synaptic()
        spk = torch.zeros(x.shape[0], 100)
        outs, spikes = [], []
        for t in range(self.num_steps):
            cur2 = self.fc2(spk)  # the previous step's spikes
            spk, syn1, mem1 = self.hidden(cur[:, t], syn1, mem1)
            _, syn2, mem2 = self.readout(cur2, syn2, mem2)
            outs.append(mem2)
            spikes.append(spk)
        return torch.stack(outs, 1), torch.stack(spikes, 1)


def main() -> None:
    workload, path = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    data = np.load(path)
    labels = [torch.as_tensor(y, dtype=torch.long) for y in data["labels"]]
    if workload == "W1":
        model = LSTMNet()
        inputs = [torch.as_tensor(x) for x in data["x"]]

        def loss_of(i):
            return nn.functional.cross_entropy(model(inputs[i]), labels[i])

    else:
        num_steps = int(data["num_steps"])
        model = SNNNet(num_steps)
        steps = [torch.as_tensor(s) for s in data["steps"]]
        arange = torch.arange(num_steps)[None, :, None]

        def loss_of(i):
            x = (steps[i][:, None, :] == arange).float()  # the [B, T, 784] train, built per step
            ys, spikes = model(x)
            l1 = 1e-5 * spikes.sum()
            l2 = 1e-5 * (spikes.sum(dim=(0, 1)) ** 2).mean()
            return nn.functional.cross_entropy(ys.max(dim=1).values, labels[i]) + l1 + l2

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(i):
        opt.zero_grad()
        loss = loss_of(i)
        loss.backward()
        opt.step()
        return float(loss)

    t0 = time.perf_counter()
    loss = step(0)
    info = dict(
        first_call_s=time.perf_counter() - t0,
        loss=loss,
        version=torch.__version__,
        threads=torch.get_num_threads(),
    )
    if workload == "W2":
        import snntorch

        info["snntorch"] = snntorch.__version__
    serve(step, info)


if __name__ == "__main__":
    main()
