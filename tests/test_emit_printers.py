"""The NumPy emitter as a driver: each op writes itself with its own printer (`Op.numpy`,
(emitter, node) -> (code, precedence)), bracketed by precedence; the emitter's named rewrites
(emit/np_rewrites.py) come first where they have a better form."""

from __future__ import annotations

import numpy as np
import pytest

import matdiff
from matdiff.emit import np_rewrites
from matdiff.emit.numpy import compile_exprs, module_source
from matdiff.expr import OPS, Call, Op, Symbol, call
from matdiff.shapes import Shape

SHAPES = {"x": ("n",), "y": ("n",), "A": ("n", "n"), "B": ("n", "n")}
RNG = np.random.default_rng(7)


def _returned(expr) -> str:
    params = list(expr.symbols().values())
    return module_source([("f", params, [expr], "f")]).rstrip().splitlines()[-1].removeprefix("    return ")


def test_every_op_that_can_be_a_node_declares_its_numpy_printer():
    """An op without a printer is only a spelling: its constructor builds other ops (neg a
    product with −1), so it is never a node the emitter meets."""
    x = matdiff.parse("x", SHAPES)
    for name, op in OPS.items():
        if op.numpy is None:
            assert op.arity == 1 and op.build is not None, f"{name} declares no NumPy printer"
            built = call(op, x)
            assert not (isinstance(built, Call) and built.op is op), f"{name} declares no NumPy printer"


def test_an_op_the_emitter_does_not_know_is_written_by_its_own_printer():
    """Adding an op touches one place; its (code, precedence) decides the brackets around it."""
    cube = Op(name="cube", shape=lambda dims, s: s, arity=1,
              numpy=lambda em, e: (f"{em.arg(e.args[0], 9)} ** 3", 4))
    x, y = Symbol("x", Shape("n", 1)), Symbol("y", Shape("n", 1))
    s = call("add", x, y)
    expr = call("mul", 2, Call(cube, (s,), shape=s.shape))
    assert _returned(expr) == "2 * (x + y) ** 3"
    u, v = RNG.standard_normal(3), RNG.standard_normal(3)
    np.testing.assert_allclose(compile_exprs([expr], [x, y])(x=u, y=v), 2 * (u + v) ** 3)


@pytest.mark.parametrize("text, code", [
    ("relu(x + y)", "np.maximum(x + y, 0)"),                        # a slot of its own: bare
    ("softplus(x - y)", "np.logaddexp(0, x - y)"),
    ("sigmoid(x + y)", "np.exp(-np.logaddexp(0, -(x + y)))"),       # inside an expression: bracketed
    ("sigmoid(-(x + y))", "np.exp(-np.logaddexp(0, x + y))"),      # the rewrite absorb_negation
    ("vec(A + B)", '(A + B).reshape(-1, order="F")'),
    ("kron(x, A + B)", "np.kron(x[:, None], A + B)"),
    ("(A + B).T @ x", "(A + B).T @ x"),
])
def test_printers_bracket_by_precedence(text, code):
    assert _returned(matdiff.parse(text, SHAPES)) == code


@pytest.mark.parametrize("rewrite", np_rewrites.REWRITES + np_rewrites.PRODUCT_FORMS,
                         ids=lambda f: f.__name__)
def test_each_rewrite_states_its_identity(rewrite):
    assert rewrite.__doc__ and len(rewrite.__doc__.split()) > 8
