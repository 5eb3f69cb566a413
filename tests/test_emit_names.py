"""Names in the emitted NumPy code: a symbol or dim named like something the code uses (np, a
temporary, a helper, a builtin, a Python keyword, a dim of the same name) still gives the value
of the expression as read, checked against the plain evaluator."""

from __future__ import annotations

import numpy as np
import pytest

import matdiff
from matdiff.emit.numpy import compile_exprs, py_name
from matdiff.evaluate import evaluate
from matdiff.expr import Symbol, substitute

RNG = np.random.default_rng(7)

# logsumexp's gradient calls the _softmax helper, A @ x becomes the temporary prod1, trace(eye(n))
# binds the dim n at run time, and the Hessian adds softmax to a diagonal in place (total1, float)
TEXT = "logsumexp((A @ x) * q) + sum((A @ x) * (A @ x)) * sum(q) + sum(x) * trace(eye(n))"
SHAPES = {"A": ("n", "n"), "x": ("n",), "q": ("n",)}


def _values(symbols, sizes: dict) -> dict:
    """Random inputs by symbol name, in the runtime form (vectors 1-D)."""
    out = {}
    for s in symbols.values():
        dims = tuple(sizes[d] if isinstance(d, str) else d for d in s.shape.numpy())
        out[s.name] = RNG.standard_normal(dims)
    return out


def _check(d, values: dict) -> None:
    """value, gradient and (for one variable) Hessian from the emitted code agree with the plain
    evaluator of the expression as read and of the derived expressions."""
    by_keyword = {py_name(k): v for k, v in values.items()}
    np.testing.assert_allclose(d.value_function()(**by_keyword), evaluate(d.expr, values), rtol=1e-10)
    grads = d.gradient_function()(**by_keyword)
    grads = grads if len(d.wrt) > 1 else (grads,)
    for w, g in zip(d.wrt, grads, strict=True):
        np.testing.assert_allclose(g, evaluate(d.gradients[w], values), rtol=1e-10)
    if len(d.wrt) == 1:
        w = d.wrt[0]
        np.testing.assert_allclose(d.hessian_function()(**by_keyword), evaluate(d.hessians[(w, w)], values),
                                   rtol=1e-10)


@pytest.mark.parametrize("name", [
    "np", "prod1", "total1", "softmax1", "_softmax", "_logsumexp", "_commutation",
    "sum", "abs", "max", "float", "range", "arrays", "np_", "n", "n_",
    "__x__", "__debug__", "__import__", "__builtins__", "lambda", "in", "is", "True",
    "ℓ",    # NFKC-normalised to l in source: it cannot be a parameter and still be passed as ℓ=
    "x'",   # not an identifier at all
])
def test_a_symbol_may_be_named_like_anything_the_code_uses(name):
    q = matdiff.parse("q", SHAPES)
    expr = substitute(matdiff.parse(TEXT, SHAPES), {q: Symbol(name, q.shape)})
    d = matdiff.derive(expr, "x")
    assert name in d.symbols
    _check(d, _values(d.symbols, {"n": 3}))


def test_names_that_clash_with_each_other_stay_apart():
    """Symbols np, arrays (the name of the ** catch-all) and np_ (the local np would get), and a
    dim named arrays too, in one function."""
    shapes = {"a": ("arrays",), "b": ("arrays",), "c": ("arrays",)}
    text = "sum(exp(a) * b * c) * trace(eye(arrays))"
    a, b, c = (matdiff.parse(n, shapes) for n in "abc")
    renamed = {a: Symbol("np", a.shape), b: Symbol("arrays", b.shape), c: Symbol("np_", c.shape)}
    d = matdiff.derive(substitute(matdiff.parse(text, shapes), renamed), "np, arrays, np_")
    _check(d, _values(d.symbols, {"arrays": 3}))


@pytest.mark.parametrize("dim", ["np", "float", "prod1", "q", "arrays", "lambda", "in", "range"])
def test_a_dim_may_be_named_like_anything_the_code_uses(dim):
    shapes = {k: tuple(dim if s == "n" else s for s in v) for k, v in SHAPES.items()}
    d = matdiff.derive(TEXT.replace("eye(n)", f"eye({dim})"), "x", shapes=shapes)
    _check(d, _values(d.symbols, {dim: 4}))


def test_a_symbol_named_np_is_an_array_and_np_still_numpy():
    d = matdiff.derive("sum(exp(np * x))", wrt="x", shapes={"np": ("n",), "x": ("n",)})
    p, x = RNG.standard_normal(3), RNG.standard_normal(3)
    np.testing.assert_allclose(d.value_function()(np=p, x=x), np.sum(np.exp(p * x)))
    np.testing.assert_allclose(d.gradient_function()(np=p, x=x), np.exp(p * x) * p)


