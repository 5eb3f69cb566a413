"""Reductions to a scalar (sum, Frobenius/2-norm, logsumexp) and softmax, each over all entries."""

from __future__ import annotations

from ..expr import call
from ..shapes import SCALAR
from .arith import broadcast_to, size
from .base import function, inner, linear, smooth, vec_length

# linear: transpose ct spread over X's shape (ct·𝟙𝟙ᵀ); matrix sum X = 𝟙ᵀ vec X
function("sum", spellings=("Σ",), arity=1, shape=lambda dims, s: SCALAR,
         **linear(transpose=lambda e, i, ct: broadcast_to(ct, e.args[0].shape),
                  matrix=lambda e, i: call("ones", params=(1, vec_length(e.args[0].shape)))),
         np_code="np.sum({0})", numeric=lambda ev, e, x: ev.np.sum(x).reshape(1, 1),
         extra={"scalars_out": True, "transpose_invariant": True, "scalar_identity": True})



# mean X = sum X / (m·n), linear: transpose ct spread over X's shape, divided by its size;
# matrix 𝟙ᵀ / (m·n)
def _mean_transpose(e, i, ct):
    s = e.args[0].shape
    return broadcast_to(ct / size(vec_length(s)), s)


function("mean", arity=1, shape=lambda dims, s: SCALAR,
         **linear(transpose=_mean_transpose,
                  matrix=lambda e, i: call("ones", params=(1, vec_length(e.args[0].shape))) / size(
                      vec_length(e.args[0].shape))),
         np_code="np.mean({0})", numeric=lambda ev, e, x: ev.np.mean(x).reshape(1, 1),
         extra={"scalars_out": True, "transpose_invariant": True, "scalar_identity": True})

def _norm_unicode(sub: str):
    def pr(p, e):
        a = e.args[0]
        inner = p(a)
        if "‖" in inner:        # ‖a‖y‖x‖ would close at the second bar
            return f"norm({inner})"
        return f"‖{inner}‖" + (sub if not (a.shape.is_vector or a.shape.is_row or a.shape.is_scalar) else "")
    return pr


# D‖X‖[V] = ⟨X, V⟩ / ‖X‖   (Frobenius norm; the 2-norm of a vector)
function("norm", spellings=("linalg.norm",), arity=1, shape=lambda dims, s: SCALAR,
         **smooth(lambda e, t: inner(e.args[0], t) / e, why="D‖X‖[V] = ⟨X, V⟩ / ‖X‖"), domain=("not_all_zero",),
         unicode=_norm_unicode("_F"),
         latex=lambda p, e: rf"\left\| {p(e.args[0])} \right\|" + ("" if e.args[0].shape.cols == 1 else "_F"),
         np_code="np.linalg.norm({0})", numeric=lambda ev, e, x: ev.np.sqrt(ev.np.sum(x * x)).reshape(1, 1))

LOGSUMEXP = """def _logsumexp(z):
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m)))
"""
SOFTMAX = """def _softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)
"""

def _logsumexp_value(ev, e, x):
    top = ev.np.max(x)      # log Σ exp(xᵢ) = top + log Σ exp(xᵢ − top), which cannot overflow
    return (top + ev.np.log(ev.np.sum(ev.np.exp(x - top)))).reshape(1, 1)


# D lse(x)[v] = softmax(x)ᵀ v
function("logsumexp", spellings=("special.logsumexp", "lse"), arity=1, shape=lambda dims, s: SCALAR,
         **smooth(lambda e, t: inner(call("softmax", e.args[0]), t), why="D lse(x)[v] = softmax(x)ᵀv"),
         np_code="_logsumexp({0})", extra={"helper": LOGSUMEXP}, numeric=_logsumexp_value)

# D softmax(x)[v] = s ⊙ v − s (sᵀv),  s = softmax(x)
function("softmax", spellings=("special.softmax",), arity=1, shape=lambda dims, s: s,
         **smooth(lambda e, t: e * t - e * inner(e, t), why="D softmax(x)[v] = s ⊙ v − s (sᵀv), s = softmax(x)"),
         np_code="_softmax({0})", extra={"helper": SOFTMAX},
         numeric=lambda ev, e, x: ev.np.exp(x - _logsumexp_value(ev, e, x)))
