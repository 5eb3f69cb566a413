"""Text → syntax tree. Lark compiles grammars/matdiff.lark into LALR(1) tables (once, cached);
_Machine runs them, calling a lark transformer whose methods make small Nodes with spans,
flattening chains so that depth stays small. _Machine reads lark's private tables: where a lark
release has changed them, lark's own (slower) runtime parses instead, to the same trees. Every
failure becomes a ParseError quoting the input with a caret. reader.py turns the tree into an Expr."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from .errors import MatdiffError, ParseError

# The stated limits of reading (module attributes, read at each call: set them to change them).
# Past either, reading stops with a ParseError that names the limit. Both sit well above
# realistic use: a 64-layer MLP written out, tanh(W64 @ … tanh(W1 @ x + b1) … + b64), is 196
# levels deep and 1.2 kB long; 50 000 characters read in about a second at worst.
MAX_DEPTH = 256          # nesting of operations (parentheses alone do not count)
MAX_LENGTH = 50_000      # characters in one expression (one line of a program)
OPEN, CLOSE = "\ue000", "\ue001"


# -- the syntax tree ---------------------------------------------------------------------------

class Node:
    """`depth` counts the levels of operations the reading will nest: a chain (a + b − c, A @ B @ C,
    AXC) is one level, but a run of divisions or of mixed products nests one level per change
    (a / b / c is (a / b) / c), and each function name in a paper product one more (log det X);
    `nest` is what a chain adds that way."""
    __slots__ = ("kind", "span", "kids", "value", "depth", "nest")

    def __init__(self, kind, span, kids=(), value=None):
        self.kind, self.span, self.kids, self.value = kind, span, list(kids), value
        depth = 0
        for k in self.kids:
            if k.depth > depth:
                depth = k.depth
        self.depth = depth + 1
        self.nest = 0


_SUBSCRIPT_DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")

# operators whose runs are read as one n-ary product (A @ B @ C, a * b ⊙ c): op → the IR op
PRODUCT_RUNS = {"@": "matmul", "*": "mul", "⊙": "mul", "∘": "mul"}


def _nests(kind: str, previous, op, right: Node) -> int:
    """1 when appending `op right` to a chain nests the chain one level deeper (see Node)."""
    if kind == "product":
        run = PRODUCT_RUNS.get(op[0])
        return 0 if previous is None or (run is not None and run == PRODUCT_RUNS.get(previous[0])) else 1
    if kind == "juxt":
        return 1 if _is_function_word(right) else 0
    return 0


def _is_function_word(node: Node) -> bool:
    """A name that a paper product applies as a function to what follows it (tr AXC, log det X)."""
    if node.kind != "name":
        return False
    from .expr import SPELLINGS
    op = SPELLINGS.get(node.value)
    return op is not None and op.arity != 0


def _span(x) -> tuple[int, int]:
    if isinstance(x, Node):
        return x.span
    return (x.start_pos, x.end_pos)


def _join(a, b) -> tuple[int, int]:
    return (_span(a)[0], _span(b)[1])


def _tree_builder():
    from lark import Transformer

    class ToNodes(Transformer):
        """Runs inside the LALR parser (no recursion); flattens chains so depth stays small."""

        def _node(self, kind, span, kids=(), value=None):
            n = Node(kind, span, kids, value)
            if n.depth > MAX_DEPTH:
                raise _TooDeep(span)
            return n

        def number(self, c):
            return self._node("number", _span(c[0]), value=str(c[0]))

        def fraction(self, c):
            return self._node("fraction", _span(c[0]), value=str(c[0]))

        def name(self, c):
            value = str(c[0]).translate(_SUBSCRIPT_DIGITS)   # W₁ is W1 (same length: spans hold)
            if value.endswith("}"):          # W_{1} is W_1
                value = value.replace("_{", "_")[:-1]
            return self._node("name", _span(c[0]), value=value)

        def call(self, c):
            name, args, close = c
            return self._node("call", _join(name, close), args or [], value=str(name).translate(_SUBSCRIPT_DIGITS))

        def method(self, c):
            obj, name, args, close = c     # Z.sum(axis=0): the object, then the arguments
            return self._node("method", _join(obj, close), [obj] + (args or []), value=str(name)[1:-1])

        def keyword(self, c):
            name, _, value = c
            return self._node("keyword", _join(name, value), [value], value=str(name))

        def index(self, c):
            obj, _, subs, close = c
            return self._node("index", _join(obj, close), [obj] + subs)

        def subscripts(self, c):
            return list(c)

        def slice(self, c):
            start, colon, stop = c         # a:b, :b, a:, : (a bound left out is None)
            span = (_span(start or colon)[0], _span(stop or colon)[1])
            return self._node("slice", span, [k for k in (start, stop) if k is not None],
                              value=(start is not None, stop is not None))

        def args(self, c):
            return list(c)

        def group(self, c):
            node = Node("group", _join(c[0], c[2]), [c[1]])
            node.depth = c[1].depth  # parentheses alone do not nest operations
            return node

        def norm(self, c):
            open_, inner, close, sub = c
            end = sub.end_pos if sub is not None else close.end_pos
            return self._node("norm", (open_.start_pos, end), [inner], value=str(sub) if sub else None)

        def _chain(self, kind, left, op, right):
            if left.kind == kind:
                step = _nests(kind, left.value[-1], op, right)
                left.kids.append(right)
                left.value.append(op)
                left.span = _join(left, right)
                left.nest += step
                left.depth = max(left.depth + step, 1 + left.nest + right.depth)
                if left.depth > MAX_DEPTH:
                    raise _TooDeep(left.span)
                return left
            node = Node(kind, _join(left, right), [left, right], value=[None, op])
            node.nest = _nests(kind, None, op, right) + (kind == "juxt" and _is_function_word(left))
            node.depth += node.nest
            if node.depth > MAX_DEPTH:
                raise _TooDeep(node.span)
            return node

        def add(self, c):
            return self._chain("sum", c[0], "+", c[2])

        def sub(self, c):
            return self._chain("sum", c[0], "-", c[2])

        def binary(self, c):
            return self._chain("product", c[0], (str(c[1]), _span(c[1])), c[2])

        def juxt(self, c):
            return self._chain("juxt", c[0], None, c[1])

        def compare(self, c):
            return self._node("compare", _join(c[0], c[2]), [c[0], c[2]], value=str(c[1]))

        def neg(self, c):
            return self._node("neg", _join(c[0], c[1]), [c[1]])

        def pos(self, c):
            return c[1]

        def pow(self, c):
            return self._node("pow", _join(c[0], c[2]), [c[0], c[2]])

        def caret(self, c):
            return self._node("caret", _join(c[0], c[2]), [c[0], c[2]])

        def transpose(self, c):
            return self._node("transpose", _join(c[0], c[1]), [c[0]])

        def superscript(self, c):
            return self._node("superscript", _join(c[0], c[1]), [c[0]], value=str(c[1]))

    return ToNodes()


class _TooDeep(Exception):
    def __init__(self, span):
        self.span = span


class _Token(str):
    """A terminal: its text, its grammar name and where it stands in the input."""

    __slots__ = ("type", "start_pos", "end_pos")

    def __new__(cls, type_, value, start, end):
        tok = str.__new__(cls, value)
        tok.type, tok.start_pos, tok.end_pos = type_, start, end
        return tok


class _Machine:
    """Lark compiles the grammar into LALR(1) tables (once, cached on disk); this class runs
    them. Lark's own runtime is general (line and column tracking, Rule objects hashed in
    Python on every reduction) and spent ~3 µs per token; here the lexer is the grammar's
    terminals joined into one regex, in lark's order (priority, then longest possible match),
    and a reduction is a tuple lookup. A one-child `?rule` passes its child through without a
    call; every other rule calls lark's callback for it, which drops anonymous tokens and
    calls the ToNodes method named by the rule's alias."""

    def __init__(self, lark_parser):
        conf = lark_parser.lexer_conf
        terminals = sorted(conf.terminals, key=lambda t: (-t.priority, -t.pattern.max_width,
                                                          -len(t.pattern.value), t.name))
        blank = "|".join(t.pattern.to_regexp() for t in terminals if t.name in conf.ignore)
        alternatives = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in terminals
                                if t.name not in conf.ignore)
        self.token_re = re.compile(f"(?:{blank})?(?:{alternatives})")
        self.blank_re = re.compile(f"(?:{blank})?")

        lalr = lark_parser.parser.parser.parser      # frontend → LALR_Parser → its table runner
        table, callbacks = lalr.parse_table, lalr.callbacks
        self.start, self.end = table.start_states["start"], table.end_states["start"]
        self.jumps: dict[tuple, int] = {}
        self.actions = [None] * (max(table.states) + 1)
        for state, row in table.states.items():
            self.actions[state] = {symbol: arg if action.name == "Shift" else self._reduction(arg, callbacks)
                                   for symbol, (action, arg) in row.items()}

    @staticmethod
    def _reduction(rule, callbacks):
        passthrough = rule.options.expand1 and rule.alias is None and len(rule.expansion) == 1
        return (len(rule.expansion), rule.origin.name, None if passthrough else callbacks[rule])

    def tokens(self, text: str):
        pos = 0
        for m in iter(self.token_re.scanner(text).match, None):
            kind = m.lastgroup
            start, pos = m.start(kind), m.end()
            yield _Token(kind, text[start:pos], start, pos)
        pos = self.blank_re.match(text, pos).end()
        if pos < len(text):
            raise _BadCharacter(pos)
        yield _Token("$END", "", pos, pos)

    def parse(self, text: str):
        actions, jumps, end = self.actions, self.jumps, self.end
        states, values = [self.start], []
        for tok in self.tokens(text):
            kind = tok.type
            while True:
                act = actions[states[-1]].get(kind)
                if act is None:
                    raise _UnexpectedToken(tok)
                if act.__class__ is int:                  # shift
                    states.append(act)
                    values.append(tok)
                    break
                size, origin, callback = act              # reduce
                if callback is None:
                    states.pop()
                else:
                    children = values[-size:]
                    del values[-size:], states[-size:]
                    values.append(callback(children))
                key = (states[-1], origin, kind)
                state = jumps.get(key) or self._jump(key)
                if state == end:
                    return values[-1]
                states.append(state)

    def _jump(self, key) -> int:
        """The state after reducing to `origin` on top of `below`, with the one-child `?rule`
        reductions that follow on the same lookahead already taken: they pop and push one state
        and keep the value, so a whole chain (atom → postfix → power → … → sum) is one step."""
        below, origin, kind = key
        actions = self.actions
        state = actions[below][origin]
        while state != self.end:
            act = actions[state].get(kind)
            if act.__class__ is not tuple or act[2] is not None:
                break
            state = actions[below][act[1]]
        self.jumps[key] = state
        return state


