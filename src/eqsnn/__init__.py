"""eqsnn: spiking and recurrent networks trained with BPTT, on JAX and Equinox."""

from . import (
    data as data,
    encoding as encoding,
    losses as losses,
    models as models,
    neurons as neurons,
    nn as nn,
    outputs as outputs,
    plot as plot,
    surrogate as surrogate,
    synapses as synapses,
    train as train,
)
from ._core import (
    AbstractDynamics as AbstractDynamics,
    AbstractSequence as AbstractSequence,
    Sequential as Sequential,
    is_stateless as is_stateless,
    run as run,
)
from ._projection import Projection as Projection

__version__ = "0.1.0"
