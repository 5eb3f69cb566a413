"""Bad input: every failure is a MatdiffError of the right class, with its caret in the right column."""

from __future__ import annotations

import random
import re

import pytest

import matdiff
from matdiff import (AssumptionError, MatdiffError, ParseError, ShapeError, ShapeSpecError,
                     UnknownFunctionError, parse, read)
from matdiff.shapes import Shape, dim_mul

P, S, U = ParseError, ShapeError, UnknownFunctionError
MN = {"A": ("m", "n"), "x": ("m",)}
GARBAGE = random.Random(1234).randbytes(24).decode("latin-1")

# (text, shapes, error class, caret column, a piece the hint must contain or None)
CASES = [
    # shapes
    ("A @ x", MN, S, 0, "A.T @ x"),
    ("x @ y", {"x": (3,), "y": (4,)}, S, 0, "np.outer(x, y)"),
    ("x @ y @ A", None, S, 0, "*"),
    ("2 * A @ x", MN, S, 0, ".T @ x"),
    ("A * B", {"A": ("n", "m"), "B": ("m", "k")}, S, 0, "@"),
    ("x + A * B", {"A": ("n", "m"), "B": ("m", "k"), "x": ("n",)}, S, 4, "@"),
    ("inv(C)", {"C": ("n", "m")}, S, 0, None),
    ("x + inv(C)", {"C": ("n", "m")}, S, 4, None),
    ("1 + tr(C)", {"C": ("n", "m")}, S, 4, None),
    ("trace(x)", {"x": ("n",)}, S, 0, None),
    ("det(x)", {"x": ("n",)}, S, 0, None),
    ("det(x)", None, S, 0, None),
    ("logdet(C)", {"C": (3, 4)}, S, 0, None),
    ("A + B", {"A": ("n", "m"), "B": ("m", "n")}, S, 0, "transpose"),
    ("x + y + A", {"A": ("n", "m"), "x": ("n",), "y": ("n",)}, S, 0, None),
    ("x * -A", {"A": ("n", "n"), "x": ("n",)}, S, 0, None),
    ("2 * (A + B)", {"A": ("n", "n"), "B": ("m", "m")}, S, 5, None),
    ("W x + b", {"W": ("n", "m"), "x": ("m",), "b": ("m",)}, S, 0, None),
    ("xᵀAx", {"A": ("n", "m"), "x": ("n",)}, S, 2, None),
    ("x²", None, S, 0, "**"),
    ("1 + x²", {"x": ("n",)}, S, 4, "**"),
    ("A ** B", {"A": ("n", "n"), "B": ("n", "n")}, S, 0, None),
    ("X^0", {"X": ("n", "n")}, S, 0, None),
    ("C⁻¹", {"C": ("n", "m")}, S, 0, None),
    # unknown functions
    ("trce(X)", None, U, 0, "trace"),
    ("2 * trce(X)", None, U, 4, "trace"),
    ("np.sigmod(z)", None, U, 0, "sigmoid"),
    # syntax
    ("", None, P, 0, None),
    ("   ", None, P, 3, None),
    ("(x + y", None, P, 6, ")"),
    ("x + y)", None, P, 5, None),
    ("x +", None, P, 3, None),
    ("A @", None, P, 3, None),
    ("x +* y", None, P, 3, None),
    ("* x", None, P, 0, None),
    ("()", None, P, 1, None),
    ("x $ y", None, P, 2, None),
    ("[1, 2] @ x", None, P, 0, "array literals"),
    ("A[i]", None, P, 2, "X[1:3, :]"),
    ("y = A @ x", None, P, 2, None),
    ("trace(X) = 3", None, P, 9, None),
    ("x.shape", None, P, 1, ".T"),
    ("(x, y)", None, P, 2, None),
    ("x + ж", None, P, 4, None),
    ("x + 😀", None, P, 4, None),
    ("\x00\xff", None, P, 0, None),
    ("x\x00", None, P, 1, None),
    ("x + \x07\x1b[31m", None, P, 4, None),
    ("|x|", None, P, 0, "abs"),
    ("||x|", None, P, 3, None),
    ("‖Wx − y²", None, P, 8, "bar"),
    ("{x", None, P, 2, None),
    ("x}", None, P, 1, None),
    ("x + exp", None, P, 4, None),
    ("logdet(X, Y)", None, P, 0, None),
    ("inv()", None, P, 0, None),
    ("norm(X, 1)", None, P, 8, None),
    ("‖X‖_2", {"X": ("n", "m")}, P, 0, None),
    ("eye(x + 1)", None, P, 4, None),
    ("x + 1e999 * y", None, P, 4, None),
    ("x / 0", None, P, 4, None),
    ("x.5", None, P, 1, ".T"),
    ("1.2.3", None, P, 3, ".T"),
    ("A^999999999", None, P, 0, "elementwise"),
    ("9" * 400, None, P, 0, None),
    ("9" * 5000 + " * x", None, P, 0, None),
    ("‖x‖_∞", None, P, 0, "‖x‖"),
    ("x > y", {"x": (3,), "y": (4,)}, S, 0, None),
]


