"""Jacobians, Hessians, Kronecker forms and Hessian-vector products: each textbook form (Matrix
Cookbook, the usual ML losses) asserted structurally, by finite differences (verify_matrix) and
against a hand-written NumPy reference at a seeded random point; then hvp, property tests and the
command line."""

from __future__ import annotations

import itertools
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import matdiff
from matdiff import cli
from matdiff.emit.numpy import compile_exprs, compile_module
from matdiff.expr import call
from matdiff.shapes import dim_mul
from matdiff.verify import verify_directional, verify_matrix

# -- NumPy references ----------------------------------------------------------------------------

SIZES = (4, 3, 5, 6, 2)   # runtime sizes given to the symbolic dims, in order of first appearance


def sig(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


def vec(M):
    """Column-major vec, as in the Matrix Cookbook."""
    return np.asarray(M).reshape(-1, order="F")


def unvec(v, shape):
    return np.asarray(v).reshape(shape, order="F")


def commutation(m, n):
    """K(m, n): K vec(A) = vec(Aᵀ) for an m×n matrix A."""
    K = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            K[i * n + j, j * m + i] = 1.0
    return K


def matrix_of(linear, shape):
    """The matrix of a linear map V ↦ linear(V) on matrices of `shape`, column by column in
    column-major vec order: written straight from the map, it relies on no Kronecker identity."""
    cols = []
    for j in range(int(np.prod(shape))):
        e = np.zeros(int(np.prod(shape)))
        e[j] = 1.0
        cols.append(vec(linear(unvec(e, shape))))
    return np.stack(cols, axis=1)


inv = np.linalg.inv


def test_reference_helpers_are_right():
    """The helpers the references lean on: K vec(A) = vec(Aᵀ), vec(AXB) = (Bᵀ ⊗ A) vec X."""
    rng = np.random.default_rng(1)
    A, X, B = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal((5, 2))
    assert np.allclose(commutation(4, 5) @ vec(X), vec(X.T))
    assert np.allclose(np.kron(B.T, A) @ vec(X), vec(A @ X @ B))
    assert np.allclose(matrix_of(lambda V: A @ V @ B, X.shape), np.kron(B.T, A))


# -- the table -----------------------------------------------------------------------------------

def orders(*terms: str) -> tuple[str, ...]:
    """Every order of a sum's terms: all are acceptable textbook forms."""
    return tuple(" + ".join(p) for p in itertools.permutations(terms))


def products(*factors: str) -> tuple[str, ...]:
    """Every order of an elementwise product's factors."""
    return tuple(" * ".join(p) for p in itertools.permutations(factors))


@dataclass
class Row:
    id: str
    text: str
    wrt: str
    forms: tuple | dict                 # acceptable forms; a dict per variable / (a, b) block
    ref: Callable                       # hand-written NumPy: keyword arrays → matrix (or dict)
    layout: str = "numerator"
    assume: dict | None = None
    shapes: dict | None = None
    where: dict = field(default_factory=dict)   # abbreviations used in the forms: s → sigmoid(…)
    domain: dict = field(default_factory=dict)  # how to sample an input: posdet, positive, symmetric

    def __str__(self) -> str:
        return self.id


J = [
    Row("sigmoid layer", "sigmoid(W @ x + b)", "x", ("diag(s * (1 - s)) @ W",),
        lambda W, x, b: np.diag(sig(W @ x + b) * (1 - sig(W @ x + b))) @ W,
        where={"s": "sigmoid(W @ x + b)"}),
    Row("sigmoid layer, denominator", "sigmoid(W @ x + b)", "x", ("W.T @ diag(s * (1 - s))",),
        lambda W, x, b: W.T @ np.diag(sig(W @ x + b) * (1 - sig(W @ x + b))),
        layout="denominator", where={"s": "sigmoid(W @ x + b)"}),
    Row("softmax", "softmax(x)", "x", ("diag(s) - s @ s.T",),
        lambda x: np.diag(softmax(x)) - np.outer(softmax(x), softmax(x)), where={"s": "softmax(x)"}),
    Row("softmax layer", "softmax(W @ x)", "x", ("(diag(s) - s @ s.T) @ W",),
        lambda W, x: (np.diag(softmax(W @ x)) - np.outer(softmax(W @ x), softmax(W @ x))) @ W,
        where={"s": "softmax(W @ x)"}),
    Row("linear map", "A @ x", "x", ("A",), lambda A, x: A),
    Row("tanh layer", "tanh(W @ x + b)", "x", ("diag(1 - t ** 2) @ W",),
        lambda W, x, b: np.diag(1 - np.tanh(W @ x + b) ** 2) @ W, where={"t": "tanh(W @ x + b)"}),
    Row("exp", "exp(x)", "x", ("diag(exp(x))",), lambda x: np.diag(np.exp(x))),
    Row("log", "log(x)", "x", ("diag(1 / x)",), lambda x: np.diag(1 / x), domain={"x": "positive"}),
    Row("sin", "sin(x)", "x", ("diag(cos(x))",), lambda x: np.diag(np.cos(x))),
    Row("softplus", "softplus(x)", "x", ("diag(sigmoid(x))",), lambda x: np.diag(sig(x))),
    Row("relu layer", "relu(W @ x)", "x", ("diag(step(W @ x)) @ W",),
        lambda W, x: np.diag((W @ x > 0).astype(float)) @ W),
    Row("hadamard", "x * y", "x", ("diag(y)",), lambda x, y: np.diag(y)),
    Row("diagonal matrix times a vector", "diag(x) @ y", "x", ("diag(y)",), lambda x, y: np.diag(y)),
    Row("scaled columns", "A @ diag(exp(x)) @ A.T @ y", "x", ("A @ diag((A.T @ y) * exp(x))",
                                                           "A @ diag(exp(x) * (A.T @ y))"),
        lambda A, x, y: A @ np.diag((A.T @ y) * np.exp(x)), shapes={"A": ("m", "n")}),
    Row("quotient wrt the denominator", "x / y", "y", ("diag(-x / y ** 2)",),
        lambda x, y: np.diag(-x / y ** 2), domain={"y": "positive"}),
    Row("scalar variable", "alpha * x", "alpha", ("x",), lambda alpha, x: x.reshape(-1, 1)),
    Row("matrix of a scalar variable", "alpha * X", "alpha", ("vec(X)",), lambda alpha, X: vec(X)[:, None]),
    Row("outer product xx' wrt x", "x @ x.T", "x", orders("kron(x, eye(n))", "kron(eye(n), x)"),
        lambda x: matrix_of(lambda v: np.outer(v, x) + np.outer(x, v), x.shape)),
    Row("row of a vector: x'X wrt x", "x.T @ X", "x", ("X.T",), lambda x, X: X.T),
    Row("sum(x) X wrt x", "sum(x) * X", "x", ("vec(X) @ ones(1, n)",), lambda x, X: np.outer(vec(X), np.ones(x.size))),
    Row("scalar multiple", "alpha * x", "x", ("alpha * eye(n)",), lambda alpha, x: alpha * np.eye(x.size)),
    Row("bias", "W @ x + b", "b", ("eye(n)",), lambda W, x, b: np.eye(b.size)),
    Row("sum, a row", "sum(x)", "x", ("ones(1, n)",), lambda x: np.ones((1, x.size))),
    Row("sum, denominator: a column", "sum(x)", "x", ("ones(n, 1)",), lambda x: np.ones((x.size, 1)),
        layout="denominator"),
    Row("quadratic form: a row", "x.T @ A @ x", "x", ("x.T @ (A + A.T)",), lambda x, A: (x @ (A + A.T))[None, :]),
    Row("vector of a matrix: Wx wrt W", "W @ x", "W", ("kron(x.T, eye(n))",),
        lambda W, x: np.kron(x[None, :], np.eye(W.shape[0]))),
    Row("AXC", "A @ X @ C", "X", ("kron(C.T, A)",), lambda A, X, C: np.kron(C.T, A)),
    Row("AXC, denominator", "A @ X @ C", "X", ("kron(C, A.T)",), lambda A, X, C: np.kron(C.T, A).T,
        layout="denominator"),
    Row("AX", "A @ X", "X", ("kron(eye(k), A)",), lambda A, X: np.kron(np.eye(X.shape[1]), A)),
    Row("XA", "X @ A", "X", ("kron(A.T, eye(n))",), lambda X, A: np.kron(A.T, np.eye(X.shape[0]))),
    Row("transpose: commutation", "X.T", "X", ("commutation(n, m)",), lambda X: commutation(*X.shape)),
    Row("inverse", "inv(X)", "X", ("-kron(inv(X.T), inv(X))", "-kron(inv(X).T, inv(X))"),
        lambda X: matrix_of(lambda V: -inv(X) @ V @ inv(X), X.shape), domain={"X": "posdet"}),
    Row("X'X", "X.T @ X", "X", orders("kron(eye(m), X.T)", "kron(X.T, eye(m)) @ commutation(n, m)"),
        lambda X: matrix_of(lambda V: V.T @ X + X.T @ V, X.shape)),
    Row("hadamard of matrices", "X * Y", "X", ("diag(vec(Y))",), lambda X, Y: np.diag(vec(Y))),
    Row("exp of a matrix", "exp(X)", "X", ("diag(vec(exp(X)))",), lambda X: np.diag(vec(np.exp(X)))),
    Row("trace", "trace(X)", "X", ("vec(eye(n)).T",), lambda X: vec(np.eye(X.shape[0]))[None, :]),
    Row("sigmoid layer wrt W, b", "sigmoid(W @ x + b)", "W, b",
        {"W": ("diag(s * (1 - s)) @ kron(x.T, eye(n))",), "b": ("diag(s * (1 - s))",)},
        lambda W, x, b: {"W": np.diag(sig(W @ x + b) * (1 - sig(W @ x + b))) @ np.kron(x[None, :], np.eye(b.size)),
                         "b": np.diag(sig(W @ x + b) * (1 - sig(W @ x + b)))},
        where={"s": "sigmoid(W @ x + b)"}),
]


def _logdet_hessian(X):
    # ∇ log det X = X⁻ᵀ, D(X⁻ᵀ)[V] = −X⁻ᵀ Vᵀ X⁻ᵀ
    Xit = inv(X).T
    return matrix_of(lambda V: -Xit @ V.T @ Xit, X.shape)


def _trace_inv_hessian(X):
    # ∇ tr(X⁻¹) = −X⁻ᵀX⁻ᵀ, its derivative X⁻ᵀVᵀX⁻ᵀX⁻ᵀ + X⁻ᵀX⁻ᵀVᵀX⁻ᵀ
    Xit = inv(X).T
    return matrix_of(lambda V: Xit @ V.T @ Xit @ Xit + Xit @ Xit @ V.T @ Xit, X.shape)


def _logistic(X, w, y):
    s = sig(-y * (X @ w))
    return X.T @ np.diag(s * (1 - s) * y ** 2) @ X


H = [
    Row("logistic loss", "sum(log(1 + exp(-y * (X @ w))))", "w",
        tuple(f"X.T @ diag({p}) @ X" for p in products("s", "(1 - s)", "y ** 2")), _logistic,
        where={"s": "sigmoid(-y * (X @ w))"}),
    Row("softplus loss", "sum(softplus(X @ w))", "w", tuple(f"X.T @ diag({p}) @ X" for p in products("s", "(1 - s)")),
        lambda X, w: X.T @ np.diag(sig(X @ w) * (1 - sig(X @ w))) @ X, where={"s": "sigmoid(X @ w)"}),
    Row("least squares", "norm(A @ x - b)**2", "x", ("2 * A.T @ A",), lambda A, x, b: 2 * A.T @ A),
    Row("ridge", "norm(X @ w - y)**2 + lam * norm(w)**2", "w",
        ("2 * (X.T @ X + lam * eye(m))", "2 * X.T @ X + 2 * lam * eye(m)"),
        lambda X, w, y, lam: 2 * (X.T @ X + lam * np.eye(w.size))),
    Row("logsumexp", "logsumexp(x)", "x", ("diag(p) - p @ p.T",),
        lambda x: np.diag(softmax(x)) - np.outer(softmax(x), softmax(x)), where={"p": "softmax(x)"}),
    Row("logsumexp of a layer", "logsumexp(W @ x)", "x", ("W.T @ (diag(p) - p @ p.T) @ W",),
        lambda W, x: W.T @ (np.diag(softmax(W @ x)) - np.outer(softmax(W @ x), softmax(W @ x))) @ W,
        where={"p": "softmax(W @ x)"}),
    Row("quadratic form plus sum exp", "x.T @ A @ x + sum(exp(x))", "x", orders("A", "A.T", "diag(exp(x))"),
        lambda x, A: A + A.T + np.diag(np.exp(x))),
    Row("quadratic form, A symmetric", "x.T @ A @ x", "x", ("2 * A",), lambda x, A: 2 * A,
        assume={"A": "symmetric"}, domain={"A": "symmetric"}),
    Row("linear form", "a.T @ x", "x", ("zeros(n, n)",), lambda a, x: np.zeros((x.size, x.size))),
    Row("squared norm", "norm(x)**2", "x", ("2 * eye(n)",), lambda x: 2 * np.eye(x.size)),
    Row("norm", "norm(x)", "x", ("(eye(n) - x @ x.T / norm(x) ** 2) / norm(x)",),
        lambda x: (np.eye(x.size) - np.outer(x, x) / (x @ x)) / np.linalg.norm(x)),
    Row("sum exp(Ax)", "sum(exp(A @ x))", "x", ("A.T @ diag(exp(A @ x)) @ A",),
        lambda A, x: A.T @ np.diag(np.exp(A @ x)) @ A),
    Row("negative entropy", "sum(x * log(x))", "x", ("diag(1 / x)",), lambda x: np.diag(1 / x),
        domain={"x": "positive"}),
    Row("sum sigmoid: s'' = s(1 - s)(1 - 2s)", "sum(sigmoid(x))", "x",
        tuple(f"diag({p})" for p in products("s", "(1 - s)", "(1 - 2 * s)")),
        lambda x: np.diag(sig(x) * (1 - sig(x)) * (1 - 2 * sig(x))), where={"s": "sigmoid(x)"}),
    Row("sum tanh", "sum(tanh(x))", "x", ("diag(-2 * t * (1 - t ** 2))",),
        lambda x: np.diag(-2 * np.tanh(x) * (1 - np.tanh(x) ** 2)), where={"t": "tanh(x)"}),
    Row("tr(X'AX)", "trace(X.T @ A @ X)", "X", ("kron(eye(m), A + A.T)", "kron(eye(m), A.T + A)"),
        lambda X, A: np.kron(np.eye(X.shape[1]), A + A.T)),
    Row("|Wx - y|^2 wrt W", "norm(W @ x - y)**2", "W", ("2 * kron(x @ x.T, eye(n))",),
        lambda W, x, y: 2 * np.kron(np.outer(x, x), np.eye(W.shape[0]))),
    Row("tr(X^2)", "trace(X @ X)", "X", ("2 * commutation(n, n)",), lambda X: 2 * commutation(*X.shape)),
    Row("|X|_F^2", "norm(X)**2", "X", ("2 * kron(eye(m), eye(n))",), lambda X: 2 * np.eye(X.size)),
    Row("log det X", "logdet(X)", "X",
        ("-kron(inv(X), inv(X.T)) @ commutation(n, n)", "-commutation(n, n) @ kron(inv(X.T), inv(X))"),
        _logdet_hessian, domain={"X": "posdet"}),
    Row("det X", "det(X)", "X",
        ("det(X) * (vec(inv(X.T)) @ vec(inv(X.T)).T - kron(inv(X), inv(X.T)) @ commutation(n, n))",
         "det(X) * (vec(inv(X).T) @ vec(inv(X).T).T - kron(inv(X), inv(X).T) @ commutation(n, n))"),
        lambda X: np.linalg.det(X) * (np.outer(vec(inv(X).T), vec(inv(X).T)) + _logdet_hessian(X)),
        domain={"X": "posdet"}),
    Row("logsumexp of a matrix", "logsumexp(X)", "X", ("diag(vec(P)) - vec(P) @ vec(P).T",),
        lambda X: np.diag(vec(softmax(X))) - np.outer(vec(softmax(X)), vec(softmax(X))),
        where={"P": "softmax(X)"}),
    Row("tr(inv X)", "trace(inv(X))", "X",
        tuple(f"({s}) @ commutation(n, n)" for s in orders("kron(inv(X) @ inv(X), inv(X.T))",
                                                            "kron(inv(X), inv(X.T) @ inv(X.T))")),
        _trace_inv_hessian, domain={"X": "posdet"}),
    Row("|Wx + b - y|^2 wrt W, b", "norm(W @ x + b - y)**2", "W, b",
        {("W", "W"): ("2 * kron(x @ x.T, eye(n))",), ("W", "b"): ("2 * kron(x, eye(n))",),
         ("b", "W"): ("2 * kron(x.T, eye(n))",), ("b", "b"): ("2 * eye(n)",)},
        lambda W, x, b, y: {("W", "W"): 2 * np.kron(np.outer(x, x), np.eye(b.size)),
                            ("W", "b"): 2 * np.kron(x[:, None], np.eye(b.size)),
                            ("b", "W"): 2 * np.kron(x[None, :], np.eye(b.size)),
                            ("b", "b"): 2 * np.eye(b.size)}),
    Row("x'Ax wrt x, A", "x.T @ A @ x", "x, A",
        {("x", "x"): ("A + A.T", "A.T + A"),
         ("x", "A"): orders("kron(x.T, eye(n))", "kron(eye(n), x.T)")
         + ("kron(x.T, eye(n)) @ (kron(eye(n), eye(n)) + commutation(n, n))",),
         ("A", "x"): orders("kron(x, eye(n))", "kron(eye(n), x)"),
         ("A", "A"): ("ZERO",)},
        lambda x, A: {("x", "x"): A + A.T,
                      ("x", "A"): np.kron(x[None, :], np.eye(x.size)) + np.kron(np.eye(x.size), x[None, :]),
                      ("A", "x"): np.kron(x[:, None], np.eye(x.size)) + np.kron(np.eye(x.size), x[:, None]),
                      ("A", "A"): np.zeros((x.size ** 2, x.size ** 2))}),
    Row("alpha |x|^2 wrt alpha, x", "alpha * norm(x)**2", "alpha, x",
        {("alpha", "alpha"): ("0", "zeros(1, 1)"), ("alpha", "x"): ("2 * x.T",),
         ("x", "alpha"): ("2 * x",), ("x", "x"): ("2 * alpha * eye(n)",)},
        lambda alpha, x: {("alpha", "alpha"): np.zeros((1, 1)), ("alpha", "x"): 2 * x[None, :],
                          ("x", "alpha"): 2 * x[:, None], ("x", "x"): 2 * alpha * np.eye(x.size)}),
]

assert len(J) >= 15 and len(H) >= 15


# -- helpers -------------------------------------------------------------------------------------

def derive(row: Row):
    return matdiff.derive(row.text, row.wrt, shapes=row.shapes, assume=row.assume, layout=row.layout)


def dim_sizes(symbols) -> dict:
    dims = []
    for s in symbols.values():
        for d in s.shape:
            if isinstance(d, str) and d not in dims:
                dims.append(d)
    return {d: SIZES[i] for i, d in enumerate(dims)}


def size_of(dim, sizes) -> int:
    if isinstance(dim, int):
        return dim
    return int(np.prod([int(f) if f.isdigit() else sizes[f] for f in str(dim).split("·")]))


def point(d, domain: dict, seed: int = 0) -> tuple[dict, dict]:
    """Seeded inputs for every symbol of d (keyword names as the emitted code takes them)."""
    rng = np.random.default_rng(seed)
    sizes = dim_sizes(d.symbols)
    out = {}
    for name, s in d.symbols.items():
        shape = tuple(size_of(x, sizes) for x in s.shape.numpy())
        kind = domain.get(name)
        if kind == "posdet":
            n = shape[0]
            v = 2 * np.eye(n) + 0.5 * rng.standard_normal((n, n)) / np.sqrt(n)
            assert np.linalg.det(v) > 0
        elif kind == "positive":
            v = rng.uniform(0.5, 2.0, shape)
        elif kind == "symmetric":
            b = rng.standard_normal(shape)
            v = (b + b.T) / 2
        else:
            v = rng.standard_normal(shape)
        out[name] = float(v) if shape == () else v
    return out, sizes


def runtime(math_shape: tuple[int, int]) -> tuple:
    """How a rows×cols matrix comes back at run time: a vector (n×1 or 1×n) as a 1-D array."""
    r, c = math_shape
    if (r, c) == (1, 1):
        return ()
    if c == 1:
        return (r,)
    if r == 1:
        return (c,)
    return (r, c)


def expand(text: str, where: dict) -> str:
    for short, full in where.items():
        text = re.sub(rf"\b{re.escape(short)}\b", f"({full})", text)
    return text


def _zeros(a: str, b: str, d):
    """The zero block ∂²f/∂a∂b: zeros(size a, size b), sizes like n·n that the parser does not read."""
    size = lambda v: dim_mul(*d.variables[v].shape)
    return call("zeros", params=(size(a), size(b)))


def assert_form(actual, forms, d, where, key=None) -> None:
    shapes = {k: s.shape for k, s in d.symbols.items()}
    props = {k: sorted(s.props) for k, s in d.symbols.items() if s.props}
    wanted = [_zeros(*key, d) if f == "ZERO" else matdiff.parse(expand(f, where), shapes, props) for f in forms]
    assert any(actual == w for w in wanted), (
        f"got      {actual}\nexpected one of:\n" + "\n".join(f"         {w}" for w in wanted))


def _blocks(row: Row, d, kind: str) -> list:
    if kind == "jacobian":
        return list(d.wrt)
    return [(a, b) for a in d.wrt for b in d.wrt]


def _math_shape(d, key, kind: str, inputs: dict) -> tuple[int, int]:
    size = lambda name: int(np.size(inputs[name]))
    if kind == "jacobian":
        f = int(np.prod([size_of(x, dim_sizes(d.symbols)) for x in d.expr.shape]))
        return (f, size(key)) if d.layout == "numerator" else (size(key), f)
    a, b = key
    return (size(a), size(b))


# -- (a) the table: form, finite differences, NumPy reference ------------------------------------

CASES = [pytest.param(r, "jacobian", id="J: " + r.id) for r in J] + \
        [pytest.param(r, "hessian", id="H: " + r.id) for r in H]


@pytest.mark.parametrize("row, kind", CASES)
def test_textbook_form(row: Row, kind: str):
    d = derive(row)
    mats = d.jacobians if kind == "jacobian" else d.hessians
    if isinstance(row.forms, dict):
        assert set(row.forms) == set(mats)
        for key, forms in row.forms.items():
            assert_form(mats[key], forms, d, row.where, key)
    else:
        assert len(mats) == 1
        assert_form(next(iter(mats.values())), row.forms, d, row.where)


@pytest.mark.parametrize("row, kind", CASES)
def test_finite_differences(row: Row, kind: str):
    d = derive(row)
    report = verify_matrix(d, kind)
    assert report.ok, str(report)
    assert report.checks > 0
    if kind == "jacobian":
        assert verify_directional(d).ok


@pytest.mark.parametrize("row, kind", CASES)
def test_numpy_reference(row: Row, kind: str):
    d = derive(row)
    inputs, sizes = point(d, row.domain, seed=zlib.crc32(row.id.encode()))
    fn = d.jacobian_function() if kind == "jacobian" else d.hessian_function()
    got = fn(**inputs)
    keys = _blocks(row, d, kind)
    got = dict(zip(keys, got if len(keys) > 1 else (got,), strict=True))
    want = row.ref(**inputs)
    want = want if isinstance(want, dict) else {keys[0]: want}
    mats = d.jacobians if kind == "jacobian" else d.hessians
    for key in keys:
        shape = _math_shape(d, key, kind, inputs)
        # the symbolic shape of the result, and the runtime shape of the emitted array
        assert (size_of(mats[key].shape.rows, sizes), size_of(mats[key].shape.cols, sizes)) == shape, key
        g = np.asarray(got[key], dtype=float)
        assert g.shape == runtime(shape), (key, g.shape, shape)
        w = np.asarray(want[key], dtype=float).reshape(shape)
        assert np.allclose(g.reshape(shape), w, rtol=1e-8, atol=1e-10), (key, g, w)
    if kind == "hessian":   # ∇²f is symmetric: each diagonal block, and H_ab = H_baᵀ
        for a, b in keys:
            hab = np.asarray(got[(a, b)], dtype=float).reshape(_math_shape(d, (a, b), kind, inputs))
            hba = np.asarray(got[(b, a)], dtype=float).reshape(_math_shape(d, (b, a), kind, inputs))
            assert np.allclose(hab, hba.T, rtol=1e-8, atol=1e-10), (a, b)


# -- Kronecker forms act on column-major vec -----------------------------------------------------

KRON = [   # (text, wrt, domain, the map V ↦ DF[V] in NumPy)
    ("inv(X)", "X", {"X": "posdet"}, lambda X, V: -inv(X) @ V @ inv(X)),
    ("X.T", "X", {}, lambda X, V: V.T),
    ("X.T @ X", "X", {}, lambda X, V: V.T @ X + X.T @ V),
    ("A @ X @ C", "X", {}, lambda A, X, C, V: A @ V @ C),
    ("W @ x", "W", {}, lambda W, x, V: V @ x),
    ("exp(X)", "X", {}, lambda X, V: np.exp(X) * V),
]


@pytest.mark.parametrize("text, wrt, domain, dmap", KRON, ids=[k[0] for k in KRON])
def test_kron_applies_to_column_major_vec(text, wrt, domain, dmap):
    """vec DF[V] = K vec V with vec = reshape(-1, order="F"), for K from .kron, .jacobian and
    the emitted `kron` function."""
    d = matdiff.derive(text, wrt)
    assert d.kron == d.jacobian
    x, _ = point(d, domain, seed=3)
    V = np.random.default_rng(4).standard_normal(np.shape(x[wrt]))
    ns = compile_module(d.to_numpy("kron"))
    K = ns["kron"](**x)
    assert np.allclose(K @ vec(V), vec(dmap(**x, V=V)), rtol=1e-9, atol=1e-11)
    assert np.allclose(d.jacobian_function()(**x) @ vec(V), vec(dmap(**x, V=V)), rtol=1e-9, atol=1e-11)


def test_kron_axc_is_cookbook():
    d = matdiff.derive("A @ X @ C", "X")
    x, _ = point(d, {}, seed=5)
    K = compile_module(d.to_numpy("kron"))["kron"](**x)
    assert np.allclose(K, np.kron(x["C"].T, x["A"]))


def test_kron_of_scalar_function_is_the_hessian():
    d = matdiff.derive("trace(X.T @ A @ X)", "X")
    assert d.kron == d.hessian
    x, _ = point(d, {}, seed=6)
    K = compile_module(d.to_numpy("kron"))["kron"](**x)
    assert np.allclose(K, np.kron(np.eye(x["X"].shape[1]), x["A"] + x["A"].T))


def test_layout_transposes_the_jacobian():
    num = matdiff.derive("tanh(W @ x + b)", "x")
    den = matdiff.derive("tanh(W @ x + b)", "x", layout="denominator")
    x, _ = point(num, {}, seed=7)
    a, b = num.jacobian_function()(**x), den.jacobian_function()(**x)
    assert a.shape == (x["W"].shape[0], x["x"].size) and np.allclose(a, b.T)
    assert den.jacobian.shape == num.jacobian.shape.T


def test_unknown_layout_is_a_matdiff_error():
    with pytest.raises(matdiff.DerivationError):
        matdiff.derive("A @ x", "x", layout="row")


@pytest.mark.parametrize("text, wrt", [("x @ x.T", "x"), ("x.T @ X", "x"), ("diag(x) @ y", "x"),
                                       ("sum(x) * X", "x"), ("x.T @ A @ x * y", "x")])
def test_jacobian_outside_the_rules_is_verified_or_a_matdiff_error(text, wrt):
    """A map the matrix rules do not cover may be refused (a MatdiffError), never answered wrongly."""
    d = matdiff.derive(text, wrt)
    try:
        d.jacobian
    except matdiff.MatdiffError:
        return
    assert verify_matrix(d, "jacobian").ok


# -- (b) Hessian-vector products -----------------------------------------------------------------

def _row(rows, ident):
    return next(r for r in rows if r.id == ident)


def _hvp_function(d, via: str):
    if via == "to_numpy":
        return compile_module(d.to_numpy("hvp"))["hvp"]
    params = list(d.symbols.values()) + list(d.directions.values())
    return compile_exprs([d.hvps[w] for w in d.wrt], params)


HVP_VECTOR = ["logistic loss", "least squares", "quadratic form plus sum exp", "logsumexp", "ridge",
              "sum exp(Ax)", "norm"]


@pytest.mark.parametrize("via", ["to_numpy", "compile_exprs"])
@pytest.mark.parametrize("ident", HVP_VECTOR)
def test_hvp_is_hessian_times_v(ident, via):
    row = _row(H, ident)
    d = derive(row)
    x, _ = point(d, row.domain, seed=11)
    (w,) = d.wrt
    v = np.random.default_rng(12).standard_normal(np.shape(x[w]))
    hv = _hvp_function(d, via)(**x, **{d.directions[w].name: v})
    assert np.shape(hv) == np.shape(x[w])
    assert np.allclose(hv, d.hessian_function()(**x) @ v, rtol=1e-9, atol=1e-11)
    assert np.allclose(hv, row.ref(**x) @ v, rtol=1e-8, atol=1e-10)


HVP_MATRIX = ["tr(X'AX)", "|Wx - y|^2 wrt W", "log det X", "tr(X^2)", "|X|_F^2", "tr(inv X)"]


@pytest.mark.parametrize("ident", HVP_MATRIX)
def test_hvp_of_matrix_variable_is_kron_on_vec(ident):
    row = _row(H, ident)
    d = derive(row)
    x, _ = point(d, row.domain, seed=13)
    (w,) = d.wrt
    V = np.random.default_rng(14).standard_normal(np.shape(x[w]))
    hv = _hvp_function(d, "to_numpy")(**x, **{d.directions[w].name: V})
    assert np.shape(hv) == np.shape(V)
    K = d.hessian_function()(**x)
    assert np.allclose(hv, unvec(K @ vec(V), V.shape), rtol=1e-9, atol=1e-11)
    assert np.allclose(hv, unvec(row.ref(**x) @ vec(V), V.shape), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("ident", HVP_VECTOR + HVP_MATRIX)
def test_hvp_is_the_derivative_of_the_gradient(ident):
    """D(∇f)[V] against central differences of the emitted gradient, independent of the Hessian."""
    row = _row(H, ident)
    d = derive(row)
    x, _ = point(d, row.domain, seed=15)
    (w,) = d.wrt
    V = np.random.default_rng(16).standard_normal(np.shape(x[w]))
    hv = _hvp_function(d, "to_numpy")(**x, **{d.directions[w].name: V})
    g = d.gradient_function()
    h = 1e-5
    fd = (g(**{**x, w: x[w] + h * V}) - g(**{**x, w: x[w] - h * V})) / (2 * h)
    assert np.allclose(hv, fd, rtol=1e-5, atol=1e-6 * max(1.0, float(np.max(np.abs(fd)))))


def test_hvp_several_variables_sums_the_blocks():
    """hvps[a] = Σ_b H_ab vec(V_b), reshaped back column-major."""
    row = _row(H, "|Wx + b - y|^2 wrt W, b")
    d = derive(row)
    x, _ = point(d, {}, seed=17)
    rng = np.random.default_rng(18)
    dirs = {w: rng.standard_normal(np.shape(x[w])) for w in d.wrt}
    out = _hvp_function(d, "to_numpy")(**x, **{d.directions[w].name: dirs[w] for w in d.wrt})
    blocks = dict(zip([(a, b) for a in d.wrt for b in d.wrt], d.hessian_function()(**x), strict=True))
    ref = row.ref(**x)
    for w, got in zip(d.wrt, out, strict=True):
        shape = np.shape(x[w])
        for source in (blocks, ref):
            total = sum(np.asarray(source[(w, b)]).reshape(np.size(x[w]), np.size(x[b])) @ vec(dirs[b])
                        for b in d.wrt)
            assert np.allclose(got, unvec(total, shape), rtol=1e-9, atol=1e-11), w


# -- (c) property tests --------------------------------------------------------------------------

PSHAPES = {"x": ("n",), "c": ("n",), "A": ("n", "n"), "W": ("n", "n"), "B": ("m", "n"), "alpha": ()}
ELEMENTWISE = ["sin", "cos", "tanh", "sigmoid", "softplus"]


@st.composite
def vexpr(draw, depth: int = 0):
    """A vector (n) expression of x built from Wx, elementwise functions, +, ⊙, softmax, scalars."""
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(["x", "A @ x", "W @ x + c", "c * x"]))
    kind = draw(st.sampled_from(["matmul", "fn", "exp", "add", "mul", "scale", "softmax", "affine"]))
    e = draw(vexpr(depth + 1))
    if kind == "matmul":
        return f"{draw(st.sampled_from(['A', 'W']))} @ ({e})"
    if kind == "fn":
        return f"{draw(st.sampled_from(ELEMENTWISE))}({e})"
    if kind == "exp":   # exp of something bounded, so the values stay checkable by differences
        return f"exp(tanh({e}))"
    if kind in ("add", "mul"):
        op = " + " if kind == "add" else " * "
        return f"({e}){op}({draw(vexpr(depth + 1))})"
    if kind == "scale":
        return f"{draw(st.sampled_from(['alpha', '2.5', '-0.5']))} * ({e})"
    if kind == "softmax":
        return f"softmax({e})"
    return f"({e}) - c"


@st.composite
def vector_function(draw):
    e = draw(vexpr())
    return f"B @ ({e})" if draw(st.booleans()) else e


@st.composite
def scalar_function(draw):
    e = draw(vexpr(1))
    kind = draw(st.sampled_from(["sum", "norm2", "logsumexp", "quad", "inner", "sumfn", "scaled", "plus"]))
    if kind == "sum":
        return f"sum({e})"
    if kind == "norm2":
        return f"norm({e})**2"
    if kind == "logsumexp":
        return f"logsumexp({e})"
    if kind == "quad":
        return f"({e}).T @ A @ ({e})"
    if kind == "inner":
        return f"c.T @ ({e})"
    if kind == "sumfn":
        return f"sum({draw(st.sampled_from(ELEMENTWISE))}({e}))"
    if kind == "scaled":
        return f"alpha * logsumexp({e})"
    return f"sum({e}) + norm({draw(vexpr(1))})**2"


SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@SETTINGS
@given(text=vector_function(), layout=st.sampled_from(["numerator", "denominator"]))
def test_random_jacobians_are_verified(text, layout):
    note(text)
    d = matdiff.derive(text, "x", shapes=PSHAPES, layout=layout)
    note(str(d.jacobian))
    rows = "m" if text.startswith("B @") else "n"
    assert tuple(d.jacobian.shape) == ((rows, "n") if layout == "numerator" else ("n", rows))
    report = verify_matrix(d, "jacobian")
    assert report.ok, str(report)


@SETTINGS
@given(text=scalar_function())
def test_random_hessians_are_symmetric_and_verified(text):
    note(text)
    d = matdiff.derive(text, "x", shapes=PSHAPES)
    note(str(d.hessian))
    assert tuple(d.hessian.shape) == ("n", "n")
    x, _ = point(d, {}, seed=0)
    Hx = d.hessian_function()(**x)
    scale = max(1.0, float(np.max(np.abs(Hx))))
    assert np.allclose(Hx, Hx.T, rtol=0, atol=1e-10 * scale)
    v = np.random.default_rng(1).standard_normal(x["x"].shape)
    hv = compile_module(d.to_numpy("hvp"))["hvp"](**x, v=v)
    assert np.allclose(hv, Hx @ v, rtol=1e-9, atol=1e-10 * scale)
    report = verify_matrix(d, "hessian")
    assert report.ok, str(report)


# -- (d) the command line ------------------------------------------------------------------------

def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_jacobian_verify_labels_layout(capsys):
    code, out, err = run(capsys, "derive", "sigmoid(W @ x + b)", "wrt", "x", "--jacobian", "--verify")
    assert code == 0, err
    assert "numerator layout" in out
    assert "diag(sigmoid(W @ x + b) * (1 - sigmoid(W @ x + b))) @ W" in out
    assert "verify: ok" in out


def test_cli_jacobian_denominator(capsys):
    code, out, err = run(capsys, "derive", "sigmoid(W @ x + b)", "wrt", "x", "--jacobian",
                         "--layout", "denominator", "--verify")
    assert code == 0, err
    assert "denominator layout" in out and "numerator layout" not in out
    assert "W.T @ diag(sigmoid(W @ x + b) * (1 - sigmoid(W @ x + b)))" in out


@pytest.mark.parametrize("argv", [
    ["alpha * x", "wrt", "alpha", "--jacobian"],                         # J is n×1
    ["sum(x)", "wrt", "x", "--jacobian", "--layout", "denominator"],     # J = 𝟙, n×1
    ["x.T @ A @ x", "wrt", "x", "--jacobian", "--layout", "denominator"],
])
def test_cli_verifies_column_shaped_jacobians(capsys, argv):
    """A right Jacobian that is a column at run time (1-D) passes --verify."""
    code, out, err = run(capsys, "derive", *argv, "--verify")
    assert code == 0, out + err
    assert "verify: ok" in out


def test_cli_hessian(capsys):
    code, out, err = run(capsys, "derive", "x.T @ A @ x + sum(exp(x))", "wrt", "x", "--hessian", "--verify")
    assert code == 0, err
    assert "diag(exp(x)) + A + A.T" in out or "A + A.T + diag(exp(x))" in out
    assert "Hessian-vector product" in out and "verify: ok" in out


def test_cli_hessian_of_a_vector_function_is_an_error(capsys):
    code, out, err = run(capsys, "derive", "sigmoid(W @ x + b)", "wrt", "x", "--hessian")
    assert code == 1 and "not a scalar" in err


def test_cli_kron(capsys):
    code, out, err = run(capsys, "derive", "A @ X @ C", "wrt", "X", "--kron", "--verify")
    assert code == 0, err
    assert "kron(C.T, A)" in out and "column-major" in out and "verify: ok" in out


@pytest.mark.parametrize("argv, key, expected", [
    (["sigmoid(W @ x + b)", "wrt", "x", "--jacobian"], "jacobian",
     "diag(sigmoid(W @ x + b) * (1 - sigmoid(W @ x + b))) @ W"),
    (["sigmoid(W @ x + b)", "wrt", "x", "--jacobian", "--layout", "denominator"], "jacobian",
     "W.T @ diag(sigmoid(W @ x + b) * (1 - sigmoid(W @ x + b)))"),
    (["norm(A @ x - b)**2", "wrt", "x", "--hessian"], "hessian", "2 * A.T @ A"),
    (["A @ X @ C", "wrt", "X", "--kron"], "kron", "kron(C.T, A)"),
])
def test_cli_json(capsys, argv, key, expected):
    code, out, err = run(capsys, "derive", *argv, "--format", "json", "--verify")
    assert code == 0, err
    data = json.loads(out)
    assert key in data and expected in [m["expr"] for m in data[key].values()]
    assert data["layout"] == ("denominator" if "denominator" in argv else "numerator")
    assert data["verify"]["ok"] is True


@pytest.mark.parametrize("argv, fname", [
    (["sigmoid(W @ x + b)", "wrt", "x", "--jacobian"], "jacobian"),
    (["x.T @ A @ x + sum(exp(x))", "wrt", "x", "--hessian"], "hessian"),
    (["A @ X @ C", "wrt", "X", "--kron"], "kron"),
])
def test_cli_numpy_source_compiles(capsys, argv, fname):
    code, out, err = run(capsys, "derive", *argv, "--format", "numpy")
    assert code == 0, err
    assert f"def {fname}(" in out
    ns: dict = {}
    exec(compile(out, "<cli>", "exec"), ns)
    assert callable(ns[fname]) and callable(ns["value"])
    if fname == "jacobian":   # the printed code computes the Jacobian
        rng = np.random.default_rng(0)
        W, x, b = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(3)
        s = sig(W @ x + b)
        assert np.allclose(ns["jacobian"](W=W, x=x, b=b), np.diag(s * (1 - s)) @ W)


@pytest.mark.parametrize("text, wrt, kind", [
    ("norm(u.T)", "u", "hessian"),                       # a sum over a row
    ("diag(X)", "X", "jacobian"),                        # diag(X) = Sᵀ vec X
    ("diag(x)", "x", "jacobian"),                        # vec diag(u) = S u
    ("vec(X) * y", "X", "jacobian"),
    ("trace(diag(x) @ A @ diag(x))", "x", "hessian"),    # a diag between two factors
    ("kron(x, y)", "x", "jacobian"),                     # u ⊗ b = (I ⊗ b) u
    ("kron(x, y)", "y", "jacobian"),                     # vec(A ⊗ u) = (vec A ⊗ I) u
    ("kron(A, x)", "x", "jacobian"),
    ("sum(kron(A, x) ** 2)", "x", "hessian"),
    ("sum(kron(x, y) * kron(x, y))", "x", "hessian"),
])
def test_matrices_of_maps_through_diag_vec_and_kron(text, wrt, kind):
    from matdiff.verify import verify_matrix
    d = matdiff.derive(text, wrt)
    getattr(d, kind)
    report = verify_matrix(d, kind)
    assert report.ok, str(report)
