"""Indexing by constants (matdiff/ops/index.py): take reads rows and columns, scatter is its
adjoint. Each case is checked against plain NumPy indexing of the runtime arrays (vectors 1-D),
written here: its value, emitted and by the reference evaluator; its jvp and gradient by finite
differences; the adjoint test ⟨take(V), U⟩ = ⟨V, scatter(U)⟩; and the matrix rule, and the
Jacobian it builds, against the numeric Jacobian. Then the bounds, the sizes drawn for symbolic
dims, the normal forms and the printers."""

from __future__ import annotations

import numpy as np
import pytest

import matdiff
from matdiff.derivation import derive
from matdiff.emit.numpy import compile_exprs
from matdiff.evaluate import evaluate
from matdiff.expr import Call, Symbol, call
from matdiff.ops import zeros
from matdiff.ops.index import take
from matdiff.shapes import Shape
from matdiff.simplify import simplify
from matdiff.verify import Sampler, verify_directional, verify_matrix

SHAPES = {"X": (3, 4), "x": ("n",), "W": ("m", "n"), "y": (7,), "A": (3, 3)}
SIZES = {"n": 6, "m": 5}
X, x, y = Symbol("X", Shape(3, 4)), Symbol("x", Shape("n", 1)), Symbol("y", Shape(7, 1))
A = Symbol("A", Shape(3, 3))
r = Symbol("r", Shape(1, 4))        # a row: 1-D at run time, like a column
c = Symbol("c", Shape(3, 1))        # a column of an integer length

# id → (the expression: text the reader reads, or built with take; the variables; plain NumPy)
CASES = {
    "x[2]": ("x[2]", "x", lambda v: v["x"][2]),
    "x[-1]": ("x[-1]", "x", lambda v: v["x"][-1]),
    "x[1:4]": ("x[1:4]", "x", lambda v: v["x"][1:4]),
    "x[-3:]": ("x[-3:]", "x", lambda v: v["x"][-3:]),
    "x[::-1]": (take(x, slice(None, None, -1), None), "x", lambda v: v["x"][::-1]),
    "y[::2]": (take(y, slice(None, None, 2), None), "y", lambda v: v["y"][::2]),
    "y[5:1:-2]": (take(y, slice(5, 1, -2), None), "y", lambda v: v["y"][5:1:-2]),
    "X[1:3, :]": ("X[1:3, :]", "X", lambda v: v["X"][1:3, :]),
    "X[:, -1]": ("X[:, -1]", "X", lambda v: v["X"][:, -1]),
    "X[1, :]": ("X[1, :]", "X", lambda v: v["X"][1, :]),
    "X[1, 2]": ("X[1, 2]", "X", lambda v: v["X"][1, 2]),                      # a 1×1 result
    "X[::-1, 1:3]": (take(X, slice(None, None, -1), slice(1, 3)), "X", lambda v: v["X"][::-1, 1:3]),
    "X[0:3:2, -3::2]": (take(X, slice(0, 3, 2), slice(-3, None, 2)), "X", lambda v: v["X"][0:3:2, -3::2]),
    "X.T[1, :]": ("X.T[1, :]", "X", lambda v: v["X"].T[1, :]),               # indexing a transpose
    "(W @ x)[2]": ("(W @ x)[2]", "W, x", lambda v: (v["W"] @ v["x"])[2]),     # indexing an expression
    "(W @ x)[1:3]": ("(W @ x)[1:3]", "W, x", lambda v: (v["W"] @ v["x"])[1:3]),
    "r[1:3]": (take(r, None, slice(1, 3)), "r", lambda v: v["r"][1:3]),       # a row, 1-D at run time
    "r[0, 2]": (take(r, 0, 2), "r", lambda v: v["r"][2]),
    "c[0:1]": (take(c, slice(0, 1), None), "c", lambda v: v["c"][0]),        # one entry of a slice
}


def _expr(case: str):
    e = CASES[case][0]
    return matdiff.parse(e, SHAPES) if isinstance(e, str) else e


