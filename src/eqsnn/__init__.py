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
    AbstractComposition as AbstractComposition,
    AbstractDynamics as AbstractDynamics,
    AbstractSequence as AbstractSequence,
    AbstractStateless as AbstractStateless,
    Delay as Delay,
    DelayState as DelayState,
    Lambda as Lambda,
    Sequential as Sequential,
    as_dynamics as as_dynamics,
    auto_segment as auto_segment,
    is_stateless as is_stateless,
    run as run,
)
from ._custom_types import ParamLike as ParamLike
from ._graph import Graph as Graph, GraphState as GraphState
from ._params import Param as Param, param as param, params_of as params_of, positive as positive, unwrap as unwrap
from ._population import (
    AbstractNeuron as AbstractNeuron,
    AbstractPopulation as AbstractPopulation,
    AbstractSpikingNeuron as AbstractSpikingNeuron,
    AbstractSynapse as AbstractSynapse,
)
from ._projection import Projection as Projection

__version__ = "0.1.0"
