"""The `matdiff` command: `matdiff shapes EXPR` shows how an expression was read and the shape of
every part; `matdiff derive EXPR wrt X` derives DF|X[V] and the gradient, prints them in text,
Unicode, LaTeX, NumPy or JSON, and with --verify checks them by finite differences.
Exit status: 0 success, 1 a problem with the input (or a failed verification), 2 usage."""

from __future__ import annotations

import argparse
import codecs
import json
import os
import sys

EXAMPLES = """examples:
  matdiff shapes "x.T @ A @ x"
  matdiff shapes "AXC" --shape A=m,n --shape C=k,p
  matdiff shapes "W @ x + b" --shape W=m,n --shape x=m
  matdiff derive "x.T @ A @ x" wrt x
  matdiff derive "xᵀAx" wrt x --assume A=symmetric --format unicode
  matdiff derive "norm(W @ x - y)**2" wrt W --verify
  matdiff derive "sum(log(1 + exp(-y * (X @ w))))" wrt w --format numpy
  matdiff derive "sum(sigmoid(W @ x + b))" wrt W,b --format json
  matdiff derive "A @ X @ C" wrt X
  matdiff derive "A @ X @ C" wrt X --kron
  matdiff derive "sigmoid(W @ x + b)" wrt x --jacobian --verify
  matdiff derive "x.T @ A @ x + sum(exp(x))" wrt x --hessian
  matdiff check "sum((W @ x - y)**2)" wrt W --claim "2 * (W @ x - y) @ x.T"

shapes: NAME=DIMS with DIMS like n,m or 3,4 or n×m; a vector is NAME=n; a scalar NAME=
properties: symmetric, spd, diagonal, positive (--assume A=spd)
a backward pass: matdiff check --program FILE, FILE holding lines like `z1 = W1 @ x + b1`, `loss = …`,
and gradient lines `dW1 = dz1 @ x.T` (dNAME or grad_NAME), each checked against ∂loss/∂NAME"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="matdiff", description="Symbolic matrix calculus: shapes, "
                                "derivatives and gradients of matrix expressions, with verified NumPy code.",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="{shapes,derive,check}")

    def common(sp):
        sp.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS",
                        help="declare a shape, e.g. A=n,n  x=n  alpha=  (repeatable)")
        sp.add_argument("--assume", action="append", default=[], metavar="NAME=PROP",
                        help="declare a property: symmetric, spd, diagonal, positive (repeatable)")

    sh = sub.add_parser("shapes", help="show how EXPR was read and the shape of every subexpression",
                        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sh.add_argument("expr", metavar="EXPR")
    common(sh)

    dv = sub.add_parser("derive", help="derive DF|X[V] and the gradient of EXPR",
                        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    dv.add_argument("expr", metavar="EXPR")
    dv.add_argument("rest", nargs="*", metavar="wrt VAR[,VAR...]")
    dv.add_argument("--wrt", default=None, help="the variables, comma-separated (or: wrt VAR after EXPR)")
    dv.add_argument("--format", choices=("text", "unicode", "latex", "numpy", "json"), default="text")
    dv.add_argument("--verify", action="store_true", help="check the result by finite differences")
    dv.add_argument("--steps", action="store_true",
                    help="show the derivation step by step, each rule named (with --jacobian: the chain rule)")
    dv.add_argument("--seed", type=int, default=0, help="seed for --verify (default 0)")
    what = dv.add_mutually_exclusive_group()
    what.add_argument("--jacobian", dest="what", action="store_const", const="jacobian",
                      help="the Jacobian (Kronecker form for a matrix variable)")
    what.add_argument("--hessian", dest="what", action="store_const", const="hessian",
                      help="the Hessian of a scalar function, and its Hessian-vector product")
    what.add_argument("--kron", dest="what", action="store_const", const="kron",
                      help="the vec/Kronecker matrix of DF|X[V] (of the Hessian for a scalar f)")
    dv.add_argument("--layout", choices=("numerator", "denominator"), default="numerator",
                    help="Jacobian layout: numerator m×n (default) or denominator n×m")
    common(dv)

    ck = sub.add_parser("check", help="check a hand-written gradient (--claim) or a backward pass (--program)",
                        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    ck.add_argument("expr", metavar="EXPR", nargs="?")
    ck.add_argument("rest", nargs="*", metavar="wrt VAR")
    ck.add_argument("--claim", metavar="FORMULA", help="your gradient, in NumPy syntax")
    ck.add_argument("--program", metavar="FILE", help="a forward and backward pass, one assignment per line "
                    "(- reads standard input)")
    ck.add_argument("--loss", default="loss", help="the name of the loss in --program (default: loss)")
    ck.add_argument("--seed", type=int, default=0)
    common(ck)
    return p


def _pairs(items: list[str], what: str, parser) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            parser.error(f"--{what} expects NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        out[name.strip()] = value.strip()
    return out


def _ascii_fallback(error: UnicodeError):
    """An encoding error handler: what a terminal cannot show, in matdiff's ASCII spellings."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    from .errors import to_ascii
    return to_ascii(error.object[error.start:error.end]), error.end


