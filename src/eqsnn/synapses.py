"""Synaptic dynamics (align-post: one variable per postsynaptic neuron)."""

from ._synapses import (
    AMPA as AMPA,
    NMDA as NMDA,
    AbstractSynapse as AbstractSynapse,
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
