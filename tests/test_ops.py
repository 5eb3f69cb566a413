"""One row per op: its jvp against central differences, and for linear ops the adjoint test
⟨L(V), U⟩ = ⟨V, Lᵀ(U)⟩ of its transpose rule."""

import numpy as np
import pytest

import matdiff
from matdiff.derivation import derive
from matdiff.emit.numpy import compile_exprs
from matdiff.expr import OPS, Call, Symbol
from matdiff.shapes import Shape
from matdiff.verify import verify_directional

# op name -> (expression, variables, assumptions)
ROWS = {
    "add": ("A + B", "A,B", {}),
    "mul": ("A * B", "A,B", {}),
    "div": ("A / B", "A,B", {"B": "positive"}),
    "power": ("B ** 3", "B", {}),
    "matmul": ("A @ C", "A,C", {}),
    "transpose": ("A.T", "A", {}),
    "inv": ("inv(S)", "S", {"S": "spd"}),
    "det": ("det(S)", "S", {"S": "spd"}),
    "logdet": ("logdet(S)", "S", {"S": "spd"}),
    "trace": ("trace(S)", "S", {}),
    "diag": ("diag(x)", "x", {}),
    "diagonal": ("diag(S)", "S", {}),
    "sum": ("sum(A)", "A", {}),
    "norm": ("norm(A)", "A", {}),
    "logsumexp": ("logsumexp(x)", "x", {}),
    "softmax": ("softmax(x)", "x", {}),
    "log_softmax": ("log_softmax(x)", "x", {}),
    "max": ("max(A)", "A", {}),
    "min": ("min(A)", "A", {}),
    "is_max": ("is_max(A)", "A", {}),
    "is_min": ("is_min(A)", "A", {}),
    "max_along": ("max(A, axis=1)", "A", {}),
    "min_along": ("min(A, axis=0)", "A", {}),
    "logsumexp_along": ("logsumexp(A, axis=1)", "A", {}),
    "softmax_along": ("softmax(A, axis=0)", "A", {}),
    "log_softmax_along": ("log_softmax(A, axis=1)", "A", {}),
    "maximum": ("maximum(A, B)", "A,B", {}),
    "minimum": ("minimum(A, B)", "A,B", {}),
    "exp": ("exp(A)", "A", {}),
    "log": ("log(B)", "B", {"B": "positive"}),
    "sqrt": ("sqrt(B)", "B", {"B": "positive"}),
    "sin": ("sin(A)", "A", {}),
    "cos": ("cos(A)", "A", {}),
    "tanh": ("tanh(A)", "A", {}),
    "sigmoid": ("sigmoid(A)", "A", {}),
    "softplus": ("softplus(A)", "A", {}),
    "log1p": ("log1p(B)", "B", {"B": "positive"}),
    "expm1": ("expm1(A)", "A", {}),
    "mean": ("mean(A)", "A", {}),
    "relu": ("relu(A)", "A", {}),
    "abs": ("abs(A)", "A", {}),
    "step": ("step(A)", "A", {}),
    "sign": ("sign(A)", "A", {}),
    "eye": ("S + eye(3)", "S", {}),
    "zeros": ("A + zeros(3, 4)", "A", {}),
    "ones": ("A * ones(3, 4)", "A", {}),
    "kron": ("kron(A, C)", "A,C", {}),
    "vec": ("vec(A)", "A", {}),
    "commutation": ("commutation(3, 4) @ vec(A)", "A", {}),
    "broadcast": ("A + a", "a", {}),
    "blockdot": ("blockdot(G, C)", "G,C", {}),
    "blocksum": ("blocksum(A, G)", "A,G", {}),
    "take": ("A[1:3, :]", "A", {}),
}
# unvec and scatter are never read (their dims are no arguments); their rows are built in Python
SHAPES = {"A": (3, 4), "B": (3, 4), "C": (4, 2), "S": (3, 3), "x": (3,), "a": (), "G": (12, 8)}


