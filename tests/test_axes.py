"""Reductions and maps along an axis (max, min, logsumexp, softmax, log_softmax per row or per
column), their all-entries forms, the elementwise maximum / minimum, and `along()`, the reader's
entry point. Each is checked against a NumPy reference written here (scipy-free, and by another
algorithm where one exists: np.logaddexp.reduce for logsumexp), by central differences of its
jvp and gradients, and at the awkward inputs: lines of one entry, a single line, entries near
1000, and ties, which verification must keep away from."""

from __future__ import annotations

import numpy as np
import pytest

import matdiff
from matdiff.derivation import derive
from matdiff.emit.numpy import compile_exprs, module_source
from matdiff.evaluate import evaluate
from matdiff.expr import Call, Const, ShapeMismatch, Symbol, call
from matdiff.ops.axes import along, clip, maximum, minimum
from matdiff.shapes import Shape
from matdiff.verify import MARGIN, Sampler, _domain_checks, _in_domain, find_point, verify_directional, \
    verify_matrix

Z = Symbol("Z", Shape("m", "n"))
W = Symbol("W", Shape("m", "n"))
x = Symbol("x", Shape("n", 1))
y = Symbol("y", Shape("n", 1))
RNG = np.random.default_rng(11)


# -- references, written here ---------------------------------------------------------------------

def ref_logsumexp(z, axis=None):
    return np.logaddexp.reduce(z, axis=axis)


def ref_softmax(z, axis=None):
    return np.exp(ref_log_softmax(z, axis))


def ref_log_softmax(z, axis=None):
    if axis is None:
        return z - np.logaddexp.reduce(z.ravel())
    return z - np.expand_dims(np.logaddexp.reduce(z, axis=axis), axis)


def ref_onehot(z, axis, largest=True):
    """1 at the max (min) of each line, from the sorted order."""
    lines = z if axis == 1 else z.T
    order = np.argsort(lines, axis=1)
    at = order[:, -1] if largest else order[:, 0]
    out = np.zeros_like(lines)
    out[np.arange(len(lines)), at] = 1.0
    return out if axis == 1 else out.T


REFERENCE = {
    "max": lambda z, axis: np.max(z, axis=axis),
    "min": lambda z, axis: np.min(z, axis=axis),
    "logsumexp": ref_logsumexp,
    "softmax": ref_softmax,
    "log_softmax": ref_log_softmax,
    "sum": lambda z, axis: np.sum(z, axis=axis),
    "mean": lambda z, axis: np.mean(z, axis=axis),
    "norm": lambda z, axis: np.sqrt(np.sum(z * z, axis=axis)),
}
NAMES = sorted(REFERENCE)
OP_OF = {"max": "max_along", "min": "min_along", "logsumexp": "logsumexp_along", "softmax": "softmax_along",
         "log_softmax": "log_softmax_along"}


def _both(expr, params, values):
    """The value by the reference evaluator and by the emitted code (both in runtime form)."""
    emitted = compile_exprs([expr], params)(**values)
    return evaluate(expr, values), emitted


# -- along(): the contract -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("axis", [0, 1])
def test_along_has_numpy_shapes(name, axis):
    out = along(name, Z, axis)
    if name in ("softmax", "log_softmax"):
        assert out.shape == Z.shape
    else:
        assert out.shape == Shape("m" if axis == 1 else "n", 1)


def test_sums_along_an_axis_are_products_with_ones():
    ones_n, ones_m = call("ones", params=("n", 1)), call("ones", params=("m", 1))
    assert along("sum", Z, 1) == Z @ ones_n
    assert along("sum", Z, 0) == Z.T @ ones_m
    assert along("mean", Z, 0) == Z.T @ ones_m / call("size", params=("m",))
    assert along("norm", Z, 1) == call("sqrt", call("power", Z, Const(2)) @ ones_n)


@pytest.mark.parametrize("name", NAMES)
def test_along_axis_0_of_a_vector_is_over_all_entries(name):
    assert along(name, x, 0) == call(name, x)
    assert along(name, x.T, 0) == call(name, x.T)   # a row is 1-D in NumPy as well