def _raise(text, shapes=None, assume=None) -> MatdiffError:
    with pytest.raises(MatdiffError) as info:
        parse(text, shapes, assume)
    return info.value


def _caret_column(message: str) -> int | None:
    """Column of the first '^' of the caret line in str(err), minus the 2-space indent, as a
    column of the input line: a long line is quoted in a window (errors.window) after a "…"."""
    lines = message.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("  ") and set(line.strip()) == {"^"}:
            shown = line.index("^") - 2
            quoted = lines[i - 1][2:]
            if not quoted.startswith("…"):
                return shown
            start = _WINDOWS.get(message)
            return None if start is None else start + shown - 1
    return None


_WINDOWS: dict = {}   # str(err) -> where its quoted window starts in the input line


def _str(err) -> str:
    """str(err), remembering where a long input line's window starts (for _caret_column)."""
    from matdiff.errors import window
    message = str(err)
    if err.text is not None and err.span is not None:
        line_start = err.text.rfind("\n", 0, err.span[0]) + 1
        line_end = err.text.find("\n", err.span[0])
        line_end = len(err.text) if line_end < 0 else line_end
        _WINDOWS[message] = window(line_end - line_start, err.span[0] - line_start)[0]
    return message


def _shown(text: str) -> str:
    """The input line as an error quotes it: one column per character, a long one in a window."""
    return "".join(c if c.isprintable() else " " if c.isspace() else "?" for c in text)


@pytest.mark.parametrize("text, shapes, cls, column, hint", CASES, ids=[repr(c[0]) for c in CASES])
def test_error_class_and_caret(text, shapes, cls, column, hint):
    err = _raise(text, shapes)
    assert type(err) is cls, f"{type(err).__name__}: {err}"
    assert err.span is not None and err.span[0] == column
    assert err.column == column
    assert 0 <= err.span[0] <= err.span[1] <= len(text) + 1
    message = _str(err)
    assert _caret_column(message) == column, message
    from matdiff.errors import window
    lo, hi = window(len(text), column)
    shown = ("…" if lo else "") + _shown(text)[lo:hi] + ("…" if hi < len(text) else "")
    assert "  " + shown in message.splitlines()
    if hint is not None:
        assert err.hint is not None and hint in err.hint, err.hint


def test_there_are_enough_cases():
    assert len(CASES) >= 32


def test_hint_names_the_fix_for_a_transposed_product():
    err = _raise("A @ x", MN)
    assert "A.T @ x" in err.hint
    assert "m×n" in str(err) or "m×n" in err.message


def test_unknown_function_lists_close_names():
    err = _raise("trce(X)")
    assert isinstance(err, ParseError)
    assert "trace" in err.hint
    assert "trce" in err.message


def test_random_garbage_bytes():
    err = _raise(GARBAGE)
    assert isinstance(err, ParseError)
    assert err.span is not None and 0 <= err.span[0] <= len(GARBAGE)
    assert _caret_column(_str(err)) == err.column


def test_column_counts_from_the_start_of_the_line():
    text = "x +\ny $ z"
    err = _raise(text)
    assert isinstance(err, ParseError)
    assert err.span[0] == text.index("$")
    assert err.column == 2 == _caret_column(_str(err))
    assert "  y $ z" in str(err).splitlines()


# -- declared shapes and assumptions ---------------------------------------------------------------

@pytest.mark.parametrize("spec", [("n", "m", "k"), "n,,m", 0, -1, ("n", 0), ("n", -2), "n x",
                                  "n m", True, 2.5, None, ("n", "m!"), (3.0, 4)])
def test_bad_shape_specs(spec):
    err = _raise("A + B", {"A": spec})
    assert isinstance(err, ShapeSpecError)
    assert err.hint


def test_bad_shape_spec_names_the_symbol():
    err = _raise("A + B", {"B": ("n", "m", "k")})
    assert "B" in str(err)