def test_every_op_has_a_row():
    # neg builds a product with −1 and square the power x⊙²; size (a dim as a number) is never
    # read, only derived: its row is test_size_is_the_dim_as_a_number
    assert set(OPS) - {"neg", "square", "size", "unvec", "scatter"} == set(ROWS)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_numeric_definition_agrees_with_the_emitted_form(name):
    """Each op is written twice, as its plain numeric definition (the reference evaluator's) and
    as its NumPy form (the emitter's); the two must agree."""
    from matdiff.evaluate import evaluate
    text, _, assume = ROWS[name]
    expr = matdiff.parse(text, SHAPES, assume)
    syms = sorted(expr.symbols().values(), key=lambda s: s.name)
    rng = np.random.default_rng(3)
    values = {s.name: rng.uniform(0.5, 1.5, s.shape.numpy()) if s.name in ("B", "S") else
              rng.standard_normal(s.shape.numpy()) for s in syms}
    if "S" in values:
        values["S"] = values["S"] @ values["S"].T + np.eye(3)
    emitted = compile_exprs([expr], syms)(**values)
    assert np.allclose(evaluate(expr, values), emitted, rtol=1e-12, atol=1e-12)


def test_unvec_is_the_adjoint_of_vec():
    """unvec(v, m, n) reshapes column-major, so unvec(vec(X)) = X, and ⟨vec X, v⟩ = ⟨X, unvec v⟩."""
    from matdiff.evaluate import evaluate
    from matdiff.expr import call
    X, v = Symbol("X", Shape(3, 4)), Symbol("v", Shape(12, 1))
    rng = np.random.default_rng(2)
    values = {"X": rng.standard_normal((3, 4)), "v": rng.standard_normal(12)}
    u = call("unvec", v, params=(3, 4))
    assert np.allclose(evaluate(call("unvec", call("vec", X), params=(3, 4)), values), values["X"])
    assert np.allclose(compile_exprs([u], [v])(v=values["v"]), evaluate(u, values))
    lhs = float(np.sum(evaluate(call("vec", X), values) * values["v"]))
    assert np.isclose(lhs, float(np.sum(values["X"] * evaluate(u, values))))
    d = derive(call("sum", u * u), "v")
    assert d.verify().ok


def test_scatter_is_the_adjoint_of_take():
    """scatter(U) puts U at the positions take reads: take(scatter(U)) = U, ⟨X[r, c], U⟩ =
    ⟨X, scatter(U)⟩, and its jvp and matrix rule (tests/test_index.py has the rest)."""
    from matdiff.derivation import jvp
    from matdiff.evaluate import evaluate
    from matdiff.expr import call
    X, U = Symbol("X", Shape(3, 4)), Symbol("U", Shape(2, 4))
    rng = np.random.default_rng(2)
    values = {"X": rng.standard_normal((3, 4)), "U": rng.standard_normal((2, 4))}
    s = call("scatter", U, params=((1, 3, None), None, 3, 4))
    assert call("take", s, params=((1, 3, None), None)) == U
    assert np.allclose(compile_exprs([s], [U])(U=values["U"]), evaluate(s, values))
    assert np.isclose(float(np.sum(values["X"][1:3] * values["U"])), float(np.sum(values["X"] * evaluate(s, values))))
    d = derive(call("sum", s * s * X), "U")
    assert d.verify().ok
    m = evaluate(s.op.matrix(s, 0), values)
    for k in range(8):
        e = np.zeros(8)
        e[k] = 1.0
        values["dU"] = e.reshape((2, 4), order="F")
        column = evaluate(jvp(s, {"U": Symbol("dU", U.shape)}), values).reshape(-1, order="F")
        assert np.allclose(m[:, k], column)


def test_size_is_the_dim_as_a_number():
    from matdiff.evaluate import evaluate
    from matdiff.ops import size
    x = Symbol("x", Shape("n", 1))
    e = size("n") * matdiff.parse("sum(x)", {"x": ("n",)})
    values = {"x": np.arange(5.0)}
    assert evaluate(e, values) == 5 * 10
    assert compile_exprs([e], [x])(**values) == 5 * 10
    assert size(4) == matdiff.expr.Const(4)
    assert derive(e, "x").jacobian is not None


@pytest.mark.parametrize("name", sorted(ROWS))
def test_jvp_matches_central_differences(name):
    text, wrt, assume = ROWS[name]
    d = derive(text, wrt, shapes=SHAPES, assume=assume)
    assert any(isinstance(n, Call) and n.op.name == name for n in matdiff.parse(text, SHAPES, assume).walk())
    report = verify_directional(d, seed=1)
    assert report.ok, f"{name}: {report}"


LINEAR = sorted(n for n, op in OPS.items() if op.transpose is not None and n not in ("unvec", "scatter"))   # own tests


