"""Surrogate-gradient spike functions (exact Heaviside forward, smooth backward)."""

from ._surrogate import (
    AbstractInvSquare as AbstractInvSquare,
    AbstractSurrogate as AbstractSurrogate,
    ArcTan as ArcTan,
    Boxcar as Boxcar,
    Erf as Erf,
    FastSigmoid as FastSigmoid,
    Gaussian as Gaussian,
    InvSquare as InvSquare,
    PiecewiseExp as PiecewiseExp,
    PiecewiseQuadratic as PiecewiseQuadratic,
    QPseudoSpike as QPseudoSpike,
    Sigmoid as Sigmoid,
    SoftSign as SoftSign,
    StraightThrough as StraightThrough,
    SuperSpike as SuperSpike,
    Triangle as Triangle,
    heaviside as heaviside,
)
