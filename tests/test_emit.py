"""Emitted NumPy code: solve/slogdet/broadcasting/outer/CSE in the source, numerical stability, shape checks, valid modules."""

from __future__ import annotations

import ast
import math
import inspect
import warnings

import numpy as np
import pytest

import matdiff
from matdiff import ShapeError

VEC = {"b": ("n",), "c": ("n",), "u": ("m",), "x": ("n",), "y": ("n",), "v": ("n",)}
RNG = np.random.default_rng(1234)


def _functions(src: str) -> dict[str, str]:
    """The code of each top-level function of an emitted module, by name, without its docstring."""
    out = {}
    for f in ast.parse(src).body:
        if isinstance(f, ast.FunctionDef):
            body = f.body[1:] if ast.get_docstring(f) is not None else f.body
            out[f.name] = "\n".join(ast.unparse(stmt) for stmt in body)
    return out


def _gradient_source(text, wrt, shapes=None, assume=None) -> str:
    return _functions(matdiff.derive(text, wrt, shapes=shapes, assume=assume).to_numpy())["gradient"]


def _value_source(text, wrt, shapes=None) -> str:
    return _functions(matdiff.derive(text, wrt, shapes=shapes).to_numpy())["value"]


def _well_conditioned(n):
    return np.eye(n) * 3 + RNG.standard_normal((n, n))


def _strict():
    """Overflow, division by zero and invalid operations raise; underflow to 0 is the right answer."""
    return np.errstate(over="raise", divide="raise", invalid="raise")


# -- inverses that are only applied become solves -------------------------------------------------

@pytest.mark.parametrize("text, wrt", [
    ("b.T @ inv(A) @ b", "b"),
    ("b.T @ inv(A) @ c", "A"),
    ("b.T @ inv(A) @ c", "c"),
    ("sum(inv(A) @ b)", "b"),
    ("sum(inv(A) @ b)", "A"),
    ("x.T @ inv(A) @ x", "x"),
])
def test_applied_inverse_is_a_solve(text, wrt):
    src = _gradient_source(text, wrt, shapes={"A": ("n", "n"), **VEC})
    assert "np.linalg.solve(" in src, src
    assert "np.linalg.inv(" not in src, f"inverse formed where it is only applied:\n{src}"


def test_applied_inverse_in_value_is_a_solve():
    src = _value_source("b.T @ inv(A) @ c", "b", shapes={"A": ("n", "n"), **VEC})
    assert "np.linalg.solve(" in src and "np.linalg.inv(" not in src, src


def test_solve_gradients_are_right():
    n = 5
    A, b, c = _well_conditioned(n), RNG.standard_normal(n), RNG.standard_normal(n)
    Ai = np.linalg.inv(A)
    shapes = {"A": ("n", "n"), **VEC}
    gb = matdiff.derive("b.T @ inv(A) @ b", "b", shapes=shapes).gradient_function()(A=A, b=b)
    np.testing.assert_allclose(gb, (Ai + Ai.T) @ b, rtol=1e-10)
    gA = matdiff.derive("b.T @ inv(A) @ c", "A", shapes=shapes).gradient_function()(A=A, b=b, c=c)
    np.testing.assert_allclose(gA, -np.outer(Ai.T @ b, Ai @ c), rtol=1e-10)


# -- log-determinants ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["logdet(X)", "log(det(X))", "logdet(X) + trace(X)"])
def test_logdet_uses_slogdet(text):
    src = _value_source(text, "X")
    assert "slogdet" in src, src
    assert "np.linalg.det(" not in src and "np.log(" not in src, src


def test_logdet_value_does_not_overflow_where_det_does():
    # det(10 I₄₀₀) = 10⁴⁰⁰ overflows float64; log det = 400 log 10 does not
    n = 400
    f = matdiff.derive("logdet(X)", "X").value_function()
    with _strict():
        assert f(X=10 * np.eye(n)) == pytest.approx(n * np.log(10), rel=1e-12)


# -- diag(u) @ W is row scaling --------------------------------------------------------------------

DIAG = {"u": ("m",), "W": ("m", "n"), "x": ("n",), "v": ("n",)}


@pytest.mark.parametrize("text, wrt", [
    ("sum(diag(u) @ W @ x)", "W"),
    ("sum(diag(u) @ W @ x)", "x"),
    ("sum(diag(u) @ W)", "W"),
    ("sum(W @ diag(v))", "W"),
    ("trace(diag(u) @ W @ W.T)", "W"),
    ("sum(sigmoid(diag(u) @ W @ x))", "W"),
])
def test_diag_product_is_broadcast(text, wrt):
    d = matdiff.derive(text, wrt, shapes=DIAG)
    funcs = _functions(d.to_numpy())
    for name in ("value", "gradient"):
        assert "np.diag(" not in funcs[name], f"{name} builds a diagonal matrix:\n{funcs[name]}"


