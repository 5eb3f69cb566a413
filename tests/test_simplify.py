"""The simplifier: each rule's identity on examples, and on random expressions the simplified
form has the same value and shape as the original."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import matdiff
from matdiff.emit.numpy import compile_exprs
from matdiff.simplify import simplify

SHAPES = {"A": ("n", "n"), "B": ("n", "n"), "S": ("n", "n"), "W": ("m", "n"), "x": ("n",),
          "y": ("n",), "z": ("m",), "a": (), "b": ()}
ASSUME = {"S": "symmetric"}

EXAMPLES = [
    ("(A @ B).T", "B.T @ A.T"),
    ("A.T.T", "A"),
    ("S.T", "S"),
    ("inv(A).T", "inv(A.T)"),
    ("inv(A.T).T", "inv(A)"),
    ("x + x", "2 * x"),
    ("2 * x - 2 * x", "zeros(n, 1)"),
    ("x * x", "x ** 2"),
    ("(a * x) / a", "x"),
    ("A @ x + A.T @ x", "(A + A.T) @ x"),
    ("S @ x + S.T @ x", "2 * S @ x"),
    ("W @ A + W @ B", "W @ (A + B)"),
    ("A @ eye(n)", "A"),
    ("inv(A) @ A @ x", "x"),
    ("log(1 + exp(x))", "softplus(x)"),
    ("log(exp(x))", "x"),
    ("trace(A + B)", "trace(A) + trace(B)"),
    ("diag(ones(n))", "eye(n)"),
    ("diag(x @ y.T)", "x * y"),
    ("x * ones(n)", "x"),
    ("2 / 4 * x", "0.5 * x"),
    ("x ** 1", "x"),
    ("1 * (x - 0)", "x"),
    ("y + a * ones(n)", "y + a"),
    ("sum(-2 * x * y)", "-2 * (x.T @ y)"),
    ("sum(exp(x) * y)", "y.T @ exp(x)"),
    ("trace(-a * A)", "-a * trace(A)"),
    ("(y.T @ x) * ones(n) + A @ x", "y.T @ x + A @ x"),
]


def test_broadcast_scalar_is_not_factored_with_a_matrix_term():
    """y.T @ x + A @ x: the scalar yᵀx is broadcast, so x is not a common right factor."""
    e = matdiff.parse("(y.T @ x) * ones(n) + A @ x", SHAPES)
    got = simplify(e)
    _same_value(e, got)


@pytest.mark.parametrize("text, expected", EXAMPLES)
def test_rule_examples(text, expected):
    got = simplify(matdiff.parse(text, SHAPES, ASSUME))
    want = matdiff.parse(expected, SHAPES, ASSUME)
    assert got == want, f"{text}: got {got}, want {want}"
    assert got.shape == want.shape


VECTOR_ATOMS = ["x", "y", "A @ x", "A.T @ y", "W.T @ z", "S @ x", "exp(x)", "ones(n)", "a * x"]
MATRIX_ATOMS = ["A", "B", "S", "A.T", "inv(B @ B.T + eye(n))", "eye(n)", "x @ y.T", "W.T @ W"]


def _combine(children, kind):
    def build(draw_pair):
        op, (l, r) = draw_pair
        if op == "@" and kind == "matrix":
            return f"({l}) @ ({r})"
        return f"({l}) {op} ({r})"
    return st.tuples(st.sampled_from(["+", "-", "*"] + (["@"] if kind == "matrix" else [])),
                     st.tuples(children, children)).map(build)


vectors = st.recursive(st.sampled_from(VECTOR_ATOMS), lambda c: _combine(c, "vector"), max_leaves=6)
matrices = st.recursive(st.sampled_from(MATRIX_ATOMS), lambda c: _combine(c, "matrix"), max_leaves=6)
expressions = st.one_of(
    vectors,
    matrices,
    st.tuples(matrices, vectors).map(lambda mv: f"({mv[0]}) @ ({mv[1]})"),
    st.tuples(vectors, matrices, vectors).map(lambda t: f"({t[0]}).T @ ({t[1]}) @ ({t[2]})"),
    matrices.map(lambda m: f"trace({m}) + sum(({m}).T)"),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, st.integers(0, 2**16))
def test_simplify_keeps_the_value(text, seed):
    e = matdiff.parse(text, SHAPES, ASSUME)
    s = simplify(e)
    assert s.shape == e.shape
    assume("n" in {d for v in e.symbols().values() for d in v.shape})   # the size of eye(n) is read off an input
    _same_value(e, s, seed, text)


def _same_value(e, s, seed=0, text=""):
    syms = sorted(e.symbols().values(), key=lambda v: v.name)
    rng = np.random.default_rng(seed)
    sizes = {"n": 3, "m": 4}
    values = {}
    for v in syms:
        shape = tuple(sizes.get(d, d) for d in v.shape.numpy())
        x = rng.standard_normal(shape)
        if "symmetric" in v.props:
            x = (x + x.T) / 2
        values[v.name] = float(x) if shape == () else x
    before = np.asarray(compile_exprs([e], syms)(**values))
    after = np.asarray(compile_exprs([s], syms)(**values))
    assert before.shape == after.shape or after.shape == () and before.size == 1
    np.testing.assert_allclose(after, np.broadcast_to(before, after.shape) if before.shape != after.shape else before,
                               rtol=1e-9, atol=1e-9, err_msg=f"{text or e} → {s}")
