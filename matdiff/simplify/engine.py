"""The rewriting engine. A rule is a pure Expr → Expr | None registered with `@rule(...)` for
the ops it rewrites, or for the ops whose record declares a fact; the driver simplifies the
children first, then tries at a node only the rules indexed by its op, in the order of RULES,
until none fires, asserting that every rewrite keeps the shape."""

from __future__ import annotations

from functools import lru_cache, wraps
from typing import Callable

from ..expr import Call, Expr, Op, call
from ..steps import Log
from .forms import op_fact, size_shown

MAX_REWRITES = 200  # per node; every rule terminates, this only guards against a bad interplay

Rule = Callable[[Expr], "Expr | None"]


def rule(*ops: str, fact: str | None = None, trial: bool = False) -> Callable[[Rule], Rule]:
    """Index a rule by the op names it rewrites, and/or by a fact that an op's record declares
    (`fact="elementwise"`: every op that says so); with neither it is generic, tried at every
    node. The rule's body sees only nodes of its ops; called directly on any other expression,
    the registered rule returns None. A function without these marks counts as generic.

    A `trial` rule (a factoring, an expansion) proposes a rewrite that may or may not pay: the
    driver simplifies the proposal and takes it only when that normal form is strictly smaller
    (size_shown) than the node, else goes on to the next rule. The rule never simplifies."""
    def mark(body: Rule) -> Rule:
        if not ops and fact is None and not trial:
            return body

        @wraps(body)
        def registered(e: Expr):
            return body(e) if isinstance(e, Call) and applies(registered, e.op) else None

        registered.ops, registered.fact, registered.body = frozenset(ops) if ops or fact else None, fact, body
        registered.trial = trial
        return registered
    return mark


def applies(r: Rule, op: Op | None) -> bool:
    """Whether the rule may fire at a node of `op` (None: a leaf)."""
    ops = getattr(r, "ops", None)
    if ops is None:
        return True
    if op is None:
        return False
    return op.name in ops or (r.fact is not None and bool(op_fact(op, r.fact)))


class RuleIndex:
    """op → the rules that may fire at its nodes, in the order given; filled as ops are met."""

    def __init__(self, rules: tuple):
        self.rules = rules
        self.leaf = tuple(_entry(r) for r in rules if applies(r, None))
        self.by_op: dict[Op, tuple] = {}     # (body, trial): the index has checked the op

    def __call__(self, e: Expr) -> tuple:
        if not isinstance(e, Call):
            return self.leaf
        found = self.by_op.get(e.op)
        if found is None:
            found = self.by_op[e.op] = tuple(_entry(r) for r in self.rules if applies(r, e.op))
        return found

    def table(self) -> dict[str, tuple[str, ...]]:
        """op name → rule names, for every op registered so far (for reading and the tests)."""
        from ..expr import OPS
        return {name: tuple(r.__name__ for r in self.rules if applies(r, op)) for name, op in OPS.items()}


def _entry(r: Rule) -> tuple:
    return getattr(r, "body", r), getattr(r, "trial", False)


@lru_cache(maxsize=8)
def index_for(rules: tuple) -> RuleIndex:
    return RuleIndex(rules)


# the names of the rules that rewrote something inside a `with rules_fired()` block, in order
# (for the steps of a derivation)
RULES_FIRED = Log("matdiff_rules_fired")
rules_fired = RULES_FIRED.open


def run(e: Expr, rules: tuple) -> Expr:
    """The fixpoint of `rules` over e: children first, then the node's own rules until none fires.
    Shared subexpressions are simplified once (one memo per call)."""
    rules_at = index_for(rules)
    memo: dict[Expr, Expr] = {}
    fired = RULES_FIRED.current()

    def go(node: Expr, budget: int = MAX_REWRITES) -> Expr:
        hit = memo.get(node)
        if hit is not None:
            return hit
        out = node
        if isinstance(node, Call):
            out = call(node.op, *(go(a) for a in node.args), params=node.params)
            if isinstance(out, Call) and out.op is not node.op and any(a not in memo for a in out.args):
                # the constructor made a new node (a product pulled out of a scalar multiple)
                out = call(out.op, *(go(a) for a in out.args), params=out.params)
        for _ in range(budget):
            for r, trial in rules_at(out):
                new = r(out)
                if new is None or new == out:
                    continue
                assert new.shape == out.shape, f"{r.__name__} changed {out.shape} to {new.shape}"
                if trial:
                    noted = len(fired) if fired is not None else 0
                    new = go(new, budget - 1)
                    if size_shown(new) >= size_shown(out):
                        if fired is not None:
                            del fired[noted:]   # what the trial fired was not taken either
                        continue          # it does not pay: not taken
                    out = new
                else:
                    out = go(new, budget - 1) if isinstance(new, Call) and new is not out else new
                if fired is not None:
                    fired.append(r.__name__)
                break
            else:
                break
        memo[node] = out
        memo[out] = out
        return out

    return go(e)


def first_of(rules: tuple, e: Expr) -> Expr | None:
    """The rewrite of the first of `rules` that fires at e (one step, no fixpoint)."""
    for r in rules:
        new = r(e)
        if new is not None and new != e:
            return new
    return None