@pytest.mark.parametrize("text", ["sum(diag(u) @ W @ x)", "sum(diag(u) @ W)"])
def test_gradient_wrt_diag_vector_builds_no_square_matrix(text):
    """∇_u sum(diag(u) W x) = W x: no m×m matrix (np.diag of an outer product or of a product) is needed."""
    src = _gradient_source(text, "u", shapes=DIAG)
    assert "np.diag(" not in src, f"the gradient materialises an m×m matrix to take its diagonal:\n{src}"


def test_diag_gradients_are_right():
    m, n = 4, 3
    u, W, x = RNG.standard_normal(m), RNG.standard_normal((m, n)), RNG.standard_normal(n)
    d = matdiff.derive("sum(diag(u) @ W @ x)", "W, u", shapes=DIAG)
    gW, gu = d.gradient_function()(u=u, W=W, x=x)
    np.testing.assert_allclose(gW, np.outer(u, x), rtol=1e-12)
    np.testing.assert_allclose(gu, W @ x, rtol=1e-12)
    assert d.value_function()(u=u, W=W, x=x) == pytest.approx(np.sum(np.diag(u) @ W @ x), rel=1e-12)


# -- outer products ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, wrt", [
    ("norm(W @ x - y)**2", "W"),
    ("sum(sigmoid(W @ x + b))", "W"),
    ("b.T @ W @ x", "W"),
])
def test_column_times_row_is_outer(text, wrt):
    src = _gradient_source(text, wrt)
    assert "np.outer(" in src, src


def test_outer_gradient_is_right():
    m, n = 4, 3
    W, x, y = RNG.standard_normal((m, n)), RNG.standard_normal(n), RNG.standard_normal(m)
    g = matdiff.derive("norm(W @ x - y)**2", "W").gradient_function()(W=W, x=x, y=y)
    np.testing.assert_allclose(g, 2 * np.outer(W @ x - y, x), rtol=1e-12)


# -- shared forward values are computed once --------------------------------------------------------

@pytest.mark.parametrize("text, fn", [
    ("sum(sigmoid(W @ x + b))", "np.logaddexp(0, -"),    # σ(z) = exp(−logaddexp(0, −z)); σ(−z) apart
    ("sum(tanh(W @ x + b))", "np.tanh"),
    ("sum(exp(W @ x + b))", "np.exp"),
])
def test_forward_value_is_computed_once(text, fn):
    src = _gradient_source(text, "W, b")
    assert src.count(fn if fn.endswith("-") else fn + "(") == 1, src
    assert src.count("W @ x") == 1, src


