"""Synaptic dynamics (align-post: one variable per postsynaptic neuron)."""

from ._synapses import AbstractSynapse as AbstractSynapse, Expon as Expon, ExponState as ExponState
