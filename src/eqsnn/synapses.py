"""Synaptic dynamics (align-post: one variable per postsynaptic element)."""

from ._population import AbstractSynapse as AbstractSynapse
from ._synapses import (
    AMPA as AMPA,
    NMDA as NMDA,
    Alpha as Alpha,
    AlphaState as AlphaState,
    AMPAState as AMPAState,
    DualExpon as DualExpon,
    DualExponState as DualExponState,
    Expon as Expon,
    ExponState as ExponState,
    GABAa as GABAa,
    GABAaState as GABAaState,
    NMDAState as NMDAState,
)
