"""Parse + shape-check time of a ~200-node expression, against Python's own tokenizer on the same text."""

from __future__ import annotations

import ast
import io
import time
import tokenize

from _common import header, ms, paired_median_times

TARGET_MS = 5.0

# Realistic terms (quadratic forms, least squares, logistic loss, log det, a small network, …);
# the index i gives each copy its own symbols, so the expression has ~200 distinct nodes.
TERMS = [
    "x{i}.T @ A{i} @ x{i}",
    "norm(A{i} @ x{i} - b{i})**2",
    "sum(log(1 + exp(-y{i} * (X{i} @ w{i}))))",
    "lam * norm(w{i})**2",
    "trace(inv(S{i}) @ B{i})",
    "logdet(S{i})",
    "sum((V{i} @ tanh(W{i} @ z{i} + c{i}) + d{i} - t{i})**2)",
    "logsumexp(W{i} @ z{i} + c{i})",
    "sum(sigmoid(B{i} @ x{i}) * x{i})",
    "trace(C{i}.T @ S{i} @ C{i})",
    "0.5 * norm(X{i}.T @ y{i} - w{i})**2",
    "sum(softplus(W{i} @ z{i}) - relu(c{i}))",
]
TEXT = " + ".join([t.format(i=i) for i in range(1, 4) for t in TERMS][:31])


def python_tokenize(text: str) -> int:
    return sum(1 for _ in tokenize.generate_tokens(io.StringIO(text).readline))


def main() -> None:
    import matdiff

    header("bench_parse: matdiff.read() = parse + build the IR + infer and check every shape")

    start = time.perf_counter()
    reading = matdiff.read(TEXT)
    first = time.perf_counter() - start

    expr = reading.expr
    nodes = sum(1 for _ in expr.walk())
    tokens = python_tokenize(TEXT)
    print(f"expression: {len(TEXT)} characters, {tokens} Python tokens, {nodes} IR nodes "
          f"(distinct nodes from expr.walk()), {len(reading.symbols)} symbols, "
          f"{len(reading.inferred)} inferred dims, shape {expr.shape}")
    print(f"  {TEXT[:100]} …")
    print()

    fns = [lambda: matdiff.read(TEXT), lambda: python_tokenize(TEXT), lambda: ast.parse(TEXT, mode="eval")]
    try:   # text → syntax tree alone (lark's LALR tables run by matdiff; a private function: skip the line if it moves)
        from matdiff.syntax import syntax_tree as _syntax_tree
        fns.append(lambda: _syntax_tree(TEXT))
    except ImportError:
        pass
    parse_t, tok_t, ast_t, *rest = paired_median_times(fns, repeat=31, warmup=3)
    lark_t = rest[0] if rest else None

    print(f"first call in this process    {ms(first)}   (includes building the LALR parser once)")
    print(f"matdiff.read, median          {ms(parse_t)}   target < {TARGET_MS:.0f} ms: "
          f"{'met' if parse_t * 1e3 < TARGET_MS else 'NOT met'}")
    if lark_t is not None:
        print(f"  of which text → syntax tree {ms(lark_t)}   ({lark_t / parse_t:.0%}; the rest builds the IR, "
              f"checks shapes and names the dims)")
    print(f"  per IR node                 {parse_t / nodes * 1e6:8.1f} µs")
    print()
    print("baselines on the same text, same process, interleaved with the measurement above:")
    print(f"  tokenize.generate_tokens    {ms(tok_t)}   matdiff.read / tokenize = {parse_t / tok_t:6.1f}×"
          f"   (the baseline: pure-Python lexing only)")
    print(f"  ast.parse(mode='eval')      {ms(ast_t)}   matdiff.read / ast.parse = {parse_t / ast_t:6.1f}×"
          f"   (CPython's C parser, for scale)")


if __name__ == "__main__":
    main()
