"""Training: the low-level step (plain Equinox + Optax) and the BPTT trainer.

- [`eqsnn.train.make_step`][]: one jitted step
  `(model, opt_state, batch) -> (model, opt_state, loss, aux)` for a
  hand-written loop.
- [`eqsnn.train.BPTT`][]: `fit` / `evaluate` over arrays or batch
  iterators, with a progress bar, a [`eqsnn.train.History`][],
  checkpoint/resume, multi-device data parallelism and NaN detection.
- [`eqsnn.train.tune_host_allocator`][]: on the CPU backend, keep a step's
  large temporary buffers in the malloc heap between calls (both of the
  above call it).

Batches are batch-major: inputs `[B, T, ...]`, targets `[B, ...]`; a model
describes one sample `[T, ...]` and is `jax.vmap`-ed over the batch.
"""

from ._bptt import BPTT as BPTT, TrainingDivergedError as TrainingDivergedError
from ._checkpoint import CheckpointError as CheckpointError, load_checkpoint as load_checkpoint
from ._history import History as History
from ._host import tune_host_allocator as tune_host_allocator
from ._silent import SilentLayerWarning as SilentLayerWarning, silent_populations as silent_populations
from ._step import init_opt_state as init_opt_state, make_step as make_step, trainable as trainable