class _BadCharacter(Exception):
    def __init__(self, pos):
        self.pos = pos


class _UnexpectedToken(Exception):
    def __init__(self, token):
        self.token = token


class _LarkRuntime:
    """Lark's own LALR runtime, for a lark whose internals _Machine cannot read. It builds the
    same trees (tests/test_properties.py checks the two agree); its errors are turned into the
    runner's, so that syntax_tree reports both alike."""

    def __init__(self, lark_parser):
        self.lark = lark_parser

    def parse(self, text: str):
        from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken
        try:
            return self.lark.parse(text)
        except UnexpectedCharacters as e:
            raise _BadCharacter(e.pos_in_stream) from None
        except UnexpectedToken as e:
            tok = e.token
            if tok.type == "$END":
                raise _UnexpectedToken(_Token("$END", "", len(text), len(text))) from None
            start = tok.start_pos if tok.start_pos is not None else e.pos_in_stream
            end = tok.end_pos if tok.end_pos is not None else start + len(tok)
            raise _UnexpectedToken(_Token(tok.type, str(tok), start, end)) from None
        except UnexpectedEOF:
            raise _UnexpectedToken(_Token("$END", "", len(text), len(text))) from None


# read by _parser when it sets up the table runner: one text through most rules and terminals
_PROBE = "-‖x‖²_F + tr(X⁻¹ A)ᵀ ⊙ f(a, b) ** 2 - 1/2 xᵀAx @ W' ^ -1 * 2.5e-3 > (y) + {z} + Z.sum(axis=0)[1:, :2, None]"