codecs.register_error("matdiff-ascii", _ascii_fallback)


def _plain(stream) -> bool:
    """Whether `stream` cannot show matdiff's symbols (PYTHONIOENCODING=ascii, a C locale); if
    so, it falls back to their ASCII spellings (ᵀ as ^T, × as x) from here on."""
    try:
        "ᵀ×‖∇✓…".encode(getattr(stream, "encoding", None) or "ascii")
        return False
    except (UnicodeEncodeError, LookupError):
        pass
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors="matdiff-ascii")
        except (ValueError, OSError):   # a stream that cannot change its error handler
            pass
    return True


def main(argv: list[str] | None = None) -> int:
    # on a terminal without Unicode: ASCII spellings, JSON with escapes, and error carets placed
    # under the ASCII form of the input
    plain, plain_errors = _plain(sys.stdout), _plain(sys.stderr)
    try:
        return _main(argv, plain, plain_errors)
    except BrokenPipeError:   # `matdiff … | head`: the reader went away; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 1


def _main(argv, plain: bool, plain_errors: bool) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    sub = parser._subparsers._group_actions[0].choices[args.command]   # errors show the command's usage
    shapes = _pairs(args.shape, "shape", sub)
    assume = _pairs(args.assume, "assume", sub)
    from .errors import MatdiffError
    try:
        if args.command == "shapes":
            return _shapes(args.expr, shapes, assume)
        if args.command == "check":
            return _check(args, shapes, assume, parser)
        wrt = args.wrt
        rest = list(args.rest)
        if rest and rest[0] == "wrt":
            rest = rest[1:]
        if wrt is None:
            if not rest:
                parser.error("say which variables: matdiff derive EXPR wrt VAR")
            wrt = ",".join(rest)
        elif rest:
            parser.error(f"unexpected arguments: {' '.join(rest)}")
        return _derive(args.expr, wrt, shapes, assume, args.format, args.verify, args.seed,
                       args.what, args.layout, plain, args.steps)
    except MatdiffError as e:
        print(f"matdiff: {e.kind}: {e.render(ascii=plain_errors)}", file=sys.stderr)
        return 1


def _unused(shapes: dict, assume: dict, symbols) -> None:
    """A declaration for a name the expression does not use is most likely a typo: say so."""
    for name in sorted((set(shapes) | set(assume)) - set(symbols)):
        print(f"note: {name} is declared but not in the expression (its symbols: {', '.join(symbols)})")


def _shapes(text: str, shapes, assume) -> int:
    from .reader import read
    r = read(text, shapes, assume)
    print(f"read as: {r.read_as}")
    print(f"paper:   {r.expr.to_unicode()}")
    print(f"shape:   {r.expr.shape}")
    if r.style == "numpy":
        print("vectors: " + ("1-D arrays, as NumPy's (n,)" if r.vectors == "1-D" else
                             "columns (n, 1): the text transposes a vector"))
    print("symbols:")
    width = max(len(n) for n in r.symbols) if r.symbols else 0
    for name, s in r.symbols.items():
        props = f"  ({', '.join(sorted(s.props))})" if s.props else ""
        declared = "declared" if name in shapes else "by convention"
        print(f"  {name:<{width}}  {s.shape}   {declared}{props}")
    if r.inferred:
        print(f"inferred dims: {', '.join(r.inferred)}")
    _unused(shapes, assume, r.symbols)
    print("tree:")
    stack = [(r.expr, 1)]
    while stack:
        node, depth = stack.pop()
        print(f"{'  ' * depth}{node}  : {node.shape}")
        stack.extend((c, depth + 1) for c in reversed(node.children))
    return 0