def _values(syms, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {s.name: rng.standard_normal(tuple(SIZES.get(d, d) for d in s.shape.numpy())) for s in syms}


def _symbols(e):
    return sorted(e.symbols().values(), key=lambda s: s.name)


def _takes(e):
    return [n for n in e.walk() if isinstance(n, Call) and n.op.name == "take"]


def _vec(a, shape) -> np.ndarray:
    """A runtime value (1-D for a vector) as its IR matrix, stacked column-major."""
    return np.reshape(np.reshape(np.asarray(a, dtype=float), shape), -1, order="F")


@pytest.mark.parametrize("case", CASES)
def test_value_is_numpy_indexing(case):
    e = _expr(case)
    assert _takes(e), f"{case} holds no take"
    syms = _symbols(e)
    values = _values(syms)
    want = CASES[case][2](values)
    assert np.allclose(compile_exprs([e], syms)(**values), want, rtol=0, atol=0)
    assert np.allclose(evaluate(e, values), want, rtol=0, atol=0)
    assert np.shape(evaluate(e, values)) == np.shape(want)


@pytest.mark.parametrize("case", CASES)
def test_jvp_and_gradient_match_central_differences(case):
    e, wrt = _expr(case), CASES[case][1]
    assert verify_directional(derive(e, wrt), seed=1).ok
    report = derive(call("sum", call("sin", e)), wrt).verify(seed=2)
    assert report.ok, report


@pytest.mark.parametrize("case", CASES)
def test_scatter_is_the_adjoint_of_take(case):
    """⟨take(V), U⟩ = ⟨V, scatter(U)⟩, scatter by take's own transpose rule, evaluated both by
    the reference evaluator and by the emitted code; take(scatter(U)) = U."""
    node = _takes(_expr(case))[0]
    v, u = Symbol("V", node.args[0].shape), Symbol("U", node.shape)
    read = call("take", v, params=node.params)
    back = node.op.transpose(read, 0, u)
    assert back.shape == v.shape
    assert call("take", back, params=node.params) == u
    values = _values([v, u], seed=3)
    lhs = np.sum(evaluate(read, values) * values["U"])
    for scattered in (evaluate(back, values, SIZES), compile_exprs([back], [u, v])(**values)):
        assert np.isclose(lhs, np.sum(np.asarray(scattered) * values["V"]), rtol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_matrix_rule_is_the_numeric_jacobian(case):
    """M = S_c ⊗ S_r from the op's matrix rule against NumPy indexing of the basis directions
    (take is linear: column k of the Jacobian is vec of the index of E_k); then the Jacobian
    that derive builds from it (Kronecker form for a matrix variable), emitted, against
    central differences."""
    _, wrt, ref = CASES[case]
    e = _expr(case)
    node = _takes(e)[0]
    if isinstance(node.args[0], Symbol):
        var = node.args[0]
        values = _values([var])
        m = np.atleast_2d(evaluate(node.op.matrix(node, 0), values, SIZES))
        size = int(np.prod(np.shape(values[var.name]) or (1,)))
        out_shape = tuple(SIZES.get(d, d) for d in node.shape)
        for k in range(size):
            basis = np.zeros(size)
            basis[k] = 1.0
            values[var.name] = np.reshape(basis, tuple(SIZES.get(d, d) for d in var.shape), order="F") \
                .reshape(np.shape(values[var.name]))
            assert np.array_equal(m.reshape(-1, size)[:, k], _vec(ref(values), out_shape)), (case, k)
    assert verify_matrix(derive(e, wrt), "jacobian").ok


# -- bounds ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("build, words", [
    (lambda: take(X, 3, None), ["row index 3", "X", "3 rows", "-3 to 2"]),
    (lambda: take(X, None, -5), ["column index -5", "X", "4 columns", "-4 to 3"]),
    (lambda: take(c, 3, None), ["index 3", "c", "3 entries", "-3 to 2"]),
    (lambda: take(c, None, 1), ["column index 1", "c", "1 column", "-1 to 0"]),
    (lambda: take(X, slice(3, None), None), ["slice 3:", "none of the 3 rows", "X", "-3 to 2"]),
    (lambda: take(X, None, slice(2, 1)), ["slice 2:1", "none of the 4 columns"]),
    (lambda: take(x, slice(2, 1), None), ["slice 2:1", "none of the entries of x"]),
    (lambda: take(X, slice(0, 2, 0), None), ["slice 0:2:0", "step 0"]),
    (lambda: take(X, 1.5, None), ["cannot index X by 1.5"]),
    (lambda: take(X, True, None), ["cannot index X by True"]),
])
def test_an_index_out_of_range_is_a_shape_error(build, words):
    with pytest.raises(matdiff.ShapeError) as err:
        build()
    assert isinstance(err.value, matdiff.MatdiffError)
    for w in words:
        assert w in err.value.message, (w, err.value.message)


@pytest.mark.parametrize("sel", [slice(1, None), slice(None, -1), slice(None, None, 2), slice(2, -2)])
def test_a_slice_whose_length_depends_on_a_symbolic_dim_is_refused(sel):
    with pytest.raises(matdiff.ShapeError) as err:
        take(x, sel, None)
    assert "depends on n" in err.value.message
    assert "integer" in err.value.hint