@lru_cache(maxsize=1)
def _parser() -> _Machine | _LarkRuntime:
    """The parser, built once: the table runner, or lark's own runtime where the runner cannot
    be set up on the installed lark."""
    from lark import Lark
    lark_parser = Lark(_grammar_text(), parser="lalr", lexer="basic", maybe_placeholders=True,
                       propagate_positions=False, cache=True, transformer=_tree_builder())
    try:
        machine = _Machine(lark_parser)
        machine.parse(_mark_bars(_PROBE))
    except Exception:   # the runner reads lark's private attributes, which any release may change
        return _LarkRuntime(lark_parser)
    return machine


def _grammar_text() -> str:
    here = Path(__file__).resolve().parent
    for path in (here / "grammars" / "matdiff.lark", here.parent / "grammars" / "matdiff.lark"):
        if path.exists():
            return path.read_text(encoding="utf-8")
    raise MatdiffError("matdiff's grammar file is missing from this installation",
                       hint="reinstall matdiff (pip install --force-reinstall matdiff)")


def _mark_bars(text: str) -> str:
    """Tell opening norm bars from closing ones (same length, so spans stay true): a bar opens
    when no norm is open or when it cannot end an operand (it follows an operator or '(')."""
    out, depth, i = [], 0, 0
    prev = ""
    while i < len(text):
        ch = text[i]
        bar = 2 if text.startswith("||", i) else 1 if ch == "‖" else 0
        if bar:
            closing = depth > 0 and prev not in ("", "(", "[", "{", ",", "+", "-", "−", "*", "/", "@",
                                                  "^", "⊙", "∘", "·", OPEN)
            out.append(CLOSE if closing else OPEN)
            if bar == 2:
                out.append(" ")
            depth += -1 if closing else 1
            prev = CLOSE if closing else OPEN
            i += bar
            continue
        out.append(ch)
        if not ch.isspace():
            prev = ch
        i += 1
    return "".join(out)


