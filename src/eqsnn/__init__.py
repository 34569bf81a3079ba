"""eqsnn: spiking and recurrent networks trained with BPTT, on JAX and Equinox."""

from . import models as models, neurons as neurons, nn as nn, outputs as outputs, surrogate as surrogate, synapses as synapses
from . import data as data, encoding as encoding
from . import losses as losses, plot as plot, train as train
from ._core import (
    AbstractDynamics as AbstractDynamics,
    is_stateless as is_stateless,
    run as run,
    Sequential as Sequential,
)
from ._projection import Projection as Projection

__version__ = "0.1.0"
