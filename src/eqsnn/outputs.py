"""Synaptic outputs: conductance and potential to current."""

from ._outputs import AbstractOutput as AbstractOutput, CUBA as CUBA
