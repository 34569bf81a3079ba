"""Stateless layers and recurrent cells."""

from ._nn._linear import AbstractStateless as AbstractStateless, Linear as Linear
