r"""Spike functions: an exact Heaviside forward pass, a smooth backward pass.

Every surrogate is a small `eqx.Module` whose hyper-parameters are fields
(visible in `repr`, vmappable, trainable if you pass an array). Calling it
gives

$$ S(x) = H(x) = \begin{cases} 1 & x \ge 0 \\ 0 & x < 0 \end{cases}, \qquad
   \frac{\partial S}{\partial x} := \sigma'(x), $$

where $\sigma$ is the surrogate's smooth function (`smooth`) and
$\sigma'$ its derivative (`derivative`). The forward value is exactly 0/1,
in training and evaluation alike.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.special as jsp

from ._custom_types import Array, ArrayLike, Float, RealScalarLike
from ._params import check_param, iter_params, param, strong_type


def heaviside(x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
    r"""$H(x) = 1$ if $x \ge 0$ else $0$, in the dtype of `x` (no gradient)."""
    return (x >= 0).astype(x.dtype)


@eqx.filter_custom_jvp
def _spike(x, surrogate):
    return heaviside(x)


@_spike.def_jvp
def _spike_jvp(primals, tangents):
    x, surrogate = primals
    tx, _ = tangents
    y = heaviside(x)
    if tx is None:
        return y, jnp.zeros_like(y)
    return y, (surrogate.derivative(x) * tx).astype(y.dtype)


class AbstractSurrogate(eqx.Module):
    r"""Base class of spike functions with a surrogate gradient.

    `surrogate(x)` returns $H(x)$ with the pseudo-derivative
    `surrogate.derivative(x)` $=\sigma'(x)$ in the backward pass (through
    `jax.custom_jvp`, so forward and reverse mode both work).
    `surrogate.smooth(x)` $=\sigma(x)$ is the smooth function whose derivative
    the backward pass uses; tests check `jax.grad(smooth) == derivative`.
    """

    def __check_init__(self) -> None:
        owner = type(self).__name__
        for name, spec, value in iter_params(self):
            check_param(owner, name, spec, value, None)

    def __call__(self, x: Float[ArrayLike, "*shape"]) -> Float[Array, "*shape"]:
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.zeros(()).dtype)
        return _spike(x, self)

    @abc.abstractmethod
    def derivative(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        r"""The pseudo-derivative $\sigma'(x)$ used in the backward pass."""

    @abc.abstractmethod
    def smooth(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        r"""The smooth function $\sigma(x)$ with $\sigma' =$ `derivative`."""


def _hyper(default: float, *, constraint: str = "positive", doc: str = "") -> Any:
    """A declared hyper-parameter of a surrogate (see [`eqsnn.param`][]), which may be
    given positionally (`InvSquare(100.)`)."""
    declared = param(default, constraint=constraint, doc=doc)
    meta = {k: v for k, v in declared.metadata.items() if k != "converter"}
    return eqx.field(default=default, converter=strong_type, metadata=meta)


class AbstractInvSquare(AbstractSurrogate):
    r"""The inverse-square family ([`eqsnn.surrogate.InvSquare`][], [`eqsnn.surrogate.FastSigmoid`][]),
    which differ only in their default `alpha`.

    $$ \sigma'(x) = \frac{1}{(\alpha |x| + 1)^2}, \qquad
       \sigma(x) = \frac{x}{1 + \alpha |x|} $$
    """

    alpha: eqx.AbstractVar[RealScalarLike]

    def derivative(self, x):
        return 1.0 / (self.alpha * jnp.abs(x) + 1.0) ** 2

    def smooth(self, x):
        return x / (1.0 + self.alpha * jnp.abs(x))


class InvSquare(AbstractInvSquare):
    r"""Inverse-square pseudo-derivative (BrainPy's default `InvSquareGrad`).

    $$ \sigma'(x) = \frac{1}{(\alpha |x| + 1)^2}, \qquad
       \sigma(x) = \frac{x}{1 + \alpha |x|} $$

    **Arguments:** `alpha` (default `100.`), the sharpness.
    """

    alpha: RealScalarLike = _hyper(100.0)


class FastSigmoid(AbstractInvSquare):
    r"""Fast sigmoid / SuperSpike (Zenke & Ganguli 2018; snnTorch's `fast_sigmoid`; snnTorch's default is [`eqsnn.surrogate.ArcTan`][]`(2.)`).

    $$ \sigma'(x) = \frac{1}{(\alpha |x| + 1)^2} $$

    The same form as [`eqsnn.surrogate.InvSquare`][] with snnTorch's slope:
    **Arguments:** `alpha` (default `25.`).
    """

    alpha: RealScalarLike = _hyper(25.0)


#: Zenke & Ganguli's name for [`FastSigmoid`][].
SuperSpike = FastSigmoid


class Sigmoid(AbstractSurrogate):
    r"""Logistic surrogate.

    $$ \sigma(x) = \frac{1}{1 + e^{-\alpha x}}, \qquad
       \sigma'(x) = \alpha\, \sigma(x) (1 - \sigma(x)) $$

    **Arguments:** `alpha` (default `4.`).
    """

    alpha: RealScalarLike = _hyper(4.0)

    def derivative(self, x):
        s = jax.nn.sigmoid(self.alpha * x)
        return self.alpha * s * (1.0 - s)

    def smooth(self, x):
        return jax.nn.sigmoid(self.alpha * x)


class ArcTan(AbstractSurrogate):
    r"""Arc-tangent surrogate (Fang et al. 2021; SpikingJelly's default).

    $$ \sigma(x) = \frac{1}{\pi} \arctan\left(\frac{\pi}{2}\alpha x\right) + \frac12,
       \qquad \sigma'(x) = \frac{\alpha / 2}{1 + (\frac{\pi}{2}\alpha x)^2} $$

    **Arguments:** `alpha` (default `2.`).
    """

    alpha: RealScalarLike = _hyper(2.0)

    def derivative(self, x):
        return 0.5 * self.alpha / (1.0 + (0.5 * math.pi * self.alpha * x) ** 2)

    def smooth(self, x):
        return jnp.arctan(0.5 * math.pi * self.alpha * x) / math.pi + 0.5


class Gaussian(AbstractSurrogate):
    r"""Gaussian pseudo-derivative (Yin et al. 2021).

    $$ \sigma'(x) = \frac{h}{\sqrt{2\pi}\, s} e^{-x^2 / (2 s^2)}, \qquad
       \sigma(x) = \frac{h}{2}\left(1 + \operatorname{erf}\frac{x}{\sqrt2\, s}\right) $$

    **Arguments:** `sigma` $s$ (default `0.5`), `alpha` $h$ (default `1.`).
    """

    sigma: RealScalarLike = _hyper(0.5)
    alpha: RealScalarLike = _hyper(1.0)

    def derivative(self, x):
        return self.alpha * jnp.exp(-(x**2) / (2.0 * self.sigma**2)) / (math.sqrt(2.0 * math.pi) * self.sigma)

    def smooth(self, x):
        return 0.5 * self.alpha * (1.0 + jsp.erf(x / (math.sqrt(2.0) * self.sigma)))


class Erf(AbstractSurrogate):
    r"""Error-function surrogate.

    $$ \sigma(x) = \frac12\left(1 + \operatorname{erf}(\alpha x)\right), \qquad
       \sigma'(x) = \frac{\alpha}{\sqrt\pi} e^{-\alpha^2 x^2} $$

    **Arguments:** `alpha` (default `1.`).
    """

    alpha: RealScalarLike = _hyper(1.0)

    def derivative(self, x):
        return self.alpha / math.sqrt(math.pi) * jnp.exp(-((self.alpha * x) ** 2))

    def smooth(self, x):
        return 0.5 * (1.0 + jsp.erf(self.alpha * x))


class PiecewiseQuadratic(AbstractSurrogate):
    r"""Piecewise quadratic surrogate (Esser et al. 2016).

    $$ \sigma'(x) = \max(0,\ \alpha - \alpha^2 |x|), \qquad
       \sigma(x) = \begin{cases} 0 & x < -1/\alpha \\
       -\tfrac12 \alpha^2 |x| x + \alpha x + \tfrac12 & |x| \le 1/\alpha \\
       1 & x > 1/\alpha \end{cases} $$

    **Arguments:** `alpha` (default `1.`).
    """

    alpha: RealScalarLike = _hyper(1.0)

    def derivative(self, x):
        return jnp.maximum(self.alpha - self.alpha**2 * jnp.abs(x), 0.0)

    def smooth(self, x):
        inner = -0.5 * self.alpha**2 * jnp.abs(x) * x + self.alpha * x + 0.5
        return jnp.where(x < -1.0 / self.alpha, 0.0, jnp.where(x > 1.0 / self.alpha, 1.0, inner))


class PiecewiseExp(AbstractSurrogate):
    r"""Piecewise exponential surrogate (Neftci et al. 2019).

    $$ \sigma'(x) = \frac{\alpha}{2} e^{-\alpha |x|}, \qquad
       \sigma(x) = \begin{cases} \frac12 e^{\alpha x} & x < 0 \\
       1 - \frac12 e^{-\alpha x} & x \ge 0 \end{cases} $$

    **Arguments:** `alpha` (default `1.`).
    """

    alpha: RealScalarLike = _hyper(1.0)

    def derivative(self, x):
        return 0.5 * self.alpha * jnp.exp(-self.alpha * jnp.abs(x))

    def smooth(self, x):
        e = 0.5 * jnp.exp(-self.alpha * jnp.abs(x))
        return jnp.where(x < 0, e, 1.0 - e)


class SoftSign(AbstractSurrogate):
    r"""Soft-sign surrogate.

    $$ \sigma(x) = \frac{x}{2/\alpha + 2|x|} + \frac12, \qquad
       \sigma'(x) = \frac{\alpha}{2 (1 + \alpha |x|)^2} $$

    **Arguments:** `alpha` (default `1.`).
    """

    alpha: RealScalarLike = _hyper(1.0)

    def derivative(self, x):
        return 0.5 * self.alpha / (1.0 + self.alpha * jnp.abs(x)) ** 2

    def smooth(self, x):
        return x / (2.0 / self.alpha + 2.0 * jnp.abs(x)) + 0.5


class Triangle(AbstractSurrogate):
    r"""Triangular pseudo-derivative (Bellec et al. 2018, "ReLU grad").

    $$ \sigma'(x) = \alpha \max(0,\ w - |x|), \qquad
       \sigma(x) = \alpha \begin{cases} 0 & x < -w \\
       w x - \tfrac12 |x| x + \tfrac12 w^2 & |x| \le w \\ w^2 & x > w \end{cases} $$

    **Arguments:** `alpha` (default `0.3`), `width` $w$ (default `1.`).
    """

    alpha: RealScalarLike = _hyper(0.3)
    width: RealScalarLike = _hyper(1.0)

    def derivative(self, x):
        return self.alpha * jnp.maximum(self.width - jnp.abs(x), 0.0)

    def smooth(self, x):
        w = self.width
        inner = w * x - 0.5 * jnp.abs(x) * x + 0.5 * w**2
        return self.alpha * jnp.where(x < -w, 0.0, jnp.where(x > w, w**2, inner))


class Boxcar(AbstractSurrogate):
    r"""Rectangular pseudo-derivative (Wu et al. 2018).

    $$ \sigma'(x) = \frac{1}{2w} \mathbf{1}[|x| < w], \qquad
       \sigma(x) = \operatorname{clip}\left(\frac{x}{2w} + \frac12, 0, 1\right) $$

    **Arguments:** `width` $w$ (default `0.5`).
    """

    width: RealScalarLike = _hyper(0.5)

    def derivative(self, x):
        return jnp.where(jnp.abs(x) < self.width, 0.5 / self.width, 0.0).astype(x.dtype)

    def smooth(self, x):
        return jnp.clip(x / (2.0 * self.width) + 0.5, 0.0, 1.0)


class QPseudoSpike(AbstractSurrogate):
    r"""q-PseudoSpike (Herranz-Celotti & Rouat 2022), tail fatness $\alpha > 1$.

    $$ \sigma'(x) = \left(1 + \frac{2|x|}{\alpha - 1}\right)^{-\alpha}, \qquad
       \sigma(x) = \frac12 + \frac{\operatorname{sign}(x)}{2}
       \left(1 - \left(1 + \frac{2|x|}{\alpha-1}\right)^{1-\alpha}\right) $$

    **Arguments:** `alpha` (default `2.`, must be > 1).
    """

    alpha: RealScalarLike = _hyper(2.0, constraint="above_one")

    def derivative(self, x):
        return (1.0 + 2.0 * jnp.abs(x) / (self.alpha - 1.0)) ** (-self.alpha)

    def smooth(self, x):
        tail = 1.0 - (1.0 + 2.0 * jnp.abs(x) / (self.alpha - 1.0)) ** (1.0 - self.alpha)
        return 0.5 + 0.5 * jnp.sign(x) * tail


class StraightThrough(AbstractSurrogate):
    r"""Straight-through estimator (Bengio et al. 2013).

    $$ \sigma'(x) = 1, \qquad \sigma(x) = x $$
    """

    def derivative(self, x):
        return jnp.ones_like(x)

    def smooth(self, x):
        return x