@pytest.mark.parametrize("assume", [{"A": "orthogonal"}, {"A": ["symmetric", "bogus"]}, {"A": "symetric"}])
def test_bad_assumption(assume):
    err = _raise("A + B", None, assume)
    assert isinstance(err, AssumptionError)


def test_close_assumption_is_suggested():
    assert "symmetric" in _raise("A", None, {"A": "symetric"}).hint


@pytest.mark.parametrize("text, shapes, column", [
    ("A + B", {"A": ("n", "m")}, 0),
    ("B + A", {"A": ("n", "m")}, 4),
    ("A @ x", {"x": ("n",)}, 4),
])
def test_square_property_on_non_square(text, shapes, column):
    name = "A" if text != "A @ x" else "x"
    err = _raise(text, shapes, {name: "symmetric"})
    assert isinstance(err, AssumptionError)
    assert err.column == column == _caret_column(_str(err))


# -- depth, and things that are not text ---------------------------------------------------------

def test_deep_parentheses_parse_or_fail_cleanly():
    text = "(" * 5000 + "x" + ")" * 5000
    try:
        e = parse(text)
    except MatdiffError as err:
        assert isinstance(err, ParseError) and err.span is not None
    else:
        assert e == parse("x")


DEEP = {
    "exp(exp(...))": "exp(" * 3000 + "x" + ")" * 3000,
    "- - -x": "-" * 3000 + "x",
    "x.T.T...": "x" + ".T" * 3000,
    "x' ' '...": "x" + "'" * 3000,
    "a ** a ** ...": "a" + " ** a" * 3000,
    "((x + x) + x)...": "(" * 3000 + "x" + " + x)" * 3000,
}


@pytest.mark.parametrize("text", DEEP.values(), ids=DEEP.keys())
def test_too_deep_is_a_parse_error(text):
    err = _raise(text)
    assert type(err) is ParseError
    assert err.span is not None and 0 <= err.span[0] < len(text)
    assert "deep" in err.message
    assert _caret_column(_str(err)) == err.column


def test_long_flat_input_is_fine():
    e = parse(" + ".join(["x"] * 1000))
    assert e.shape.cols == 1


@pytest.mark.parametrize("value", [b"x + y", None, 3, ["x"]])
def test_non_str_input(value):
    err = _raise(value)
    assert type(err) is ParseError
    assert type(value).__name__ in str(err)


def test_errors_are_matdiff_errors():
    for cls in (ParseError, UnknownFunctionError, ShapeError, ShapeSpecError, AssumptionError):
        assert issubclass(cls, matdiff.MatdiffError)
    assert issubclass(UnknownFunctionError, ParseError)


@pytest.mark.parametrize("text, pieces", [
    ("inv(A @ B @ x)", ["A @ B @ x is n×1"]),
    ("x.T @ A @ x + b @ c", ["b (", "c ("]),
])
def test_unknown_dims_in_messages_have_reader_names(text, pieces):
    """A dim still unknown when the error is raised is named as `matdiff shapes` names dims
    (n, m, k, …), never by an internal label such as n_y or r_A."""
    err = _raise(text)
    message = str(err)
    for piece in pieces:
        assert piece in message, message
    assert not re.search(r"\b[rcn]_[A-Za-z]", message), message


def test_hint_does_not_transpose_twice():
    shapes = {"W": (3, 4)}
    err = _raise("W.T @ W.T", shapes)
    assert ".T.T" not in err.hint
    fix = err.hint.rstrip("?")
    assert read(fix, shapes).expr.shape == Shape(3, 3)


def test_kronecker_dims_are_named_from_their_factors():
    r = read("kron(A, B)")
    a, b = r.symbols["A"].shape, r.symbols["B"].shape
    assert r.expr.shape == Shape(dim_mul(a.rows, b.rows), dim_mul(a.cols, b.cols))
    assert r.inferred == [a.rows, a.cols, b.rows, b.cols]


def test_hints_offer_only_what_fits():
    err = _raise("x @ y", {"x": (3,), "y": (4,)})
    assert "x.T @ y" not in err.hint and "np.outer(x, y)" in err.hint
    err = _raise("A @ x", {"A": (3, 4), "x": (3,)})
    assert "A.T @ x" in err.hint and "x @ A" in err.hint


def test_comparison_of_misfits_says_compare():
    assert "cannot compare x (3×1) and y (4×1)" in str(_raise("x > y", {"x": (3,), "y": (4,)}))