def test_the_reader_reports_a_bad_index_at_its_place():
    with pytest.raises(matdiff.ShapeError) as err:
        matdiff.parse("A[5, :] + 1", {"A": (3, 4)})
    assert "row index 5 is out of range for A, which has 3 rows (valid: -3 to 2)" in err.value.message
    with pytest.raises(matdiff.ShapeError) as err:
        matdiff.parse("x[1:]", {"x": ("n",)})
    assert "declare the size of x as an integer" in err.value.hint


# -- sizes for symbolic dims --------------------------------------------------------------------------

def test_the_sampler_draws_sizes_every_index_fits():
    e = matdiff.parse("x[5] * x[-7] + sum(W @ x) + z[0]", {"x": ("n",), "W": ("m", "n"), "z": ("k",)})
    sampler = Sampler(e.symbols(), e, seed=0)
    assert sampler.sizes["n"] >= 7 and len(set(sampler.sizes.values())) == len(sampler.sizes)
    sampler.shuffle_sizes()
    assert sampler.sizes["n"] >= 7 and len(set(sampler.sizes.values())) == len(sampler.sizes)
    assert derive(e, "x, W").verify().ok


def test_an_index_into_a_product_dim_spreads_its_need_over_the_factors():
    v = Symbol("V", Shape("n", "m"))
    e = take(call("vec", v), 20, None)
    sampler = Sampler(e.symbols(), e, seed=0)
    assert sampler.sizes["n"] * sampler.sizes["m"] >= 21
    assert derive(e * e, "V").verify().ok


def test_sizes_too_small_for_an_index_are_errors_not_other_values():
    e = matdiff.parse("x[5] + x[1:4]", {"x": ("n",)})
    with pytest.raises(matdiff.ShapeError, match="needs n ≥ 6, but n = 3"):
        evaluate(e, {"x": np.ones(3)})
    gradient = derive(call("sum", e), "x").gradient_function()
    with pytest.raises(matdiff.ShapeError, match="out of range"):
        gradient(x=np.ones(3))
    assert np.array_equal(gradient(x=np.ones(6)), [0, 1, 1, 1, 0, 3])   # x[5] is spread over 3 entries


# -- normal forms and the simplifier ------------------------------------------------------------------

def test_constructor_normal_forms():
    u = Symbol("U", Shape(2, 4))
    assert take(X, slice(0, 3), None) == X and take(X, None, slice(None, None)) == X
    assert take(x, slice(None), None) == x and take(X, slice(-3, None), slice(0, None)) == X
    assert take(x, slice(1, 2), None) == take(x, 1, None)            # a slice of one entry is its index
    assert take(x, slice(-2, -1), None) == take(x, -2, None)
    assert take(c, None, 0) == c and take(take(X, 1, 2), 0, 0) == take(X, 1, 2)   # all of a dim of 1
    assert take(take(X, slice(1, 3), None), 0, slice(1, None)) == take(X, 1, slice(1, None))
    assert take(take(y, slice(None, None, 2), None), slice(1, 3), None) == take(y, slice(2, 6, 2), None)
    assert take(take(y, slice(None, None, -1), None), slice(1, 3), None) == take(y, slice(5, 3, -1), None)
    assert take(take(x, slice(-4, None), None), slice(1, 3), None) == take(x, slice(-3, -1), None)
    assert take(take(x, slice(None, None, -1), None), 0, None).op.name == "take"
    scattered = call("scatter", u, params=((1, 3, None), None, 3, 4))
    assert take(scattered, slice(1, 3), None) == u
    assert take(zeros(Shape(3, 4)), 1, None) == zeros(Shape(1, 4))
    assert call("scatter", zeros(Shape(2, 4)), params=((1, 3, None), None, 3, 4)) == zeros(Shape(3, 4))


def test_composed_takes_read_what_the_two_read():
    values = {"y": np.arange(7.0), "x": np.arange(6.0)}
    for outer, inner, want in [
        ((slice(1, 3), None), (slice(None, None, 2), None), values["y"][::2][1:3]),
        ((slice(None, None, -1), None), (slice(1, 6), None), values["y"][1:6][::-1]),
        ((-1, None), (slice(5, 0, -2), None), values["y"][5:0:-2][-1]),
    ]:
        assert np.array_equal(evaluate(take(take(y, *inner), *outer), values), want)
    assert np.array_equal(evaluate(take(take(x, slice(-4, None), None), slice(1, 3), None), values), [3.0, 4.0])


def test_simplify_moves_a_transpose_into_the_take():
    e = take(X, 1, None).T                                   # (X[1, :])ᵀ = Xᵀ[:, 1]
    s = simplify(e)
    assert s == take(X.T, None, 1)
    values = _values([X])
    assert np.array_equal(evaluate(s, values), values["X"][1, :])
    assert simplify(take(2 * X, 1, None)) == 2 * take(X, 1, None)