def test_a_symbol_and_a_dim_of_the_same_name_keep_apart():
    """k the undeclared vector and k the length of x: sum(I x) · sum(k) has gradient sum(k) 𝟙."""
    d = matdiff.derive("sum(eye(k) @ x) * sum(k)", wrt="x")
    np.testing.assert_allclose(d.gradient_function()(k=np.full(4, 5.0), x=np.zeros(3)), [20.0] * 3)
    d = matdiff.derive("sum(eye(n) @ x) * sum(n)", wrt="x", shapes={"x": ("n",), "n": ("n",)})
    np.testing.assert_allclose(d.gradient_function()(n=np.full(3, 5.0), x=np.ones(3)), [15.0] * 3)


def test_dims_named_np_and_float_do_not_hide_numpy_in_kronecker_forms():
    """X is np×float: D(X A)[V] = V A is vec'd as (Aᵀ ⊗ I_np), and Xᵀ needs the commutation matrix
    of both dims, all at run time."""
    d = matdiff.derive("X @ A", "X", shapes={"X": ("np", "float"), "A": ("float", "range")})
    x, a = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    np.testing.assert_allclose(d.jacobian_function()(X=x, A=a), np.kron(a.T, np.eye(2)))
    d = matdiff.derive("X.T", "X", shapes={"X": ("np", "float")})
    jac = d.jacobian_function()(X=x)
    np.testing.assert_allclose(jac @ x.reshape(-1, order="F"), x.T.reshape(-1, order="F"))


def test_a_symbol_named_like_a_helper_does_not_hide_it():
    """c Xᵀ with the scalar c called _commutation, the helper its Jacobian calls."""
    shapes = {"c": (), "X": ("n", "m")}
    c = matdiff.parse("c", shapes)
    d = matdiff.derive(substitute(matdiff.parse("c * X.T", shapes), {c: Symbol("_commutation", c.shape)}), "X")
    x = RNG.standard_normal((2, 3))
    jac = d.jacobian_function()(_commutation=2.0, X=x)
    np.testing.assert_allclose(jac @ x.reshape(-1, order="F"), 2 * x.T.reshape(-1, order="F"))


def test_the_keyword_of_a_renamed_symbol_is_unchanged():
    """np is still passed as np=, lambda as lambda_= (a Python keyword cannot be passed as itself)."""
    lam, p = matdiff.parse("lambda", {"lambda": ()}), matdiff.parse("np", {"np": ()})
    values = compile_exprs([matdiff.expr.call("mul", lam, p)], [lam, p])
    assert values(lambda_=2.0, np=3.0) == 6.0
    with pytest.raises(TypeError):
        values(np=3.0)   # lambda_ missing


def test_two_symbols_passed_by_the_same_keyword_are_an_error():
    a, b = Symbol("lambda", matdiff.Shape(1, 1)), Symbol("lambda_", matdiff.Shape(1, 1))
    with pytest.raises(matdiff.DerivationError, match="lambda_="):
        compile_exprs([matdiff.expr.call("mul", a, b)], [a, b])


def test_a_size_no_input_has_is_passed_as_a_number():
    """tr(Iₘ)·a: m is read off no input, so the emitted functions take it as m=, the checked
    wrapper insists on a positive integer, and verify() samples it like any other size."""
    import numpy as np
    import pytest

    import matdiff
    from matdiff import ShapeError

    d = matdiff.derive("trace(eye(m)) * sum(x) + sum(eye(m) @ ones(m, 1)) * a", "x, a", shapes={"x": ("n",), "a": ()})
    grad, value = d.gradient_function(), d.value_function()
    assert grad.sizes == ("m",) and "m" in value.sizes
    x = np.arange(3.0)
    assert value(x=x, a=2.0, m=4) == 4 * 3 + 4 * 2
    gx, ga = grad(x=x, a=2.0, m=4)
    assert np.allclose(gx, 4) and ga == 4
    with pytest.raises(ShapeError, match="sizes m"):
        value(x=x, a=2.0)
    with pytest.raises(ShapeError, match="positive integer"):
        value(x=x, a=2.0, m=2.5)
    assert d.verify().ok


def test_a_free_size_that_names_an_input_is_refused_clearly():
    import pytest

    import matdiff
    from matdiff import MatdiffError

    d = matdiff.derive("trace(eye(m)) * sum(x) + sum(m)", "x", shapes={"x": ("n",), "m": ("n",)})
    with pytest.raises(MatdiffError, match="rename"):
        d.gradient_function()