@pytest.mark.parametrize("z, axis, words", [
    (x, 1, "is a vector (1-D in NumPy), so it has axis 0 only"),
    (Symbol("a", Shape(1, 1)), 0, "is a scalar"),
    (Z, 2, "axis 2 of Z"),
    (Z, -1, "axis -1 of Z"),
])
def test_along_refuses_an_axis_the_operand_lacks(z, axis, words):
    with pytest.raises(ShapeMismatch) as err:
        along("softmax", z, axis)
    assert words in str(err.value)
    assert "{0}" in err.value.template       # the reader names the operand by its source text


def test_along_knows_its_functions():
    with pytest.raises(ValueError, match="along"):
        along("prod", Z, 0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("size", [(4, 5), (1, 5), (4, 1), (1, 1)], ids=lambda s: "x".join(map(str, s)))
def test_values_match_the_reference(name, axis, size):
    """A matrix of symbolic dims is 2-D at run time, whatever its sizes: 1×n and m×1 included."""
    z = RNG.standard_normal(size)
    evaluated, emitted = _both(along(name, Z, axis), [Z], {"Z": z})
    want = REFERENCE[name](z, axis)
    np.testing.assert_allclose(evaluated, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(emitted, want, rtol=1e-12, atol=1e-12)


# -- the ops themselves on a row, a column, a scalar (1-D or 0-D at run time) ------------------------------

@pytest.mark.parametrize("name", sorted(OP_OF))
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("size", [(1, 4), (3, 1), (1, 1)], ids=lambda s: "x".join(map(str, s)))
def test_an_op_along_an_axis_of_length_one_is_what_numpy_computes_in_2d(name, axis, size):
    """The constructor rewrites f(R, axis=k) of an IR row, column or scalar (which NumPy holds 1-D
    or 0-D) to what it is: the entries themselves, 1, 0, or the op over all entries; the result
    is NumPy's on the 2-D array."""
    r = Symbol("R", Shape(*size))
    expr = call(OP_OF[name], r, params=(axis,))
    assert not (isinstance(expr, Call) and expr.op.name == OP_OF[name])
    z = RNG.standard_normal(size)
    runtime = z.reshape(-1) if 1 in size and size != (1, 1) else float(z[0, 0])
    evaluated, emitted = _both(expr, [r], {"R": runtime})
    want = REFERENCE[name](z, axis)
    want = want.reshape(-1) if want.size > 1 else float(want.reshape(-1)[0])
    np.testing.assert_allclose(evaluated, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(emitted, want, rtol=1e-12, atol=1e-12)


def test_a_reduction_of_a_transpose_is_along_the_other_axis():
    assert call("max_along", Z.T, params=(1,)) == call("max_along", Z, params=(0,))
    assert along("logsumexp", Z.T, 0) == along("logsumexp", Z, 1)


@pytest.mark.parametrize("name, fn", [("max", np.max), ("min", np.min), ("log_softmax", ref_log_softmax)])
@pytest.mark.parametrize("size", [(5, 1), (3, 4), (1, 1)], ids=lambda s: "x".join(map(str, s)))
def test_ops_over_all_entries(name, fn, size):
    a = Symbol("A", Shape(*size))
    z = RNG.standard_normal(size)
    runtime = float(z[0, 0]) if size == (1, 1) else z.reshape(-1) if 1 in size else z
    evaluated, emitted = _both(call(name, a), [a], {"A": runtime})
    want = fn(z)
    want = want.reshape(np.shape(runtime)) if np.ndim(want) else float(want)
    np.testing.assert_allclose(evaluated, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(emitted, want, rtol=1e-12, atol=1e-12)


# -- stability ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["logsumexp", "softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [0, 1])
def test_large_entries_neither_overflow_nor_underflow(name, axis):
    z = 1000.0 + RNG.standard_normal((4, 5))
    z[0, 0] = -1000.0
    evaluated, emitted = _both(along(name, Z, axis), [Z], {"Z": z})
    want = REFERENCE[name](z, axis)
    assert np.all(np.isfinite(emitted))
    np.testing.assert_allclose(evaluated, want, rtol=1e-12)
    np.testing.assert_allclose(emitted, want, rtol=1e-12)


def test_the_gradient_of_a_cross_entropy_at_large_logits_is_finite():
    y_ = Symbol("Y", Shape("m", "n"))
    d = derive(-call("sum", y_ * along("log_softmax", Z, 1)), "Z")
    z = 1000.0 * RNG.standard_normal((4, 5))
    labels = np.eye(5)[[0, 3, 1, 4]]
    g = d.gradient_function()(Z=z, Y=labels)
    np.testing.assert_allclose(g, ref_softmax(z, 1) - labels, atol=1e-12)


# -- derivatives ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("axis", [0, 1])
def test_jvp_matches_central_differences(name, axis):
    report = verify_directional(derive(along(name, Z, axis), "Z"), seed=axis)
    assert report.ok, report


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("axis", [0, 1])
def test_gradient_of_a_weighted_sum_verifies(name, axis):
    """f = Σ C ⊙ f(Z, axis), C of f's shape: the gradient carries any cotangent back."""
    out = along(name, Z, axis)
    c = Symbol("C", out.shape)
    report = derive(call("sum", c * out), "Z").verify(seed=3)
    assert report.ok, report


@pytest.mark.parametrize("name", ["softmax", "logsumexp", "max"])
@pytest.mark.parametrize("axis", [0, 1])
def test_jacobian_in_kronecker_form_verifies(name, axis):
    report = verify_matrix(derive(along(name, Z, axis), "Z"), "jacobian")
    assert report.ok, report


@pytest.mark.parametrize("axis", [0, 1])
def test_hessian_of_logsumexp_along_an_axis_verifies(axis):
    report = verify_matrix(derive(call("sum", along("logsumexp", Z, axis)), "Z"), "hessian")
    assert report.ok, report


def _at(d, values):
    return d.gradient_function()(**values)


def test_gradients_against_hand_written_numpy():
    z, w_rows, w_cols = RNG.standard_normal((4, 5)), RNG.standard_normal(4), RNG.standard_normal(5)
    r, c = Symbol("r", Shape("m", 1)), Symbol("c", Shape("n", 1))
    # ∇ Σᵢ rᵢ lse(zᵢ) = r ⊙ softmax per row
    g = _at(derive(r.T @ along("logsumexp", Z, 1), "Z"), {"Z": z, "r": w_rows})
    np.testing.assert_allclose(g, w_rows[:, None] * ref_softmax(z, 1), rtol=1e-12)
    # ∇ Σⱼ cⱼ max(z_:j) = the one-hot of each column's max, scaled by c
    g = _at(derive(c.T @ along("max", Z, 0), "Z"), {"Z": z, "c": w_cols})
    np.testing.assert_allclose(g, ref_onehot(z, 0) * w_cols[None, :])
    g = _at(derive(r.T @ along("min", Z, 1), "Z"), {"Z": z, "r": w_rows})
    np.testing.assert_allclose(g, ref_onehot(z, 1, largest=False) * w_rows[:, None])
    # ∇ −Σ Y ⊙ log_softmax(Z, axis=1) = S ⊙ (Y𝟙)𝟙ᵀ − Y
    labels = RNG.uniform(0, 1, (4, 5))
    g = _at(derive(-call("sum", W * along("log_softmax", Z, 1)), "Z"), {"Z": z, "W": labels})
    np.testing.assert_allclose(g, ref_softmax(z, 1) * labels.sum(1)[:, None] - labels, rtol=1e-10, atol=1e-12)
    # ∇ Σ W ⊙ softmax(Z, axis=0) = S ⊙ (W − 𝟙(𝟙ᵀ(S ⊙ W)))
    s = ref_softmax(z, 0)
    g = _at(derive(call("sum", W * along("softmax", Z, 0)), "Z"), {"Z": z, "W": labels})
    np.testing.assert_allclose(g, s * (labels - (s * labels).sum(0)[None, :]), rtol=1e-10, atol=1e-12)
    # ∇ xᵀ log_softmax(y) with respect to y = x − softmax(y) Σx
    u, v = RNG.standard_normal(5), RNG.standard_normal(5)
    g = _at(derive(x.T @ call("log_softmax", y), "y"), {"x": u, "y": v})
    np.testing.assert_allclose(g, u - ref_softmax(v) * u.sum(), rtol=1e-12)
    g = _at(derive(call("max", x) - call("min", x), "x"), {"x": u})
    np.testing.assert_allclose(g, np.eye(5)[np.argmax(u)] - np.eye(5)[np.argmin(u)])


# -- ties: the kink of max and min ------------------------------------------------------------------------

@pytest.mark.parametrize("expr, tag, operand", [
    (along("max", Z, 1), ("untied", 1, 1), Z),
    (along("min", Z, 0), ("untied", 0, -1), Z),
    (call("max", x), ("untied", None, 1), x),
    (call("is_min", Z), ("untied", None, -1), Z),
])
def test_ties_are_declared_kinks_checked_at_the_point(expr, tag, operand):
    """A symbol is sampled without regard to ties, so its ties are checked like a compound
    argument's domain."""
    assert (tag, operand) in _domain_checks(expr)


def test_a_tie_or_a_near_tie_is_outside_the_domain():
    z = np.array([[1.0, 3.0, 2.0], [0.5, 0.5, -1.0]])
    assert not _in_domain(("untied", 1, 1), z)           # row 2 ties for its max
    assert _in_domain(("untied", 1, -1), z)              # no row ties for its min
    assert _in_domain(("untied", 0, 1), z)
    assert not _in_domain(("untied", None, 1), np.array([[2.0, 2.0 + MARGIN / 2]]))
    assert not _in_domain(("untied", 0, 1), np.zeros((3, 2)))
    assert _in_domain(("untied", 1, 1), np.ones((3, 1)))  # a line of one entry has nothing to tie with


def test_find_point_passes_over_tied_samples():
    expr = along("max", Z, 1)
    sampler = Sampler(expr.symbols(), expr, seed=0)
    tied = np.ones((sampler.sizes["m"], sampler.sizes["n"]))
    draws = iter([{"Z": tied}, {"Z": tied + 1e-9 * RNG.standard_normal(tied.shape)}])
    real = sampler.sample
    sampler.sample = lambda **kw: next(draws, None) or real(**kw)
    point = find_point(expr, expr.symbols(), sampler)
    gaps = np.diff(np.sort(point["Z"], axis=1)[:, -2:], axis=1)
    assert np.all(gaps > MARGIN * np.max(np.abs(point["Z"])))


def test_the_mask_is_the_derivative_of_max_and_has_none_itself():
    d = derive(call("sum", W * call("is_max", Z, params=(1,))), "Z")
    assert d.gradient == call("zeros", params=("m", "n"))
    z = np.array([[1.0, 4.0, 2.0], [3.0, -1.0, 0.0]])
    np.testing.assert_array_equal(compile_exprs([call("is_max", Z, params=(1,))], [Z])(Z=z),
                                  [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(evaluate(call("is_min", Z, params=(0,)), {"Z": z}), [[1, 0, 0], [0, 1, 1]])


# -- maximum, minimum, clip ----------------------------------------------------------------------------

@pytest.mark.parametrize("build, fn", [(maximum, np.maximum), (minimum, np.minimum)])
def test_pairwise_values_and_gradients(build, fn):
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    evaluated, emitted = _both(build(Z, W), [W, Z], {"Z": a, "W": b})
    np.testing.assert_allclose(evaluated, fn(a, b))
    np.testing.assert_allclose(emitted, fn(a, b))
    d = derive(call("sum", build(Z, W) ** 2), "Z, W")
    gz, gw = d.gradient_function()(Z=a, W=b)
    wins = (a > b) if fn is np.maximum else (a < b)
    np.testing.assert_allclose(gz, 2 * fn(a, b) * wins)
    np.testing.assert_allclose(gw, 2 * fn(a, b) * ~wins)
    assert d.verify().ok


def test_a_scalar_operand_broadcasts_and_is_differentiated_too():
    alpha = Symbol("α", Shape(1, 1))
    e = maximum(Z, alpha)
    assert e.shape == Z.shape and str(e) == "maximum(Z, α)"
    report = derive(call("sum", e * W), "Z, α").verify()
    assert report.ok, report
    assert "np.maximum(Z, 0.5)" in module_source([("f", [Z], [maximum(Z, 0.5)], "f")])


def test_pairwise_normal_forms():
    assert maximum(Z, 0) == call("relu", Z) == maximum(0, Z)
    assert maximum(Z, Z) == Z and minimum(x, x) == x
    assert clip(Z, -1, 1) == minimum(maximum(Z, -1), 1)
    with pytest.raises(ShapeMismatch, match="elementwise maximum of Z"):
        maximum(Z, x)


def test_the_kink_of_maximum_is_where_the_operands_meet():
    e = maximum(Z, W)
    assert ("nonzero", Z - W) in _domain_checks(e)
    d = derive(call("sum", e), "Z")
    sampler = Sampler(e.symbols(), e, seed=0)
    point = find_point(e, e.symbols(), sampler)
    assert np.min(np.abs(point["Z"] - point["W"])) > 0
    assert d.verify().ok


def test_clip_is_differentiated_where_it_does_not_clip():
    z = np.array([[-2.0, -0.3, 0.2], [0.9, 1.7, -0.05]])
    d = derive(call("sum", clip(Z, -0.5, 0.5) * W), "Z")
    w = RNG.standard_normal(z.shape)
    np.testing.assert_allclose(d.gradient_function()(Z=z, W=w), w * (np.abs(z) < 0.5))
    np.testing.assert_allclose(d.value_function()(Z=z, W=w), np.sum(np.clip(z, -0.5, 0.5) * w))
    assert d.verify().ok


# -- NumPy forms -------------------------------------------------------------------------------------------

def _returned(expr) -> str:
    src = module_source([("f", list(expr.symbols().values()), [expr], "f")])
    return src.rstrip().splitlines()[-1].removeprefix("    return ")


@pytest.mark.parametrize("expr, code", [
    (along("max", Z, 1), "np.max(Z, axis=1)"),
    (along("min", Z, 0), "np.min(Z, axis=0)"),
    (along("sum", Z, 1), "Z.sum(axis=1)"),
    (along("sum", Z, 0), "Z.sum(axis=0)"),
    (along("sum", Z * W, 1), "(Z * W).sum(axis=1)"),
    (along("norm", Z, 0), "np.sqrt((Z ** 2).sum(axis=0))"),
    (along("softmax", Z, 0), "_softmax_axis(Z, 0)"),
    (along("logsumexp", Z, 1), "_logsumexp_axis(Z, 1)"),
    (along("log_softmax", Z, 1), "_log_softmax_axis(Z, 1)"),
    (call("max", x), "np.max(x)"),
    (call("is_max", Z, params=(1,)), "_is_max(Z, axis=1)"),
    (minimum(x, 2.5), "np.minimum(x, 2.5)"),
    (Z @ call("ones", params=("n", "k")), "np.outer(Z.sum(axis=1), np.ones((k,)))"),
    (call("ones", params=("k", "m")) @ Z, "np.outer(np.ones((k,)), Z.sum(axis=0))"),
])
def test_numpy_forms(expr, code):
    assert _returned(expr) == code


def test_a_row_times_ones_stays_a_product():
    """A row is 1-D at run time: it has no axis 1 to sum along."""
    row = Symbol("r", Shape(1, "n"))
    product = Call(matdiff.expr.OPS["matmul"], (row, call("ones", params=("n", 1))), shape=Shape(1, 1))
    assert _returned(product) == "r @ np.ones((n,))"


# -- printers and reading back --------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, text, unicode, latex", [
    (along("softmax", Z, 1), "softmax(Z, axis=1)", "softmax(Z, axis=1)",
     r"\operatorname{softmax}\left(Z,\ \mathrm{axis}=1\right)"),
    (along("max", Z, 0), "max(Z, axis=0)", "max(Z, axis=0)", r"\max\left(Z,\ \mathrm{axis}=0\right)"),
    (call("max", x), "max(x)", "max(x)", r"\max\left(x\right)"),
    (maximum(Z, W), "maximum(Z, W)", "max(Z, W)", r"\max\left(Z, W\right)"),
    (call("is_min", x), "is_min(x)", "is_min(x)", r"\operatorname{is\_min}\left(x\right)"),
])
def test_printers(expr, text, unicode, latex):
    assert (str(expr), expr.to_unicode(), expr.to_latex()) == (text, unicode, latex)


# the mean is left out: its size n prints as the bare dim, which the reader takes for a symbol
@pytest.mark.parametrize("expr", [along(n, Z, k) for n in NAMES if n != "mean" for k in (0, 1)]
                         + [call("max", x), call("log_softmax", x), maximum(Z, W), minimum(x, 0.5),
                            call("is_max", x)], ids=str)
def test_text_reads_back_to_the_same_expression(expr):
    assert matdiff.parse(str(expr), {"Z": ("m", "n"), "W": ("m", "n"), "x": ("n",)}) == expr