@pytest.mark.parametrize("name", LINEAR)
def test_transpose_rule_is_the_adjoint(name):
    """⟨L(V), U⟩ = ⟨V, Lᵀ(U)⟩ with L the op in one argument, the others fixed."""
    from matdiff.derivation import transpose

    text, wrt, assume = ROWS[name]
    expr = matdiff.parse(text, SHAPES, assume)
    node = next(n for n in expr.walk() if isinstance(n, Call) and n.op.name == name)
    var = next(a for a in node.args if isinstance(a, Symbol))
    U = Symbol("U", node.shape)
    direction = Symbol("V", var.shape)
    linear = matdiff.derivation.jvp(node, {var.name: direction})
    inner = matdiff.parse("sum(L * U)", {"L": node.shape, "U": node.shape})
    pairing = matdiff.expr.substitute(inner, {Symbol("L", node.shape): linear})
    ct = transpose(pairing, {var.name: direction})[var.name]
    rng = np.random.default_rng(0)
    syms = sorted(set(expr.symbols().values()) | {U, direction}, key=lambda s: s.name)
    values = {}
    for s in syms:
        shape = tuple(d for d in s.shape.numpy())
        values[s.name] = rng.uniform(0.5, 1.5, shape) if s.name == "B" else rng.standard_normal(shape)
    lhs, rhs_ct = compile_exprs([pairing, ct], syms)(**values)
    rhs = float(np.sum(np.asarray(rhs_ct) * values["V"]))
    assert np.isclose(lhs, rhs, rtol=1e-10), (name, lhs, rhs)


# -- the matrix rule: vec f(…, U, …) = M vec U, each side of each linear op ---------------------------

# beyond ROWS: the cases where an op's matrix rule takes another branch
MATRIX_CASES = [
    ("a * A", {}), ("A * a", {}), ("A / a", {}), ("x.T", {}), ("A @ C @ D", {}), ("x.T @ A @ y", {}),
    ("kron(x, y.T)", {}), ("kron(A, x)", {}), ("kron(x, A)", {}), ("mean(x)", {}), ("sum(x)", {}),
    ("a + A", {}), ("vec(A)", {}), ("A.T @ x", {}),
]
MATRIX_SHAPES = {**SHAPES, "D": (2, 5), "y": (4,)}


def _linear_nodes():
    out = []
    for text, assume in [ROWS[n][::2] for n in sorted(ROWS)] + MATRIX_CASES:
        expr = matdiff.parse(text, MATRIX_SHAPES, assume)
        for node in expr.walk():
            if isinstance(node, Call) and node.op.matrix is not None:
                out += [pytest.param(node, i, id=f"{text}:{i}") for i, a in enumerate(node.args)
                        if isinstance(a, Symbol) and node.op.is_linear_in([i])]
    return out


def _vec(a) -> np.ndarray:
    return np.reshape(np.asarray(a, dtype=float), (-1,), order="F")


@pytest.mark.parametrize("node, i", _linear_nodes())
def test_matrix_rule_is_the_jvp_on_basis_directions(node, i):
    """M from the op's matrix rule, evaluated, against the jvp of the op in argument i applied
    to each basis direction E_k: column k of M is vec DF[E_k]."""
    from matdiff.derivation import jvp
    from matdiff.evaluate import evaluate
    var = node.args[i]
    direction = Symbol("dU", var.shape)
    linear = jvp(node, {var.name: direction})
    m = node.op.matrix(node, i)
    rng = np.random.default_rng(1)
    values = {s.name: rng.uniform(0.5, 1.5, s.shape.numpy()) for s in node.symbols().values()}
    size = var.shape.rows * var.shape.cols
    if m is None or m.shape.is_scalar:   # M = I, or c·I
        got = np.eye(size) * (1.0 if m is None else float(evaluate(m, values)))
    else:
        got = np.asarray(evaluate(m, values), dtype=float).reshape(-1, size)
    for k in range(size):
        e = np.zeros(size)
        e[k] = 1.0
        values["dU"] = np.reshape(e, var.shape.numpy(), order="F") if var.shape.numpy() else 1.0
        column = _vec(evaluate(linear, values))
        assert np.allclose(got[:, k], column, rtol=1e-12, atol=1e-12), (str(node), i, k)


def test_every_linear_op_has_a_matrix_rule():
    assert {n for n, op in OPS.items() if op.linear and op.matrix is None} == set()
