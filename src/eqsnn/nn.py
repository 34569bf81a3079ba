"""Stateless layers and recurrent cells."""

from ._core import AbstractStateless as AbstractStateless, Lambda as Lambda
from ._nn._event import SpikeSteps as SpikeSteps, event_matmul as event_matmul, first_spike_steps as first_spike_steps
from ._nn._linear import (
    FixedProb as FixedProb,
    Linear as Linear,
    OneToOne as OneToOne,
)
from ._nn._rnn import GRUCell as GRUCell, LSTMCell as LSTMCell, LSTMState as LSTMState, RNNCell as RNNCell
