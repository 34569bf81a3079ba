"""Neuron models: immutable modules with explicit state (one sample each), populations of any shape."""

from ._integrate import (
    decay as decay,
    exp_euler as exp_euler,
    exp_euler_auto as exp_euler_auto,
    exprel as exprel,
    spike_and_reset as spike_and_reset,
)
from ._neurons._adaptive import ALIF as ALIF, ALIFState as ALIFState
from ._neurons._hh import HH as HH, HHState as HHState
from ._neurons._leaky import Integrator as Integrator, Leaky as Leaky, LeakyState as LeakyState
from ._neurons._lif import (
    IF as IF,
    LIF as LIF,
    AbstractLIF as AbstractLIF,
    LifRef as LifRef,
    LifRefState as LifRefState,
    LIFState as LIFState,
)
from ._neurons._nonlinear import (
    AdEx as AdEx,
    AdExState as AdExState,
    ExpIF as ExpIF,
    ExpIFState as ExpIFState,
    Izhikevich as Izhikevich,
    IzhikevichState as IzhikevichState,
    QuaIF as QuaIF,
    QuaIFState as QuaIFState,
)
from ._population import (
    AbstractNeuron as AbstractNeuron,
    AbstractPopulation as AbstractPopulation,
    AbstractSpikingNeuron as AbstractSpikingNeuron,
)
