"""Neuron models: immutable modules with explicit state (one sample each)."""

from ._neurons._base import (
    AbstractNeuron as AbstractNeuron,
    AbstractSpikingNeuron as AbstractSpikingNeuron,
    decay as decay,
    exp_euler as exp_euler,
    spike_and_reset as spike_and_reset,
)
from ._neurons._leaky import Integrator as Integrator, Leaky as Leaky, LeakyState as LeakyState
from ._neurons._lif import IF as IF, LIF as LIF, LifRef as LifRef, LIFState as LIFState, LifRefState as LifRefState