def test_hessian_and_gradient_of_a_product_of_entries():
    d = derive("x[2] * x[-1]", "x", shapes={"x": ("n",)})
    values = {"x": np.arange(1.0, 7.0)}
    want = np.zeros(6)
    want[2], want[-1] = 6.0, 3.0
    assert np.array_equal(evaluate(d.gradient, values), want)
    h = np.zeros((6, 6))
    h[2, -1] = h[-1, 2] = 1.0
    assert np.array_equal(evaluate(d.hessian, values, {"n": 6}), h)
    assert verify_matrix(d, "hessian").ok
    assert any("linear" in str(step) for step in d.steps())


def test_kron_form_of_a_row_selection():
    d = derive("X[1:3, :]", "X", shapes=SHAPES)
    m = evaluate(d.kron, {"X": np.zeros((3, 4))})
    rows = np.eye(3)[1:3]
    assert np.array_equal(m, np.kron(np.eye(4), rows))           # vec(S X) = (I ⊗ S) vec X


# -- printers ----------------------------------------------------------------------------------------

W, u = Symbol("W", Shape("m", "n")), Symbol("u", Shape(2, 4))


@pytest.mark.parametrize("e, text, paper, latex, code", [
    (take(X, slice(1, 3), None), "X[1:3, :]", "X[1:3, :]", r"X[1{:}3,\, {:}]", "X[1:3, :]"),
    (take(X, None, -1), "X[:, -1]", "X[:, −1]", r"X[{:},\, -1]", "X[:, -1]"),
    (take(x, 2, None), "x[2]", "x[2]", "x[2]", "x[2]"),
    (take(r, None, slice(1, 3)), "r[1:3]", "r[1:3]", "r[1{:}3]", "r[1:3]"),
    (take(y, slice(None, None, 2), None), "y[::2]", "y[::2]", "y[{:}{:}2]", "y[::2]"),
    (take(W @ x, 2, None), "(W @ x)[2]", "(Wx)[2]", r"\left(W x\right)[2]", "(W @ x)[2]"),
    (take(X.T, 1, None), "X.T[1, :]", "Xᵀ[1, :]", r"X^\top[1,\, {:}]", "X.T[1, :]"),
    (A @ take(A, None, 1), "A @ A[:, 1]", "A A[:, 1]", r"A A[{:},\, 1]", "A @ A[:, 1]"),   # not AA[:, 1]
    (X.T @ take(X, None, 1), "X.T @ X[:, 1]", "XᵀX[:, 1]", r"X^\top X[{:},\, 1]", "X.T @ X[:, 1]"),
    (call("scatter", u, params=((1, 3, None), None, 3, 4)), "zeros(3, 4).at[1:3, :].set(u)",
     "zeros(3, 4).at[1:3, :].set(u)", r"\operatorname{zeros}(3, 4).\mathrm{at}[1{:}3,\, {:}].\mathrm{set}(u)",
     "_scatter(u, (3, 4), np.s_[1:3, :])"),
    (call("scatter", take(x, -1, None), params=(2, None, "n", 1)), "zeros(n).at[2].set(x[-1])",
     "zeros(n).at[2].set(x[−1])", r"\operatorname{zeros}(n).\mathrm{at}[2].\mathrm{set}(x[-1])", "_scatter(x[-1], (n,), np.s_[2])"),
    (call("scatter", take(x, 0, None), params=(None, 2, 1, "n")), "zeros(n).at[2].set(x[0]).T",
     "zeros(n).at[2].set(x[0])ᵀ", r"\operatorname{zeros}(n).\mathrm{at}[2].\mathrm{set}(x[0])^\top", "_scatter(x[0], (n,), np.s_[2])"),
])
def test_printed_forms(e, text, paper, latex, code):
    from matdiff.emit.numpy import module_source
    assert (str(e), e.to_unicode(), e.to_latex()) == (text, paper, latex)
    syms = _symbols(e)
    src = module_source([("f", syms, [e], "f")])
    assert src.rstrip().splitlines()[-1] == f"    return {code}"
    values = _values(syms)
    assert np.allclose(compile_exprs([e], syms)(**values), evaluate(e, values), rtol=0, atol=0)


@pytest.mark.parametrize("text", ["x[2]", "X[1:3, :]", "X[:, -1]", "(W @ x)[1:3]", "X.T[:, 1]", "2 * X[1, 2]"])
def test_text_reads_back(text):
    e = matdiff.parse(text, SHAPES)
    assert str(e) == text and matdiff.parse(str(e), SHAPES) == e
