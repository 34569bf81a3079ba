r"""Property-based testing of dynamics, typed on the protocol.

Two halves, usable separately:

* **Invariant checks** (`check_*`): functions of any [`eqsnn.AbstractDynamics`][] (its
  `init_state` and `step`) and an input sequence that raise `AssertionError`, with a
  message naming the model, the step, the element and the values, when the model breaks
  an invariant every model of its kind should keep: spikes are 0/1, a refractory neuron
  stays silent, [`eqsnn.run`][] equals a loop of `step` and a `lax.scan` of `step`, a
  batch equals a loop over samples, jit equals eager, rematerialisation changes no value
  or gradient, the state returns to rest without input. They need only JAX. Where a
  check needs the spikes or the potential, it takes a function of the state
  (`spikes=lambda s: s.spike`, `potential=lambda s: s.v` by default), never a fixed
  attribute. [`eqsnn.testing.check_surrogate_derivative`][] checks a surrogate spike
  function.
* **Hypothesis strategies**: [`eqsnn.testing.params_for`][] and
  [`eqsnn.testing.invalid_params_for`][] draw valid and invalid arguments of any
  population class from its declared parameters ([`eqsnn.param`][]), a user's own
  included; [`eqsnn.testing.currents`][], [`eqsnn.testing.spike_trains`][],
  [`eqsnn.testing.surrogates`][] and [`eqsnn.testing.floats32`][] draw inputs,
  surrogates and float32-exact numbers. They need the `hypothesis` package
  (`pip install hypothesis`, or `eqsnn[dev]`), imported when a strategy is first built;
  `import eqsnn` never imports it.

!!! example

    ```python
    from hypothesis import given
    import eqsnn, eqsnn.testing as et

    @given(et.params_for(MyNeuron, arrays=True), et.currents(4, 50))
    def test_my_neuron(params, xs):
        model = MyNeuron(4, **params)
        et.check_spikes_binary(model, xs)
        et.check_run_equals_step_loop(model, xs)
        et.check_jit_equals_eager(model, xs)
        et.check_decays_without_input(model, eqsnn.run(model, xs)[0], 200)
    ```

Drawn hyper-parameters are float32-representable (times in ms, potentials in mV), so a
model gives the same parameters in float32 and float64; `arrays=True` draws them as float
arrays instead (trained parameters; also one compilation for all examples).
"""

from ._checks import (
    check_batch_size_independent as check_batch_size_independent,
    check_checkpoint_equals_run as check_checkpoint_equals_run,
    check_decays_without_input as check_decays_without_input,
    check_float32_matches_float64 as check_float32_matches_float64,
    check_jit_equals_eager as check_jit_equals_eager,
    check_no_spike_within_refractory as check_no_spike_within_refractory,
    check_prepared_equals_step as check_prepared_equals_step,
    check_remat_equals_run as check_remat_equals_run,
    check_reset_below_threshold as check_reset_below_threshold,
    check_run_equals_scan as check_run_equals_scan,
    check_run_equals_step_loop as check_run_equals_step_loop,
    check_spikes_binary as check_spikes_binary,
    check_surrogate_derivative as check_surrogate_derivative,
    check_vmap_equals_loop as check_vmap_equals_loop,
)
from ._strategies import (
    Strategy as Strategy,
    currents as currents,
    expon_params as expon_params,
    floats32 as floats32,
    if_params as if_params,
    invalid_params_for as invalid_params_for,
    leaky_params as leaky_params,
    lif_params as lif_params,
    lifref_params as lifref_params,
    params_for as params_for,
    spike_trains as spike_trains,
    surrogates as surrogates,
)

__all__ = [
    "Strategy",
    "check_batch_size_independent",
    "check_checkpoint_equals_run",
    "check_decays_without_input",
    "check_float32_matches_float64",
    "check_jit_equals_eager",
    "check_no_spike_within_refractory",
    "check_prepared_equals_step",
    "check_remat_equals_run",
    "check_reset_below_threshold",
    "check_run_equals_scan",
    "check_run_equals_step_loop",
    "check_spikes_binary",
    "check_surrogate_derivative",
    "check_vmap_equals_loop",
    "currents",
    "expon_params",
    "floats32",
    "if_params",
    "invalid_params_for",
    "leaky_params",
    "lif_params",
    "lifref_params",
    "params_for",
    "spike_trains",
    "surrogates",
]
