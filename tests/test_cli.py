"""The `matdiff` command: output of shapes and derive in every format, errors and exit statuses, and a run from outside the checkout."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import matdiff
from matdiff.cli import main

RNG = np.random.default_rng(7)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of `matdiff argv...`, in process (argparse exits count)."""
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    out, err = capsys.readouterr()
    return code, out, err


def _line(out: str, prefix: str) -> str:
    lines = [ln for ln in out.splitlines() if ln.startswith(prefix)]
    assert len(lines) == 1, f"expected one line starting {prefix!r} in:\n{out}"
    return lines[0]


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# -- matdiff shapes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["x.T @ A @ x", "xᵀAx", "x' A x"])
def test_shapes_reads_back_and_shows_every_subexpression(capsys, text):
    code, out, err = run(capsys, "shapes", text)
    assert code == 0, err
    assert _line(out, "read as:") == "read as: x.T @ A @ x"
    assert re.search(r"^shape:\s+scalar$", out, re.M), out
    assert _line(out, "inferred dims:") == "inferred dims: n"
    tree = out.split("tree:\n", 1)[1].splitlines()
    # the root, then each child indented one level deeper, with its shape
    assert tree[0] == "  x.T @ A @ x  : scalar"
    assert "    x.T  : 1×n" in tree and "      x  : n×1" in tree and "    A  : n×n" in tree
    assert tree.index("    x.T  : 1×n") < tree.index("    A  : n×n")
    assert len(tree) == 5   # x.T @ A @ x, x.T, its x, A, x


def test_shapes_lists_declared_and_inferred_symbols(capsys):
    code, out, err = run(capsys, "shapes", "AXC", "--shape", "A=m,n", "--shape", "C=k,p")
    assert code == 0, err
    assert _line(out, "read as:") == "read as: A @ X @ C"
    assert re.search(r"^\s+A\s+m×n\s+declared$", out, re.M), out
    assert re.search(r"^\s+X\s+n×k\s+by convention$", out, re.M), out     # X's dims come from A and C
    assert re.search(r"^\s+C\s+k×p\s+declared$", out, re.M), out
    assert re.search(r"^shape:\s+m×p$", out, re.M), out


@pytest.mark.parametrize("text", ["W @ x + b", "b + W @ x"])
def test_shape_error_shows_caret_and_hint(capsys, text):
    code, out, err = run(capsys, "shapes", text, "--shape", "W=m,n", "--shape", "x=m")
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith("matdiff: shape error:") and "m×n" in lines[0] and "1-D, length m" in lines[0], err
    start = text.index("W @ x")
    assert lines[1] == "  " + text
    assert lines[2] == "  " + " " * start + "^" * len("W @ x"), err
    assert lines[-1].startswith("hint:") and "W.T @ x" in lines[-1], err


def test_parse_error_points_at_end_of_input(capsys):
    code, out, err = run(capsys, "shapes", "x.T @ A +")
    assert code == 1
    assert "parse error" in err
    caret = [ln for ln in err.splitlines() if ln.strip().startswith("^")]
    assert caret == ["  " + " " * len("x.T @ A +") + "^"], err


# -- usage ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    [],
    ["bogus"],
    ["shapes"],
    ["derive", "x.T @ A @ x"],                                  # no variable
    ["derive", "x.T @ A @ x", "wrt"],                           # `wrt` with nothing after it
    ["derive", "x.T @ A @ x", "wrt", "x", "--format", "pdf"],
    ["derive", "x.T @ A @ x", "--wrt", "x", "A"],               # both --wrt and positional
    ["shapes", "x", "--shape", "x"],                            # NAME=DIMS without =
    ["derive", "x.T @ A @ x", "wrt", "x", "--assume", "A"],
    ["derive", "x.T @ A @ x", "wrt", "x", "--seed", "zero"],
])
def test_usage_errors_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2, (argv, out, err)
    assert "usage:" in out + err