def syntax_tree(text: str) -> Node:
    if len(text) > MAX_LENGTH:
        raise ParseError(f"the expression is {len(text):,} characters long, more than matdiff reads "
                         f"(the limit matdiff.syntax.MAX_LENGTH = {MAX_LENGTH:,})", text=text,
                         span=(MAX_LENGTH, len(text)), hint="split it into smaller expressions, "
                         "or raise matdiff.syntax.MAX_LENGTH")
    marked = _mark_bars(text) if ("‖" in text or "||" in text) else text
    try:
        return _parser().parse(marked)
    except _TooDeep as e:
        raise ParseError(f"expression nested too deeply: more than {MAX_DEPTH} levels of operations "
                         f"(the limit matdiff.syntax.MAX_DEPTH)", text=text, span=e.span,
                         hint="split it into smaller expressions, or raise matdiff.syntax.MAX_DEPTH") from None
    except _BadCharacter as e:
        raise _unexpected_char(text, e.pos) from None
    except _UnexpectedToken as e:
        raise _unexpected_token(text, e.token) from None
    except RecursionError:
        raise ParseError("cannot read the expression (RecursionError)", text=text,
                         span=(0, len(text))) from None


def _unexpected_char(text: str, pos: int) -> ParseError:
    ch = text[pos] if pos < len(text) else ""
    hints = {"|": "use abs(x) for the absolute value and ‖x‖ or norm(x) for the norm",
             "=": "write only the expression (no assignment); a keyword argument goes inside a call: sum(Z, axis=0)", ",": "commas separate function arguments only",
             "}": "unbalanced '}'", ")": "unbalanced ')'", ".": "the attributes are .T and methods such as .sum(axis=0), .dot(y), .reshape(-1, 1)",
             "_": "names start with a letter; a norm subscript follows the closing bar: ‖X‖_F"}
    shown = ch if ch.isprintable() and not ch.isspace() else repr(ch)
    return ParseError(f"unexpected character {shown!r}" if ch.isprintable() else f"unexpected character {shown}",
                      text=text, span=(pos, pos + 1), hint=hints.get(ch))


def _unexpected_token(text: str, tok) -> ParseError:
    if tok.type == "$END":
        pos = len(text)
        opened = text.count("(") - text.count(")")
        hint = ("add the missing ')'" if opened > 0 else
                "a norm bar is missing" if (text.count("‖") + 2 * text.count("||")) % 2 else
                "the expression ends with an operator; add its right operand")
        return ParseError("unexpected end of input", text=text, span=(pos, pos + 1), hint=hint)
    pos = tok.start_pos
    length = max(1, (tok.end_pos or pos + 1) - pos)
    value = str(tok).replace(OPEN, "‖").replace(CLOSE, "‖")
    hint = None
    if tok.type == "RPAR":
        hint = "unbalanced ')'" if text[:pos].count("(") <= text[:pos].count(")") else "an operand is missing before ')'"
    elif tok.type in ("PRODUCT_OP", "POW", "CARET"):
        hint = f"'{value}' needs an operand on its left"
    elif tok.type == "LBRACKET":
        hint = "array literals are not part of the language; name the matrix instead"
    elif tok.type == "NORM_CLOSE":
        hint = "an operand is missing before the closing bar"
    return ParseError(f"unexpected '{value}'", text=text, span=(pos, pos + length), hint=hint)