def _check(args, shapes, assume, parser) -> int:
    from .check import check_gradient, check_program
    if args.program:
        if args.expr or args.claim:
            parser.error("--program takes no EXPR or --claim")
        text = _read_program(args.program, parser)
        result = check_program(text, loss=args.loss, shapes=shapes, assume=assume, seed=args.seed)
        print(result.explain())
        bad = [n for n, c in result.claims.items() if not c.ok]
        print(f"{len(result.claims) - len(bad)} of {len(result.claims)} gradient lines correct"
              + (f"; check {', '.join(bad)}" if bad else ""))
        return 0 if result.ok else 1
    rest = list(args.rest)
    if rest and rest[0] == "wrt":
        rest = rest[1:]
    if not args.expr or len(rest) != 1 or not args.claim:
        parser.error('say what to check: matdiff check EXPR wrt VAR --claim FORMULA, or --program FILE')
    r = check_gradient(args.expr, rest[0], args.claim, shapes, assume, seed=args.seed)
    print(r.explain())
    return 0 if r.ok else 1


def _read_program(path: str, parser) -> str:
    """The text of --program FILE (`-`: standard input), which must be UTF-8."""
    try:
        if path == "-":
            stream = sys.stdin
            if stream is None:
                parser.error("--program -: there is no standard input to read")
            data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as e:
        parser.error(f"cannot read {path}: {e.strerror or e}")
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        parser.error(f"cannot read {'standard input' if path == '-' else path}: it is not UTF-8 text "
                     f"(byte 0x{data[e.start]:02x} at offset {e.start})")


def _matrices(d, what: str) -> list[tuple[str, str, object]]:
    """(key, label, Expr) for --jacobian, --hessian or --kron: the key names the matrix for a
    program (x; x,y for a Hessian block; hvp:x), the label says what it means."""
    out = []
    if what == "jacobian":
        for name, j in d.jacobians.items():
            var = d.variables[name]
            if var.shape.cols == 1 or var.shape.is_scalar:
                meaning = ("numerator layout, DF[v] = J v" if d.layout == "numerator"
                           else "denominator layout, J = (∇f₁, …, ∇fₘ), DF[v] = Jᵀv")
            else:
                meaning = f"Kronecker form, vec DF[V] = J vec V, column-major vec{', transposed' if d.layout == 'denominator' else ''}"
            out.append((name, f"J_{name} ({meaning}; {j.shape})", j))
    elif what == "hessian":
        for (a, b), h in d.hessians.items():
            name = f"∇²_{a} f" if a == b else f"∂²f/∂{a}∂{b}"
            kron = not (d.variables[a].shape.cols == 1 and d.variables[b].shape.cols == 1)
            out.append((f"{a},{b}", f"{name} ({'Kronecker form, vec D(∇f)[V] = H vec V, column-major vec; ' if kron else ''}{h.shape})", h))
        for name, v in d.hvps.items():
            out.append((f"hvp:{name}", f"D(∇_{name} f)[{', '.join(x.name for x in d.directions.values())}] (Hessian-vector product)", v))
    elif what == "kron":
        for name, k in d.krons.items():
            meaning = ("Hessian, Kronecker form: vec D(∇f)[V] = K vec V" if d.expr.shape.is_scalar
                       else "vec DF[V] = K vec V")
            out.append((name, f"K_{name} ({meaning}, column-major vec; {k.shape})", k))
    return out