def test_reading_conventions_are_named_when_shapes_fail():
    """A Greek letter is a scalar by convention and a word of letters a product; when that makes
    the shapes fail, the hint says so."""
    assert "β is a scalar by convention" in _raise("‖y − Xβ‖²").hint
    assert "Wxh was read as the product W x h" in _raise("softmax(Wxh)").hint


def test_hint_does_not_double_parentheses():
    err = _raise("(x + y) @ z", {"x": (3,), "y": (3,), "z": (4,)})
    assert "((" not in err.hint


# -- arguments, limits and numbers past every range ------------------------------------------------

@pytest.mark.parametrize("kwargs, cls", [
    ({"shapes": [("A", (2, 2))]}, matdiff.ShapeSpecError),
    ({"shapes": "A=n,n"}, matdiff.ShapeSpecError),
    ({"shapes": {3: "n"}}, matdiff.ShapeSpecError),
    ({"shapes": {"A": "²"}}, matdiff.ShapeSpecError),
    ({"shapes": {"A": "9" * 5000}}, matdiff.ShapeSpecError),
    ({"assume": {"A": None}}, AssumptionError),
    ({"assume": ["A"]}, AssumptionError),
    ({"assume": {"A": 3}}, AssumptionError),
])
def test_bad_declarations_are_matdiff_errors(kwargs, cls):
    with pytest.raises(cls):
        read("A @ x", **kwargs)


@pytest.mark.parametrize("text, shapes, prop", [
    ("alpha * sum(x)", None, "diagonal"),
    ("a * sum(x)", {"a": ()}, "spd"),
    ("λ ** 2", None, "symmetric"),
])
def test_scalar_cannot_be_a_square_property(text, shapes, prop):
    name = text.split()[0]
    err = _raise(text, shapes, {name: prop})
    assert isinstance(err, AssumptionError) and "scalar" in err.message and prop in err.message
    assert err.column == 0 and "positive" in err.hint


@pytest.mark.parametrize("text, column", [("kron W", 0), ("A kron B", 2), ("blockdot X", 0)])
def test_two_argument_function_without_parentheses(text, column):
    err = _raise(text)
    assert type(err) is ParseError and err.column == column
    assert "parentheses" in err.message and "(A, B)" in err.hint


@pytest.mark.parametrize("text, limit", [
    ("X" + "²" * 5000, "MAX_INT_DIGITS"),
    ("X" + "⁻" + "¹" * 30, "MAX_INT_DIGITS"),
    ("eye(" + "9" * 30 + ")", "MAX_INT_DIGITS"),
    ("x" * 50_001, "MAX_LENGTH"),
    ("exp(" * 300 + "x" + ")" * 300, "MAX_DEPTH"),
    ("x" + " / x" * 300, "MAX_DEPTH"),        # (x / x) / x …: each division nests
    ("log " * 300 + "x", "MAX_DEPTH"),        # each function name of a paper product nests
])
def test_limits_are_named(text, limit):
    err = _raise(text)
    assert type(err) is ParseError and limit in err.message, err.message
    assert 0 <= err.span[0] <= err.span[1] <= len(text) + 1


def test_long_fraction_and_number_are_floats():
    assert parse("1" + "0" * 30 + "/3 * x").shape.cols == 1
    assert parse("x ** " + "9" * 300).shape.cols == 1


def test_64_layer_mlp_reads_and_the_limits_can_be_raised():
    """A 64-layer MLP written out is 196 levels deep: within MAX_DEPTH, and read without a
    RecursionError; a module attribute raises the limit."""
    from matdiff import syntax
    text = "x"
    for i in range(1, 65):
        text = f"tanh(W{i} @ {text} + b{i})"
    assert parse(f"sum({text})").shape.is_scalar
    deep = "exp(" * 400 + "x" + ")" * 400
    assert "MAX_DEPTH" in _raise(deep).message
    old = syntax.MAX_DEPTH
    syntax.MAX_DEPTH = 1000
    try:
        assert parse(deep).shape.cols == 1
    finally:
        syntax.MAX_DEPTH = old


def test_a_long_line_is_quoted_in_a_window():
    text = "x + " * 2000 + "y @ z"
    err = _raise(text, {"x": (3,), "y": (3,), "z": (4,)})
    quoted = str(err).splitlines()[1]
    assert len(quoted) < 110 and quoted.startswith("  …")
    assert _caret_column(_str(err)) == err.column
