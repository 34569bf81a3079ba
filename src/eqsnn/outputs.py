"""Synaptic outputs: conductance and potential to current."""

from ._outputs import COBA as COBA, CUBA as CUBA, AbstractOutput as AbstractOutput, MgBlock as MgBlock