@pytest.mark.parametrize("argv", [["--help"], ["shapes", "--help"], ["derive", "--help"]])
def test_help_shows_examples(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 0
    assert "examples:" in out
    assert 'matdiff derive "x.T @ A @ x" wrt x' in out
    assert "--shape" in out and "--assume" in out


def test_every_help_example_runs(capsys):
    _, out, _ = run(capsys, "--help")
    examples = [shlex.split(ln.strip())[1:] for ln in out.splitlines() if ln.strip().startswith("matdiff ")]
    assert len(examples) >= 5
    for argv in examples:
        code, eout, err = run(capsys, *argv)
        # a `shapes` example may show an error on purpose; every derive example works
        want = (0,) if argv[0] == "derive" else (0, 1)
        assert code in want, (argv, err)
        assert code == 0 or err.startswith("matdiff: ") and "Traceback" not in err


# -- matdiff derive: text, unicode, latex ---------------------------------------------------------

def test_derive_text_output_in_order(capsys):
    code, out, err = run(capsys, "derive", "x.T @ A @ x", "wrt", "x", "--verify")
    assert code == 0, err
    lines = out.splitlines()
    prefixes = ["read as:", "shapes:", "direction:", "DF|x[v] =", "∇_x f =", "verify:"]
    where = [next(i for i, ln in enumerate(lines) if ln.startswith(p)) for p in prefixes]
    assert where == sorted(where), out
    assert _line(out, "read as:") == "read as:  x.T @ A @ x"
    assert "x: n×1" in _line(out, "shapes:") and "A: n×n" in _line(out, "shapes:")
    assert _line(out, "shapes:").endswith("f: scalar")
    # ∇ xᵀAx = (A + Aᵀ)x, and DF|x[v] = vᵀAx + xᵀAv
    grad = _line(out, "∇_x f =")
    assert grad.startswith("∇_x f = (A + A.T) @ x") and "(n×1)" in grad
    df = _line(out, "DF|x[v] =").split("=", 1)[1]
    assert matdiff.parse(df.strip(), {"x": ("n",), "A": ("n", "n"), "v": ("n",)}) == matdiff.derive(
        "x.T @ A @ x", "x").directional
    assert _line(out, "verify:").startswith("verify: ok")


def test_derive_unicode_shows_textbook_form(capsys):
    code, out, err = run(capsys, "derive", "xᵀAx", "wrt", "x", "--format", "unicode")
    assert code == 0, err
    assert _line(out, "paper:") == "paper:    xᵀAx"
    assert _line(out, "∇_x f =").startswith("∇_x f = (A + Aᵀ)x")
    code, out, err = run(capsys, "derive", "xᵀAx", "wrt", "x", "--assume", "A=symmetric", "--format", "unicode")
    assert code == 0, err
    assert _line(out, "∇_x f =").startswith("∇_x f = 2Ax")


def test_derive_latex(capsys):
    code, out, err = run(capsys, "derive", "x.T @ A @ x", "wrt", "x", "--format", "latex")
    assert code == 0, err
    grad = _line(out, "∇_x f =").split("=", 1)[1]
    df = _line(out, "DF|x[v] =").split("=", 1)[1]
    assert r"A^\top" in grad and "ᵀ" not in grad and ".T" not in grad, grad
    assert r"^\top" in df and "@" not in df, df
    assert grad.count(r"\left(") == grad.count(r"\right)")


def test_derive_matrix_valued_prints_linear_map(capsys):
    code, out, err = run(capsys, "derive", "A @ X @ C", "wrt", "X", "--verify")
    assert code == 0, err
    assert _line(out, "DF|X[V] =") == "DF|X[V] = A @ V @ C"
    assert "∇" not in out and "not a scalar" in out
    assert _line(out, "verify:").startswith("verify: ok")


def test_derive_matrix_valued_has_no_numpy_gradient(capsys):
    code, out, err = run(capsys, "derive", "A @ X @ C", "wrt", "X", "--format", "numpy")
    assert code == 1
    assert "not a scalar" in err and "Traceback" not in err


def test_unknown_variable_names_free_symbols(capsys):
    code, out, err = run(capsys, "derive", "x.T @ A @ x", "wrt", "z")
    assert code == 1
    assert "'z'" in err and "x, A" in err, err


@pytest.mark.parametrize("wrt", [["wrt", "W,b"], ["wrt", "W", "b"], ["--wrt", "W,b"], ["wrt", "W, b"]])
def test_derive_several_variables(capsys, wrt):
    code, out, err = run(capsys, "derive", "sum(sigmoid(W @ x + b))", *wrt, "--verify")
    assert code == 0, err
    assert _line(out, "direction:") == "direction: dW for W, db for b"
    gW, gb = _line(out, "∇_W f ="), _line(out, "∇_b f =")
    assert out.index(gW) < out.index(gb)
    assert "(n×m)" in gW and "(n×1)" in gb
    assert _line(out, "verify:").startswith("verify: ok")


# -- matdiff derive: json and numpy --------------------------------------------------------------

def test_derive_json(capsys):
    code, out, err = run(capsys, "derive", "sum(sigmoid(W @ x + b))", "wrt", "W,b", "--format", "json", "--verify")
    assert code == 0, err
    doc = json.loads(out)
    assert {"input", "read_as", "shapes", "wrt", "directional", "gradient", "numpy", "verify"} <= set(doc)
    assert doc["input"] == "sum(sigmoid(W @ x + b))"
    assert doc["wrt"] == ["W", "b"]
    assert set(doc["gradient"]) == {"W", "b"}
    assert doc["verify"]["ok"] is True
    assert 0 <= doc["verify"]["max_rel_error"] <= 1e-5
    assert set(doc["shapes"]) == {"W", "x", "b"}
    # the numpy field is a working module: compare with σ'(z) = σ(1 − σ), z = Wx + b
    ns: dict = {}
    exec(compile(doc["numpy"], "<json numpy>", "exec"), ns)
    W, x, b = RNG.standard_normal((3, 4)), RNG.standard_normal(4), RNG.standard_normal(3)
    s = _sigmoid(W @ x + b)
    gW, gb = ns["gradient"](W=W, x=x, b=b)
    np.testing.assert_allclose(gb, s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(gW, np.outer(s * (1 - s), x), rtol=1e-12)
    assert ns["value"](W=W, x=x, b=b) == pytest.approx(np.sum(s), rel=1e-12)


def test_derive_json_without_verify_and_for_matrix_valued(capsys):
    code, out, err = run(capsys, "derive", "A @ X @ C", "wrt", "X", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert "verify" not in doc
    assert doc["directional"] == "A @ V @ C"
    assert doc["gradient"] is None and doc["numpy"] is None


def test_derive_numpy_compiles_and_is_right(capsys):
    text = "sum(log(1 + exp(-y * (X @ w))))"
    code, out, err = run(capsys, "derive", text, "wrt", "w", "--format", "numpy")
    assert code == 0, err
    ns: dict = {}
    exec(compile(out, "<numpy>", "exec"), ns)
    X, y, w = RNG.standard_normal((6, 3)), np.sign(RNG.standard_normal(6)), RNG.standard_normal(3)
    # ∇_w Σ log(1 + exp(−yᵢ xᵢᵀw)) = −Xᵀ (y ⊙ σ(−y ⊙ Xw))
    np.testing.assert_allclose(ns["gradient"](X=X, y=y, w=w), -X.T @ (y * _sigmoid(-y * (X @ w))), rtol=1e-10)
    assert ns["value"](X=X, y=y, w=w) == pytest.approx(np.sum(np.log1p(np.exp(-y * (X @ w)))), rel=1e-12)


def test_declared_shapes_reach_derive(capsys):
    code, out, err = run(capsys, "derive", "norm(W @ x - y)**2", "wrt", "W", "--shape", "W=3,4",
                         "--format", "json", "--verify")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["shapes"]["W"] == "3,4" and doc["shapes"]["x"] == "4" and doc["shapes"]["y"] == "3"
    assert doc["verify"]["ok"] is True


# -- outside the checkout ------------------------------------------------------------------------

def test_runs_as_a_module_from_another_directory(tmp_path):
    root = Path(matdiff.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    ok = subprocess.run([sys.executable, "-m", "matdiff", "derive", "x.T @ A @ x", "wrt", "x", "--verify"],
                        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "∇_x f = (A + A.T) @ x" in ok.stdout and "verify: ok" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "matdiff", "shapes", "W @ x", "--shape", "W=m,n", "--shape", "x=m"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "shape error" in bad.stderr and "Traceback" not in bad.stderr
    assert list(tmp_path.iterdir()) == []   # nothing written to the working directory


def test_declared_name_not_in_expression_is_noted(capsys):
    assert main(["derive", "x.T @ A @ x", "wrt", "x", "--shape", "Q=n,n"]) == 0
    assert "note: Q is declared but not in the expression" in capsys.readouterr().out


def test_bad_shape_option_shows_the_commands_usage(capsys):
    with pytest.raises(SystemExit) as e:
        main(["shapes", "x", "--shape", "x"])
    assert e.value.code == 2
    assert "usage: matdiff shapes" in capsys.readouterr().err


def test_derive_json_matrices_are_keyed_by_variable(capsys):
    code, out, err = run(capsys, "derive", "x.T @ A @ x + sum(exp(y)) * sum(x)", "wrt", "x,y", "--hessian",
                         "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    d = matdiff.derive("x.T @ A @ x + sum(exp(y)) * sum(x)", ["x", "y"])
    assert set(doc["hessian"]) == {f"{a},{b}" for a, b in d.hessians} | {f"hvp:{n}" for n in d.hvps}
    for (a, b), h in d.hessians.items():
        entry = doc["hessian"][f"{a},{b}"]
        assert entry["expr"] == str(h)
        assert entry["shape"] == f"{h.shape.rows},{h.shape.cols}"
        assert "∂" in entry["meaning"] or "∇" in entry["meaning"]


# -- a terminal that cannot show Unicode, and a program on standard input ----------------------------

def _matdiff(*argv: str, env: dict | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """`python -m matdiff argv...` in a subprocess, with extra environment variables."""
    return subprocess.run([sys.executable, "-m", "matdiff", *argv], capture_output=True, input=stdin,
                          env={**os.environ, **(env or {})}, cwd=Path(__file__).parent, timeout=60)


@pytest.mark.parametrize("argv", [
    ("derive", "xᵀAx", "wrt", "x", "--format", "unicode"),
    ("derive", "x.T @ A @ x", "wrt", "x"),
    ("shapes", "‖W x − y‖²"),
    ("check", "sum(x ** 2)", "wrt", "x", "--claim", "2 * x.T"),
    ("--help",),
])
def test_ascii_terminal_gets_ascii_spellings(argv):
    """PYTHONIOENCODING=ascii (a C locale, an old console): the output falls back to ASCII
    spellings (ᵀ as ^T, × as x, ‖ as ||) instead of a UnicodeEncodeError."""
    r = _matdiff(*argv, env={"PYTHONIOENCODING": "ascii"})
    assert r.returncode in (0, 1), r.stderr.decode()
    assert b"Traceback" not in r.stderr, r.stderr.decode()
    r.stdout.decode("ascii"), r.stderr.decode("ascii")
    if argv[0] == "derive" and "unicode" in argv:
        assert b"x^TAx" in r.stdout


def test_ascii_terminal_json_escapes_and_errors_keep_their_caret():
    r = _matdiff("derive", "xᵀAx", "wrt", "x", "--format", "json", env={"PYTHONIOENCODING": "ascii"})
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["input"] == "xᵀAx"     # escaped, not transliterated
    r = _matdiff("derive", "‖xᵀ ⊙ y‖ + α @@ A", "wrt", "x", env={"PYTHONIOENCODING": "ascii"})
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    lines = r.stderr.decode("ascii").splitlines()
    quoted, caret = lines[1], lines[2]
    assert quoted == "  ||x^T (*) y|| + alpha @@ A"
    assert quoted[caret.index("^")] == "@" and quoted[caret.index("^") - 1] == "@"


def test_program_from_standard_input(capsys, monkeypatch):
    import io
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"loss = sum(x ** 2)\ndx = 2 * x\n")))
    code, out, _ = run(capsys, "check", "--program", "-")
    assert code == 0 and "1 of 1 gradient lines correct" in out
    r = _matdiff("check", "--program", "-", stdin=b"loss = sum(x ** 2)\ndx = x\n")
    assert r.returncode == 1 and b"scaled" in r.stdout


@pytest.mark.parametrize("data", [b"loss = sum(x)\xff\n", b"\xfe\xff"])
def test_program_that_is_not_utf8_is_a_usage_error(tmp_path, capsys, data):
    path = tmp_path / "prog.py"
    path.write_bytes(data)
    code, _, err = run(capsys, "check", "--program", str(path))
    assert code == 2 and "not UTF-8" in err


def test_program_file_with_a_bom_is_read(tmp_path, capsys):
    path = tmp_path / "prog.py"
    path.write_bytes("\ufeffloss = sum(x ** 2)\ndx = 2 * x\n".encode("utf-8"))
    code, out, _ = run(capsys, "check", "--program", str(path))
    assert code == 0, out


def test_closed_pipe_is_not_a_traceback():
    """`matdiff … | head -1`: the reader goes away early; no BrokenPipeError traceback."""
    p = subprocess.Popen([sys.executable, "-m", "matdiff", "shapes", " + ".join(f"x{i}" for i in range(3000))],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).parent)
    p.stdout.readline()
    p.stdout.close()
    _, err = p.communicate(timeout=60)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()


def test_derive_steps(capsys):
    """--steps lists the rules the engine applied, numbered, each with its reason; --jacobian
    adds the chain rule as a product of factors; JSON carries them as objects."""
    code, out, err = run(capsys, "derive", "x.T @ A @ x", "wrt", "x", "--steps")
    assert code == 0, err
    steps = out.split("steps:\n", 1)[1]
    assert "product rule: D(xᵀAx)[v] = vᵀAx + xᵀAv" in steps
    assert "transpose of a scalar: xᵀAv = ⟨Aᵀx, v⟩" in steps
    assert "gradient: ∇_x f = (A + Aᵀ)x" in steps
    code, out, err = run(capsys, "derive", "sigmoid(W2 @ tanh(W1 @ x))", "wrt", "x", "--jacobian", "--steps")
    assert code == 0 and "chain rule: J_x = diag(" in out and "reverse mode (VJP)" in out, err
    code, out, err = run(capsys, "derive", "logdet(X)", "wrt", "X", "--format", "json", "--steps")
    rules = [s["rule"] for s in json.loads(out)["steps"]]
    assert code == 0 and rules[0] == "derivative table" and rules[-1] == "gradient", rules
