"""Functions applied entrywise. Each declares, side by side: its plain value (what the reference
evaluator computes), f′ in terms of its argument x and/or its own value y = f(x) where that is
cheaper (σ′ = y(1 − y), tanh′ = 1 − y²), and a NumPy form that does not overflow (sigmoid and
softplus via logaddexp)."""

from __future__ import annotations

from ..expr import OPS, Call, Const, call
from .base import elementwise, function, same_shape_unary


def _log_build(args, params):
    """log(det X) is log det X."""
    (x,) = args
    if isinstance(x, Call) and x.op.name == "det":
        return call("logdet", x.args[0])
    return Call(OPS["log"], args)


elementwise("exp", value=lambda np, x: np.exp(x), deriv=lambda x, y: y, np_code="np.exp({0})")
elementwise("log", value=lambda np, x: np.log(x), deriv=lambda x, y: 1 / x, np_code="np.log({0})",
            spellings=("ln",), domain="positive", build=_log_build)
elementwise("sqrt", value=lambda np, x: np.sqrt(x), deriv=lambda x, y: 1 / (2 * y), np_code="np.sqrt({0})",
            domain="positive")
# log1p and expm1 keep their accuracy near 0, where log(1 + x) and exp(x) − 1 lose it to rounding
elementwise("log1p", value=lambda np, x: np.log1p(x), deriv=lambda x, y: 1 / (1 + x), np_code="np.log1p({0})",
            domain=("above", -1))
elementwise("expm1", value=lambda np, x: np.expm1(x), deriv=lambda x, y: y + 1, np_code="np.expm1({0})")
# square(x) is x⊙², the power: one form for one function, so that x ⊙ square(x) = x⊙³ and
# every rule of the power applies. The op builds it and is never seen past reading.
function("square", arity=1, shape=same_shape_unary,
         build=lambda args, params: call("power", args[0], Const(2)))
elementwise("sin", value=lambda np, x: np.sin(x), deriv=lambda x, y: call("cos", x), np_code="np.sin({0})")
elementwise("cos", value=lambda np, x: np.cos(x), deriv=lambda x, y: -call("sin", x), np_code="np.cos({0})")
elementwise("tanh", value=lambda np, x: np.tanh(x), deriv=lambda x, y: 1 - y ** 2, np_code="np.tanh({0})")
# σ(x) = exp(−log(1 + e⁻ˣ)): logaddexp never overflows, and far out on either side the
# result keeps its relative accuracy (σ(−30) = 9.36e-14, not a rounded 1 − 1).
elementwise("sigmoid", value=lambda np, x: 1 / (1 + np.exp(-x)), deriv=lambda x, y: y * (1 - y),
            np_code="np.exp(-np.logaddexp(0, -{0}))", spellings=("σ", "expit", "special.expit"),
            unicode_name="σ", latex_name=r"\sigma",
            extra={"np_negated": "np.exp(-np.logaddexp(0, {0}))"})   # σ(−z), from z
elementwise("softplus", value=lambda np, x: np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0),
            deriv=lambda x, y: call("sigmoid", x), np_code="np.logaddexp(0, {0})")
elementwise("relu", value=lambda np, x: np.where(x > 0, x, 0.0), deriv=lambda x, y: call("step", x),
            np_code="np.maximum({0}, 0)", domain="nonzero")
elementwise("abs", value=lambda np, x: np.abs(x), deriv=lambda x, y: call("sign", x), np_code="np.abs({0})",
            spellings=("absolute",), domain="nonzero")
# step (relu′) and sign (abs′) are piecewise constant: their derivative is 0 away from the kink,
# which the sampler avoids; at the kink itself neither has a derivative.
elementwise("step", value=lambda np, x: np.where(x > 0, 1.0, 0.0), deriv=lambda x, y: Const(0),
            np_code="np.heaviside({0}, 0.0)", spellings=("heaviside",), domain="nonzero")
elementwise("sign", value=lambda np, x: np.sign(x), deriv=lambda x, y: Const(0), np_code="np.sign({0})",
            domain="nonzero")
