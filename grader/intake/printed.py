"""What a cell's code can print, and what printed output looks like.

Two stages need to tell output from code without running anything: the reader of
notebooks exported as text (where a cell's output follows its code with nothing but blank
lines in between) and the notebook facts (which flag output that the code beside it can no
longer produce). Both ask the same questions, answered here from the syntax tree alone:

* which lines the ``print`` calls of some code can produce (`print_templates`);
* which text the code contains at all, outside docstrings (`string_fragments`);
* whether a line or a block looks like a value's repr (``tensor([...])``,
  ``torch.Size([35, 20])``, ``Weights:  torch.Size(...)``) rather than a statement.

Nothing here executes code: ``ast.parse`` only reads it.
"""

from __future__ import annotations

import ast
import functools
import re
import warnings

# Names whose call with literal arguments is what a repr prints, never what code writes:
# `torch.Size([35, 20])` as a statement would compute a value and throw it away.
REPR_CALLS = frozenset(
    {"tensor", "Tensor", "Size", "array", "Parameter", "device", "dtype", "DataFrame", "Series"}
)

# The first line of a block that can only be output: a repr, a traceback, a rule, a number.
_REPR_LINE = re.compile(
    r"""^\s*(
        (tensor|array|Parameter\ containing|torch\.Size|Size)\b   # torch / numpy reprs
      | <[\w.]+(\ object)?\ at\ 0x[0-9a-f]+>                       # default object repr
      | Traceback\ \(most\ recent\ call\ last\)
      | \w+(Error|Exception|Warning):\s                            # an exception's message
      | Out\s*\[\s*\d*\s*\]:                                       # an IPython result marker
      | [-=_*|+]{5,}\s*$                                           # a printed rule
      | [\[(]+\s*[-+]?(\d|\.\.\.)                                  # a list/tuple of numbers
      | [-+]?\d+(\.\d+)?([eE][-+]?\d+)?\s*$                        # a bare number
      | (True|False|None)\s*$
    )""",
    re.VERBOSE,
)

# Markdown a text export shows between cells: headings, emphasis, lists, maths, links.
_MARKDOWN_LINE = re.compile(
    r"""^(\s{0,3}\#{1,6}\s+\S        # heading
        | \s*\*\*\S                  # bold lead-in
        | \s{0,3}>\s                 # quote
        | \s{0,3}(```|~~~)           # fence
        | .*\$[^$\s][^$]*\$          # inline maths
        | .*\]\(https?://            # link
    )""",
    re.VERBOSE,
)

# The first line of a statement: a keyword, an assignment, a call, a decorator, a comment,
# or an indented line (inside a block). Prose and printed lines rarely start this way.
_CODE_LINE = re.compile(
    r"""^(
        \s+\S
      | (def|class|import|from|for|while|if|elif|else|try|except|finally|with|return|async
        |await|assert|raise|del|global|nonlocal|pass|break|continue|yield|lambda|print)\b
      | @\w
      | [A-Za-z_][\w.]*(\[[^\]]*\])?\s*([-+*/%&|^@]|//|\*\*|>>|<<)?=(?!=)   # (augmented) assignment
      | [A-Za-z_][\w.]*\s*:\s*[A-Za-z_][\w.\[\],\ ]*=                     # annotated assignment
      | [A-Za-z_]\w*(\s*,\s*[A-Za-z_]\w*)+\s*=(?!=)                       # unpacking
      | [A-Za-z_][\w.]*\(                                                # a call
      | \#
    )""",
    re.VERBOSE,
)

# A printed "label: value" line, e.g. "Number of tokens in training data: 924412".
_LABEL = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 _'/-]{1,60}?):\s")

# Labels that library code prints on its own (warnings, errors, download progress).
_LIBRARY_LABEL = re.compile(r"(Warning|Error|Exception|Downloading|Extracting|Note)$")


