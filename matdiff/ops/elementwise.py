"""Functions applied entrywise. Each declares f′ in terms of its argument x and/or its own value
y = f(x) where that is cheaper (σ′ = y(1 − y), tanh′ = 1 − y²), and a NumPy form that does not
overflow (sigmoid via tanh, softplus via logaddexp)."""

from __future__ import annotations

from ..expr import OPS, Call, Const, call
from .base import elementwise

elementwise("exp", deriv=lambda x, y: y, np_code="np.exp({0})")


def _log_build(args, params):
    """log(det X) is log det X."""
    (x,) = args
    if isinstance(x, Call) and x.op.name == "det":
        return call("logdet", x.args[0])
    return Call(OPS["log"], args)


elementwise("log", spellings=("ln",), deriv=lambda x, y: 1 / x, np_code="np.log({0})", domain="positive",
            build=_log_build)
elementwise("sqrt", deriv=lambda x, y: 1 / (2 * y), np_code="np.sqrt({0})", domain="positive")
elementwise("sin", deriv=lambda x, y: call("cos", x), np_code="np.sin({0})")
elementwise("cos", deriv=lambda x, y: -call("sin", x), np_code="np.cos({0})")
elementwise("tanh", deriv=lambda x, y: 1 - y ** 2, np_code="np.tanh({0})")
# σ(x) = exp(−log(1 + e⁻ˣ)): logaddexp never overflows, and far out on either side the
# result keeps its relative accuracy (σ(−30) = 9.36e-14, not a rounded 1 − 1).
elementwise("sigmoid", spellings=("σ", "expit", "special.expit"), deriv=lambda x, y: y * (1 - y),
            np_code="np.exp(-np.logaddexp(0, -{0}))", unicode_name="σ", latex_name=r"\sigma",
            extra={"np_negated": "np.exp(-np.logaddexp(0, {0}))"})   # σ(−z), from z
elementwise("softplus", deriv=lambda x, y: call("sigmoid", x), np_code="np.logaddexp(0, {0})")
elementwise("relu", deriv=lambda x, y: call("step", x), np_code="np.maximum({0}, 0)", domain="nonzero")
elementwise("abs", spellings=("absolute",), deriv=lambda x, y: call("sign", x),
            np_code="np.abs({0})", domain="nonzero")
# step (relu′) and sign (abs′) are piecewise constant: their derivative is 0 away from the kink,
# which the sampler avoids; at the kink itself neither has a derivative.
elementwise("step", spellings=("heaviside",), deriv=lambda x, y: Const(0),
            np_code="np.heaviside({0}, 0.0)", domain="nonzero")
elementwise("sign", deriv=lambda x, y: Const(0), np_code="np.sign({0})", domain="nonzero")
