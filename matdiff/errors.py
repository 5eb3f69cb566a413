"""The errors matdiff raises. Every one is a MatdiffError that can quote the input with a caret
line under the offending span, name the shapes involved and suggest a likely fix."""

from __future__ import annotations


class MatdiffError(Exception):
    """Base class: `message`, optional `text` + `span` (start, end offsets), optional `hint`."""

    kind = "error"

    def __init__(self, message: str, *, text: str | None = None,
                 span: tuple[int, int] | None = None, hint: str | None = None):
        self.message = message
        self.text = text
        self.span = span
        self.hint = hint
        super().__init__(self.render())

    @property
    def column(self) -> int | None:
        """0-based offset of the caret's first column within its line, or None."""
        if self.span is None or self.text is None:
            return None
        start = self.span[0]
        return start - (self.text.rfind("\n", 0, start) + 1)

    def render(self) -> str:
        lines = [self.message]
        if self.text is not None and self.span is not None:
            lines += caret_lines(self.text, self.span)
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


def caret_lines(text: str, span: tuple[int, int]) -> list[str]:
    """The line of `text` holding span[0], and a caret line under the span (one caret at end of input)."""
    start, end = span
    start = max(0, min(start, len(text)))
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    if line_end < 0:
        line_end = len(text)
    line = text[line_start:line_end]
    end = max(start + 1, min(end, line_end))
    shown = "".join(c if c.isprintable() else " " if c.isspace() else "?" for c in line)   # one column each
    return ["  " + shown, "  " + " " * (start - line_start) + "^" * (end - start)]


class ParseError(MatdiffError):
    """The text is not an expression of matdiff's language."""
    kind = "parse error"


class UnknownFunctionError(ParseError):
    """A name used as a function is not a known function."""


class ShapeError(MatdiffError):
    """Dimensions do not fit, or a result has the wrong shape for what was asked."""
    kind = "shape error"


class ShapeSpecError(MatdiffError):
    """A declared shape (`--shape A=n,m` or `shapes=`) could not be read."""
    kind = "shape error"


class AssumptionError(MatdiffError):
    """An `assume` property is unknown or does not fit the symbol's shape."""
    kind = "assumption error"


class DerivationError(MatdiffError):
    """What was asked cannot be derived (unknown variable, non-scalar gradient, ...)."""
    kind = "derivation error"


class DomainError(MatdiffError):
    """Inputs outside an operation's domain (log of a negative number, singular matrix, ...)."""
    kind = "domain error"


class VerificationError(MatdiffError):
    """A derived result failed its finite-difference check."""
    kind = "verification error"