def parse_quietly(text: str) -> ast.Module | None:
    """``ast.parse`` that returns ``None`` instead of raising on anything a hostile or
    broken text can provoke (syntax errors, null bytes, absurd nesting)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences warn at parse time
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


# --- what code can print -----------------------------------------------------------------


Template = tuple[str, ...]
"""What one ``print`` shows: literal pieces with a computed part between each two."""


def print_templates(tree: ast.AST) -> tuple[Template, ...]:
    """A `Template` for each ``print(...)`` in ``tree``: literal text is kept, every
    computed part becomes a gap. ``print(f"loss {loss:5.2f}")`` gives ``("loss ", "")``;
    ``print("a", x, "b")`` gives ``("a ", " b")``.

    Calls with ``end=``/``file=`` or multi-line literals are left out (their lines do not
    map one to one), and so are calls with less than two literal characters, such as
    ``print(x)``: they could print any line, so they explain none."""
    templates = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _callee(node) == "print"):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        if "end" in keywords or "file" in keywords:
            continue
        sep = keywords.get("sep")
        separator = sep.value if isinstance(sep, ast.Constant) else " "
        pieces: list[str | None] = []  # None marks a computed part
        for n, arg in enumerate(node.args):
            shown = _pieces(arg)
            if shown is None or not isinstance(separator, str):
                break
            pieces += ([separator] if n else []) + shown
        else:
            template = _join(pieces)
            if sum(len(t.strip()) for t in template) >= 2:
                templates.append(template)
    return tuple(templates)


@functools.lru_cache(maxsize=64)
def templates_of(source: str) -> tuple[Template, ...]:
    """`print_templates` of source text (cached: many output blocks may ask about one cell)."""
    tree = parse_quietly(source)
    return print_templates(tree) if tree else ()


def explained(line: str, templates: tuple[Template, ...]) -> bool:
    """Whether some print template produces ``line`` exactly (trailing spaces aside).
    Matched piece by piece with ``str.find``, in linear time whatever the input."""
    return any(_matches(t, line.rstrip()) for t in templates)


def string_fragments(tree: ast.AST) -> tuple[str, ...]:
    """Every piece of literal text in ``tree`` outside docstrings: string constants and the
    literal parts of f-strings. A printed label must come from one of them."""
    docstrings = {id(doc) for doc in _docstring_nodes(tree)}
    fragments = []
    for node in ast.walk(tree):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and id(node) not in docstrings and node.value.strip():
            fragments.append(node.value)
    return tuple(fragments)


def output_label(line: str) -> str | None:
    """The ``label:`` a printed line starts with (``"Weights:"`` in ``"Weights:  torch.Size(...)"``),
    or ``None`` when it has none or the label is one library code prints by itself."""
    match = _LABEL.match(line)
    if not match or _LIBRARY_LABEL.search(match.group(1)):
        return None
    return match.group(1).strip() + ":"


def can_print(tree: ast.Module) -> bool:
    """Whether running ``tree`` could show anything: it calls something or imports a
    module (either may print or warn), or ends with a bare expression (whose value a
    notebook displays)."""
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        return True
    shows = (ast.Call, ast.Import, ast.ImportFrom)
    return any(isinstance(node, shows) for node in ast.walk(tree))


# --- what output looks like ----------------------------------------------------------------


def looks_like_repr_line(line: str) -> bool:
    """Whether ``line`` reads as a value's repr, a traceback or a printed rule."""
    return bool(_REPR_LINE.match(line))


def looks_like_code_line(line: str) -> bool:
    """Whether ``line`` starts the way a Python statement does. Used only for text that
    does not parse, to tell code with a syntax error from prose or output."""
    return bool(_CODE_LINE.match(line))


def looks_like_markdown_line(line: str) -> bool:
    """Whether ``line`` reads as Markdown prose (heading, emphasis, list, maths, link)."""
    return bool(_MARKDOWN_LINE.match(line))