def _derive(text, wrt, shapes, assume, fmt, verify, seed, what=None, layout="numerator", plain=False,
            steps=False) -> int:
    from .derivation import derive
    from .errors import MatdiffError
    d = derive(text, wrt, shapes, assume, layout=layout)
    show = {"unicode": lambda e: e.to_unicode(), "latex": lambda e: e.to_latex()}.get(fmt, str)
    scalar = d.expr.shape.is_scalar
    if what == "hessian" and not scalar:
        raise MatdiffError(f"{d.expr} is {d.expr.shape}, not a scalar: the Hessian needs a scalar function",
                           hint="use --jacobian or --kron for a vector- or matrix-valued function")
    grads = d.gradients if scalar and what is None else {}
    mats = _matrices(d, what) if what else []
    report = None
    if verify:
        from .check import check_sizes
        from .verify import verify_directional, verify_matrix
        check_sizes(d.symbols.values())
        if what == "jacobian" or (what == "kron" and not scalar):
            report = verify_matrix(d, "jacobian", seed=seed)
        elif what in ("hessian", "kron"):
            report = verify_matrix(d, "hessian", seed=seed)
        else:
            report = d.verify(seed=seed) if scalar else verify_directional(d, seed=seed)
    dirs = ", ".join(f"{v.name} for {k}" for k, v in d.directions.items())
    kind = what or "gradient"
    taken = (d.steps() + (d.jacobian_steps() if what == "jacobian" else [])) if steps else []

    if fmt == "numpy":
        if not scalar and what is None:
            raise MatdiffError(f"{d.expr} is {d.expr.shape}, not a scalar: it has no gradient to emit",
                               hint="use --jacobian or --kron for its derivative as a matrix")
        print(d.to_numpy(kind), end="")
    elif fmt == "json":
        out = {"input": text, "read_as": d.reading.read_as,
               "shapes": {n: s.shape.spec() or "scalar" for n, s in d.symbols.items()},
               "result_shape": d.expr.shape.spec() or "scalar",
               "wrt": d.wrt, "directions": {k: v.name for k, v in d.directions.items()},
               "directional": str(d.directional),
               "gradient": {k: str(v) for k, v in d.gradients.items()} if scalar else None,
               "numpy": d.to_numpy(kind) if scalar or what else None}
        if what:
            out["layout"] = d.layout
            out[what] = {key: {"expr": str(m), "shape": f"{m.shape.rows},{m.shape.cols}", "meaning": label}
                         for key, label, m in mats}
        if report is not None:
            out["verify"] = {"ok": report.ok, "max_rel_error": report.max_rel_error,
                             "sizes": report.sizes, "seed": report.seed}
        if steps:
            out["steps"] = [s.to_json() for s in taken]
        print(json.dumps(out, indent=2, ensure_ascii=plain))
    else:
        lines = [f"read as:  {d.reading.read_as}"]
        if fmt != "text":
            lines.append(f"paper:    {d.expr.to_unicode()}")
        shapes_line = ", ".join(f"{n}: {s.shape}" for n, s in d.symbols.items())
        lines.append(f"shapes:   {shapes_line}  →  f: {d.expr.shape}")
        var = ", ".join(d.wrt)
        dnames = ", ".join(v.name for v in d.directions.values())
        lines.append(f"direction: {dirs}")
        lines.append(f"DF|{var}[{dnames}] = {show(d.directional)}")
        for name, g in grads.items():
            lines.append(f"∇_{name} f = {show(g)}" + (f"    ({d.variables[name].shape})"))
        sym = [n for n in d.wrt if d.variables[n].props & {"symmetric", "spd"}]
        if sym and grads:
            lines.append(f"note: {', '.join(sym)} symmetric: the gradient is sym(G) = (G + Gᵀ)/2, "
                         "the gradient on the space of symmetric matrices")
        if not scalar and what is None:
            lines.append(f"note: f is {d.expr.shape}, not a scalar, so it has no gradient; "
                         "DF|X[V] above is its derivative (--jacobian, --kron for its matrix)")
        for _, label, m in mats:
            lines.append(f"{label}:\n    {show(m)}")
        if steps:
            lines.append("steps:")
            for i, s in enumerate(taken, 1):
                lines.append(f"  {i}. " + (s.to_latex() if fmt == "latex" else f"{s.to_unicode()}\n       ({s.why})"))
        if report is not None:
            lines.append(str(report))
        print("\n".join(lines))
        _unused(shapes, assume, d.symbols)
    if report is not None and not report.ok:
        print(f"matdiff: verification FAILED: {report.max_rel_error:.2e} > {report.tolerance:.0e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":   # pragma: no cover
    raise SystemExit(main())