def test_two_variable_gradient_is_right():
    m, n = 4, 3
    W, x, b = RNG.standard_normal((m, n)), RNG.standard_normal(n), RNG.standard_normal(m)
    gW, gb = matdiff.derive("sum(sigmoid(W @ x + b))", "W, b").gradient_function()(W=W, x=x, b=b)
    s = 1 / (1 + np.exp(-(W @ x + b)))
    np.testing.assert_allclose(gb, s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(gW, np.outer(s * (1 - s), x), rtol=1e-12)


# -- numerical stability at |z| = 1000 --------------------------------------------------------------

Z = np.array([1000.0, -1000.0, 0.0])
A3 = np.array([1.0, 2.0, 3.0])


def _softmax_ref(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


@pytest.mark.parametrize("text, arrays, expected", [
    ("sum(sigmoid(x))", {"x": Z}, [0.0, 0.0, 0.25]),
    ("sum(softplus(x))", {"x": Z}, [1.0, 0.0, 0.5]),
    ("sum(log(1 + exp(x)))", {"x": Z}, [1.0, 0.0, 0.5]),
    ("logsumexp(x)", {"x": Z}, [1.0, 0.0, 0.0]),
    ("logsumexp(x)", {"x": np.array([1000.0, 1000.0])}, [0.5, 0.5]),
    # softmax s = (½, ½, 0): ∇ aᵀs = s ⊙ (a − aᵀs)
    ("a.T @ softmax(x)", {"x": np.array([1000.0, 1000.0, -1000.0]), "a": A3},
     [0.5 * (1 - 1.5), 0.5 * (2 - 1.5), 0.0]),
    ("a.T @ softmax(x)", {"x": Z, "a": A3}, [0.0, 0.0, 0.0]),
])
def test_gradient_is_stable_at_large_inputs(text, arrays, expected):
    g = matdiff.derive(text, "x").gradient_function()
    with warnings.catch_warnings(), _strict():
        warnings.simplefilter("error")
        out = g(**arrays)
    assert np.all(np.isfinite(out)), out
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_logistic_loss_gradient_is_stable_at_large_margins():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([1.0, -1.0, 1.0])
    w = np.array([1000.0, -1000.0])           # margins y ⊙ Xw = (1000, 1000, 0)
    g = matdiff.derive("sum(log(1 + exp(-y * (X @ w))))", "w").gradient_function()
    with warnings.catch_warnings(), _strict():
        warnings.simplefilter("error")
        out = g(X=X, y=y, w=w)
    # −Xᵀ(σ(−margins) ⊙ y) with σ(−margins) = (0, 0, ½)
    np.testing.assert_allclose(out, -X.T @ (np.array([0.0, 0.0, 0.5]) * y), atol=1e-12)


@pytest.mark.parametrize("text, expected", [
    ("sum(sigmoid(x))", 1.5),
    ("sum(softplus(x))", 1000.0 + np.log(2)),
    ("logsumexp(x)", 1000.0),
    ("sum(softmax(x))", 1.0),
    ("sum(log(1 + exp(x)))", 1000.0 + np.log(2)),
])
def test_value_is_stable_at_large_inputs(text, expected):
    ns = {}
    exec(matdiff.derive(text, "x").to_numpy(), ns)
    with warnings.catch_warnings(), _strict():
        warnings.simplefilter("error")
        out = ns["value"](x=Z)
    assert out == pytest.approx(expected, rel=1e-12)


# -- the module: imports, validity, names -------------------------------------------------------

MODULES = [
    ("x.T @ A @ x", "x", None),
    ("logsumexp(W @ x)", "W", None),
    ("a.T @ softmax(x)", "x", None),
    ("logdet(X) - trace(S @ X)", "X", None),
    ("sum(sigmoid(W @ x + b))", "W, b", None),
    ("lambda * norm(x)**2 + sum(inv(A) @ x)", "x, lambda", {"lambda": ()}),
]


@pytest.mark.parametrize("text, wrt, shapes", MODULES)
def test_module_imports_numpy_only(text, wrt, shapes):
    src = matdiff.derive(text, wrt, shapes=shapes).to_numpy()
    imports = [n for n in ast.walk(ast.parse(src)) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [ast.unparse(n) for n in imports] == ["import numpy as np"], src
    assert "scipy" not in src and "matdiff" not in src, src


@pytest.mark.parametrize("text, wrt, shapes", MODULES)
def test_module_compiles_and_defines_value_and_gradient(text, wrt, shapes):
    d = matdiff.derive(text, wrt, shapes=shapes)
    src = d.to_numpy()
    ns: dict = {}
    exec(compile(src, "<emitted>", "exec"), ns)        # its own `import numpy as np`
    assert callable(ns["value"]) and callable(ns["gradient"])
    params = list(inspect.signature(ns["gradient"]).parameters.values())
    assert all(p.kind is p.KEYWORD_ONLY for p in params)
    assert list(inspect.signature(ns["value"]).parameters) == [p.name for p in params]
    # the module's functions agree with the compiled gradient function on random well-posed inputs
    arrays = _inputs(d)
    names = [p.name for p in params]
    assert sorted(arrays) == sorted(names)
    got = ns["gradient"](**arrays)
    want = d.gradient_function()(**arrays)
    for a, b in zip(got if len(d.wrt) > 1 else (got,), want if len(d.wrt) > 1 else (want,), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_keyword_parameter_names_are_python_names():
    src = matdiff.derive("lambda * norm(x)**2", "lambda", shapes={"lambda": ()}).to_numpy()
    assert "lambda_" in src
    compile(src, "<emitted>", "exec")


def test_custom_function_name():
    src = matdiff.derive("x.T @ A @ x", "x").to_numpy(name="grad_quadratic")
    assert set(_functions(src)) == {"value", "grad_quadratic"}


def _inputs(d, size=4):
    """Well-posed random arrays (SPD squares, positive entries) for every symbol, by Python name."""
    out = {}
    for name, s in d.symbols.items():
        shape = tuple(size for _ in s.shape.numpy())
        if len(shape) == 2:
            b = RNG.standard_normal(shape)
            a = b @ b.T / size + np.eye(size)
        else:
            a = RNG.uniform(0.5, 2.0, shape)
        out[name + "_" if name == "lambda" else name] = float(a) if shape == () else a
    return out


# -- gradient functions: shapes in and out ------------------------------------------------------

@pytest.mark.parametrize("arrays, words", [
    ({"x": np.ones((3, 1)), "A": np.eye(3)}, "1-D"),              # a column as a 2-D array
    ({"x": np.ones(4), "A": np.eye(3)}, "n"),                     # dims disagree
    ({"x": np.ones(3), "A": np.ones(3)}, "A"),                    # a vector for a matrix
    ({"x": np.ones(3)}, "missing A"),
    ({"x": np.ones(3), "A": np.eye(3), "B": np.eye(3)}, "unexpected B"),
    ({"x": np.ones(3), "A": np.ones((3, 4))}, "n"),               # not square
])
def test_gradient_function_rejects_wrong_shapes(arrays, words):
    g = matdiff.derive("x.T @ A @ x", "x").gradient_function()
    with pytest.raises(ShapeError) as err:
        g(**arrays)
    assert words in str(err.value)


@pytest.mark.parametrize("text, wrt, shapes", [
    ("x.T @ A @ x", "x", None),
    ("x.T @ A @ x", "A", None),
    ("norm(W @ x - y)**2", "W", None),
    ("norm(W @ x - y)**2", "x", None),
    ("sum(sigmoid(W @ x + b))", "W, b", None),
    ("alpha * sum(x)", "alpha", None),
    ("sum(diag(u) @ W @ x)", "u", DIAG),
])
def test_gradient_has_the_variables_shape(text, wrt, shapes):
    d = matdiff.derive(text, wrt, shapes=shapes)
    sizes: dict = {}
    dims = iter([3, 4, 5, 6])
    arrays = {}
    for name, s in d.symbols.items():
        shape = tuple(sizes.setdefault(dim, next(dims)) if isinstance(dim, str) else dim
                      for dim in s.shape.numpy())
        arrays[name] = RNG.standard_normal(shape) if shape else 0.7
    out = d.gradient_function()(**arrays)
    out = out if len(d.wrt) > 1 else (out,)
    assert len(out) == len(d.wrt)
    for name, g in zip(d.wrt, out, strict=True):
        assert np.shape(g) == np.shape(arrays[name]), f"∇_{name} {text}: {np.shape(g)}"
        assert np.all(np.isfinite(g))


# -- a diagonal plus a matrix: one n×n array, the diagonal added in place ---------------------------

def _hessian_module(text, shapes=None, assume=None):
    d = matdiff.derive(text, "x", shapes=shapes, assume=assume)
    src = d.to_numpy("hessian")
    namespace: dict = {}
    exec(compile(src, "<hessian>", "exec"), namespace)
    return src, namespace["hessian"]


@pytest.mark.parametrize("text, reference", [
    ("logsumexp(x)", lambda x, A: (lambda p: np.diag(p) - np.outer(p, p))(np.exp(x) / np.exp(x).sum())),
    ("x.T @ A @ x + sum(exp(x))", lambda x, A: np.diag(np.exp(x)) + A + A.T),
    ("sum(exp(x)) - 3 * x.T @ A @ x", lambda x, A: np.diag(np.exp(x)) - 3 * (A + A.T)),
])
def test_diagonal_plus_matrix_forms_one_array(text, reference):
    src, hessian = _hessian_module(text, {"x": ("n",), "A": ("n", "n")})
    body = _functions(src)["hessian"]
    assert "np.diag(" not in body and "diag_indices_from" in body, body
    x, A = RNG.standard_normal(5), RNG.standard_normal((5, 5))
    kwargs = {"x": x, "A": A} if "A" in text else {"x": x}
    np.testing.assert_allclose(hessian(**kwargs), reference(x, A), rtol=1e-12, atol=1e-12)


def test_diagonal_added_in_place_leaves_the_inputs_alone():
    """diag(exp(x)) + A: A is an input, so the sum is a copy of it, not A itself."""
    src, hessian = _hessian_module("sum(exp(x)) + x.T @ A @ x / 2", {"x": ("n",), "A": ("n", "n")},
                                   {"A": "symmetric"})
    assert "np.array(A, dtype=float)" in src
    x, A = RNG.standard_normal(4), RNG.standard_normal((4, 4))
    A = A + A.T
    before = A.copy()
    hessian(x=x, A=A)
    np.testing.assert_array_equal(A, before)


def test_diagonal_added_in_place_accepts_integer_inputs():
    src, hessian = _hessian_module("x.T @ A @ x + sum(exp(x))", {"x": ("n",), "A": ("n", "n")})
    x, A = RNG.standard_normal(3), np.arange(9).reshape(3, 3)
    np.testing.assert_allclose(hessian(x=x, A=A), np.diag(np.exp(x)) + A + A.T, rtol=1e-12)


@pytest.mark.parametrize("text, wrt", [("sum(log(1 + exp(-y * (X @ w))))", "w"), ("sum(sigmoid(-x))", "x"),
                                       ("sum(sigmoid(-2 * x) * y)", "x")])
def test_sigmoid_of_a_negation_has_no_double_minus(text, wrt):
    d = matdiff.derive(text, wrt)
    src = d.to_numpy()
    assert "-(-" not in src and "- -" not in src, src
    assert d.verify().ok


def test_diagonal_plus_a_broadcast_scalar_is_emitted_as_a_sum():
    """diag(v) + c with c a scalar: there is no matrix to add the diagonal to in place."""
    x = matdiff.parse("x", {"x": ("n",)})
    c = matdiff.parse("c", {"c": ()})
    expr = matdiff.expr.call("add", matdiff.expr.call("diag", x), c)
    from matdiff.emit.numpy import compile_exprs
    v = RNG.standard_normal(3)
    out = compile_exprs([expr], [x, c])(x=v, c=2.0)   # one output: the array itself
    np.testing.assert_allclose(out, np.diag(v) + 2.0)


def test_non_finite_constants_are_numpy_names():
    """1e308 * 10 * x, folded to ∞ · x by simplification, runs as np.inf * x."""
    from matdiff.emit.numpy import compile_exprs
    from matdiff.expr import Const, call
    x = matdiff.parse("x", {"x": ("n",)})
    values = compile_exprs([call("mul", Const(float("inf")), x), call("mul", Const(float("-inf")), x)], [x])
    a, b = values(x=np.ones(2))
    assert np.all(a == np.inf) and np.all(b == -np.inf)


# -- numerics of the emitted code, in the tails ------------------------------------------------------

def test_sigmoid_derivative_keeps_its_value_in_the_tails():
    """σ′ = σ(1 − σ): 1 − σ(z) is written σ(−z), which does not round to 0 past z ≈ 36."""
    d = matdiff.derive("sigmoid(z)", "z", shapes={"z": ()})
    g = d.gradient_function()
    for z in (0.5, 36.0, 40.0, -40.0, 300.0):
        exact = math.exp(-abs(z)) / (1 + math.exp(-abs(z))) ** 2
        assert math.isclose(g(z=z), exact, rel_tol=1e-12), z


def test_log_sigmoid_does_not_underflow():
    """log σ(z) = −logaddexp(0, −z): finite where σ(z) underflows to 0."""
    d = matdiff.derive("sum(log(sigmoid(X @ w)))", "w")
    X, w = np.array([[1000.0], [-1000.0], [40.0]]), np.array([1.0])
    value = d.value_function()(X=X, w=w)
    assert math.isclose(value, -1000.0 - math.log1p(math.exp(-40.0)), rel_tol=1e-12)
    assert np.allclose(d.gradient_function()(X=X, w=w), [-1000.0 + 40.0 / (1 + math.exp(40.0))], rtol=1e-12)


def test_checked_functions_keep_float32_and_refuse_what_has_no_answer():
    """float32 in, float32 out; a NaN input or a singular matrix met on the way is a DomainError,
    never a silent NaN or a LinAlgError from NumPy."""
    from matdiff import DomainError
    g = matdiff.derive("x.T @ A @ x", "x").gradient_function()
    assert g(x=np.ones(3, dtype=np.float32), A=np.eye(3, dtype=np.float32)).dtype == np.float32
    assert g(x=np.ones(3, dtype=int), A=np.eye(3)).dtype == np.float64
    with pytest.raises(DomainError, match="NaN"):
        g(x=np.array([1.0, np.nan, 2.0]), A=np.eye(3))
    with pytest.raises(DomainError, match="singular|does not exist"):
        matdiff.derive("det(x @ x.T)", "x").gradient_function()(x=np.array([1.0, 2.0]))
    with pytest.raises(DomainError):
        matdiff.derive("sum(y) / (alpha - alpha)", "y").gradient_function()(y=np.ones(3), alpha=1.0)