def is_value_display(tree: ast.Module) -> bool:
    """Whether every statement of ``tree`` is what a repr looks like when parsed as Python:
    a literal, a call of a repr name with literal arguments (``torch.Size([35, 20])``,
    ``tensor([[99, ...]], device='mps:0')``), or a printed ``label: value`` line, which
    parses as an annotation with no target use (``Weights: torch.Size([20, 2, 35, 35])``).
    No one writes such statements as code: they compute a value and discard it."""
    if not tree.body:
        return False
    for stmt in tree.body:
        if isinstance(stmt, ast.Expr) and _is_repr_value(stmt.value):
            continue
        if (
            isinstance(stmt, ast.AnnAssign)
            and stmt.value is None
            and isinstance(stmt.target, ast.Name)
            and _is_repr_value(stmt.annotation)
        ):
            continue
        return False
    return True


# --- helpers -----------------------------------------------------------------------------------


def _is_repr_value(node: ast.expr) -> bool:
    if _is_literal(node):
        return not isinstance(node, ast.Constant) or not isinstance(node.value, str)
    if isinstance(node, ast.Call) and _callee(node).rsplit(".", 1)[-1] in REPR_CALLS:
        return all(_is_literal(a) for a in node.args) and all(
            _is_literal(k.value) for k in node.keywords
        )
    return False


def _is_literal(node: ast.expr) -> bool:
    """A constant, a container of literals, or a negated number."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(_is_literal(e) for e in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _is_literal(node.operand)
    return False


def _callee(call: ast.Call) -> str:
    """Dotted name of what ``call`` calls (``torch.Size``), or ``""`` when it is computed."""
    parts = []
    node: ast.expr = call.func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    parts.append(node.id)
    return ".".join(reversed(parts))


def _pieces(arg: ast.expr) -> list[str | None] | None:
    """What one print argument shows: literal text and ``None`` for computed parts;
    ``None`` as a whole when its literal text spans lines."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return None if "\n" in arg.value else [arg.value]
    if isinstance(arg, ast.JoinedStr):
        parts = [_pieces(v) if isinstance(v, ast.Constant) else [None] for v in arg.values]
        return None if None in parts else [p for part in parts if part for p in part]
    if (  # "text {}".format(...)
        isinstance(arg, ast.Call)
        and isinstance(arg.func, ast.Attribute)
        and arg.func.attr == "format"
        and isinstance(arg.func.value, ast.Constant)
        and isinstance(arg.func.value.value, str)
    ):
        return _split_placeholders(arg.func.value.value, r"\{[^{}]*\}")
    if (  # "text %d" % value
        isinstance(arg, ast.BinOp)
        and isinstance(arg.op, ast.Mod)
        and isinstance(arg.left, ast.Constant)
        and isinstance(arg.left.value, str)
    ):
        return _split_placeholders(arg.left.value, r"%[-+ #0-9.]*[sdifgeExXr]")
    return [None]


def _split_placeholders(text: str, placeholder: str) -> list[str | None] | None:
    if "\n" in text:
        return None
    pieces: list[str | None] = []
    for n, literal in enumerate(re.split(placeholder, text)):
        pieces += ([None] if n else []) + [literal]
    return pieces


def _join(pieces: list[str | None]) -> Template:
    """Literal runs between computed parts: ``["a", None, "b", "c"]`` -> ``("a", "bc")``."""
    segments = [""]
    for piece in pieces:
        if piece is None:
            segments.append("")
        else:
            segments[-1] += piece
    return tuple(segments)


def _matches(template: Template, text: str) -> bool:
    """Whether ``text`` is the literal pieces of ``template`` in order, with anything in
    each gap. Taking each middle piece at its leftmost place is always safe: it leaves the
    most room for the pieces after it."""
    first, last = template[0], template[-1].rstrip()
    if len(template) == 1:
        return text == first.rstrip()
    if not (text.startswith(first) and text.endswith(last)):
        return False
    position, end = len(first), len(text) - len(last)
    if position > end:
        return False
    for piece in template[1:-1]:
        found = text.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def _docstring_nodes(tree: ast.AST) -> list[ast.Constant]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.append(body[0].value)
    return found
