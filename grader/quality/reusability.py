"""Static reusability findings: what stops a function from being called anywhere else.

A function is reusable when everything it depends on comes in through its parameters, and
every parameter does something. These rules find what does not: numbers fixed in its body
(``reuse.magic-number``), local settings a caller cannot change (``reuse.hardcoded-setting``),
notebook variables read from inside (``reuse.notebook-global``), defaults shared between
calls (``reuse.mutable-default``) and parameters it ignores (``reuse.unused-parameter``).
One rule looks at the whole program: a causal mask built inline in several places instead
of by one function (``reuse.inline-mask``). Repeated blocks are in
`grader.quality.duplication`. Module-level numbers and variables are not judged: a
notebook's configuration cell is the right place for them.
"""

from __future__ import annotations

import ast
import re
import symtable

from grader.config import QualityConfig
from grader.quality.source import (
    FunctionNode,
    Program,
    call_name,
    dotted_name,
    finding_at,
    is_triangle,
    method_name,
    own_nodes,
)
from grader.result import Finding, Severity

# symtable names the scopes of comprehensions and lambdas; they belong to the def around them.
_INNER_SCOPES = {"listcomp", "setcomp", "dictcomp", "genexpr", "lambda"}
_CAP_WORDS = re.compile(r"^[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$")
_MUTABLE_DEFAULTS = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)
_MAKERS = {"list", "dict", "set"}  # list() as a default is as shared as []
# Decorators that fix a function's signature from outside: it may ignore a parameter.
_FIXED_SIGNATURES = {"abstractmethod", "overload", "override", "setter"}


def reusability_findings(program: Program, config: QualityConfig) -> list[Finding]:
    """Every reusability finding of this module on the candidate's lines, in line order."""
    findings = [
        *magic_numbers(program, config),
        *hardcoded_settings(program, config),
        *notebook_globals(program),
        *mutable_defaults(program),
        *unused_parameters(program),
        *inline_masks(program),
    ]
    return sorted(findings, key=lambda f: (f.line or 0, f.rule))


def magic_numbers(program: Program, config: QualityConfig) -> list[Finding]:
    """Numeric literals in a function body used as sizes or settings (``x[:, :35]``,
    ``nn.Linear(200, 10)``, ``clip_grad_norm_(p, 0.5)``). Not flagged: the values in
    ``config.allowed_numbers``, exponents (``** 0.5``), unit conversions (``* 1000``), axes
    (``x.transpose(1, 3)``, ``dim=3``), indices (``shape[3]``), what is printed, and a literal
    that is a local variable's whole value (that is `hardcoded_settings`)."""
    findings = []
    for function in program.functions():
        for literal in own_nodes(function):
            value = _literal_value(program, literal)
            if value is None or _exempt_number(program, literal, value, config):
                continue
            if not program.owns(literal):
                continue
            findings.append(
                _finding(
                    program,
                    literal,
                    "reuse.magic-number",
                    f"`{ast.unparse(literal)}` is hard-coded in `{function.name}`: a size or "
                    "setting callers cannot change. Make it a parameter (with this default) or "
                    "a named constant.",
                    "minor",
                )
            )
    return findings


def hardcoded_settings(program: Program, config: QualityConfig) -> list[Finding]:
    """A local variable set to a literal number (``log_interval = 200``): a setting the
    function fixes for every caller. Counters starting at an allowed number (``total = 0``)
    are not settings."""
    findings = []
    for function in program.functions():
        for node in own_nodes(function):
            if not (isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = _literal_value(program, node.value)
            if len(targets) != 1 or not isinstance(targets[0], ast.Name) or value is None:
                continue
            if value in config.allowed_numbers or not program.owns(node):
                continue
            name, literal = targets[0].id, ast.unparse(node.value)
            findings.append(
                _finding(
                    program,
                    node,
                    "reuse.hardcoded-setting",
                    f"`{name} = {literal}` is fixed inside `{function.name}`: callers cannot "
                    f"change it. Make it a parameter (`{name}={literal}`).",
                    "minor",
                )
            )
    return findings


def notebook_globals(program: Program) -> list[Finding]:
    """A function using a variable assigned at notebook level (``model``, ``device``,
    ``ntokens``): it works only in this notebook, after that cell ran, and with whatever
    value the variable last had. Functions, classes, imports, ``UPPER_CASE`` constants and
    ``CapWords`` aliases (``Model = TransformerLM``) are fine to read. Scopes are Python's own
    (`symtable`), so closures are not globals."""
    module = symtable.symtable(program.source, "candidate.py", "exec")
    variables = {
        s.get_name()
        for s in module.get_symbols()
        if s.is_assigned() and not s.is_imported() and not s.is_namespace()
    }
    variables = {v for v in variables if not _constant_or_alias(v)}
    defs = {(f.name, f.lineno): f for f in program.functions()}
    findings = []
    for table in _function_tables(module):
        function = defs.get((table.get_name(), table.get_lineno()))
        if function is None:
            continue
        for name in sorted(_globals_read(table) & variables):
            read = _first_use(program, function, name)
            if read is None:
                continue
            findings.append(
                _finding(
                    program,
                    read,
                    "reuse.notebook-global",
                    f"`{function.name}` uses the notebook variable `{name}`: it only works "
                    "in this notebook, after that cell ran, with whatever value it last had. "
                    f"Pass `{name}` as a parameter.",
                    "minor",
                )
            )
    return findings


def mutable_defaults(program: Program) -> list[Finding]:
    """A list, dict or set as a default argument: it is created once and shared by every
    call, so one call's changes leak into the next."""
    findings = []
    for function in program.functions():
        defaults = [d for d in (*function.args.defaults, *function.args.kw_defaults) if d]
        for default in defaults:
            mutable = isinstance(default, _MUTABLE_DEFAULTS) or call_name(default) in _MAKERS
            if mutable and program.owns(default):
                findings.append(
                    _finding(
                        program,
                        default,
                        "reuse.mutable-default",
                        f"The default `{ast.unparse(default)}` of `{function.name}` is created "
                        "once and shared by every call: default to None and create it inside.",
                        "minor",
                    )
                )
    return findings


def unused_parameters(program: Program) -> list[Finding]:
    """A parameter the function never reads, in a function whose body the candidate wrote:
    a caller who passes ``window_size`` or ``device`` believes it is used, while the body
    hard-codes its own value (or forgets it). Not counted: ``self``/``cls``, ``_private``
    names, ``*args``/``**kwargs``, stubs (a body that only raises ``NotImplementedError`` or
    passes), dunder methods other than ``__init__``, abstract methods and overloads."""
    findings = []
    for function in program.functions():
        if _exempt_function(program, function):
            continue
        read = {
            n.id
            for statement in function.body
            for n in ast.walk(statement)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        for arg in _parameters(program, function):
            if arg.arg in read or arg.arg.startswith("_"):
                continue
            findings.append(
                _finding(
                    program,
                    arg,
                    "reuse.unused-parameter",
                    f"`{function.name}` never uses its parameter `{arg.arg}`: a caller who "
                    "passes it changes nothing. Use it where the body fixes its own value, "
                    "or remove it.",
                    "minor",
                )
            )
    return findings


def inline_masks(program: Program) -> list[Finding]:
    """The causal mask built inline (``torch.tril``/``triu``) in two or more places of the
    candidate's code, outside any function named ``*mask*``: the same construction written
    out each time, so a change of convention or device must be made everywhere. One finding,
    at the second place, listing them all."""
    sites = sorted(
        (n for n in ast.walk(program.tree) if is_triangle(n) and program.owns(n)),
        key=lambda n: (n.lineno, n.col_offset),  # type: ignore[attr-defined]
    )
    sites = [n for n in sites if not _in_mask_function(program, n)]
    if len(sites) < 2:
        return []
    lines = ", ".join(str(n.lineno) for n in sites)  # type: ignore[attr-defined]
    return [
        _finding(
            program,
            sites[1],
            "reuse.inline-mask",
            f"The causal mask is built inline in {len(sites)} places (lines {lines}): write "
            "it once, as a function of the length (and device), e.g. `causal_mask(size, "
            "device)`, and call it where a mask is needed.",
            "minor",
        )
    ]


# --- helpers ---------------------------------------------------------------------------


def _finding(
    program: Program, node: ast.AST, rule: str, message: str, severity: Severity
) -> Finding:
    """A reusability finding anchored at ``node``."""
    return finding_at(program, node, "reusability", rule, message, severity)


def _literal_value(program: Program, node: ast.AST) -> float | None:
    """The value of a number literal (``5``, ``-5``, not a bool), counting a sign once: on
    the sign's node, not again on the number under it."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _number(node.operand)
        return None if value is None else -value if isinstance(node.op, ast.USub) else value
    if isinstance(program.parents.get(node), ast.UnaryOp):
        return None
    return _number(node)


def _number(node: ast.AST) -> float | None:
    """The value of an int or float constant (not a bool), else None."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    return None


def _exempt_number(program: Program, literal: ast.AST, value: float, config: QualityConfig) -> bool:
    """Whether a literal's value or place says it is not a size or setting (see
    `magic_numbers`)."""
    parent = program.parents.get(literal)
    return (
        value in config.allowed_numbers
        or (isinstance(parent, ast.Assign | ast.AnnAssign) and parent.value is literal)
        or _is_index(program, parent, literal)
        or _is_arithmetic(parent, literal, value, config)
        or _is_axis(parent, literal, config)
        or any(_displays(a) for a in program.ancestors(literal))
    )


def _is_index(program: Program, parent: ast.AST | None, literal: ast.AST) -> bool:
    """``shape[3]`` or one index of several, ``x[:, 3]``, or a bound of a slice of a shape,
    ``x.shape[-2:]`` (axes). Other slice bounds are sizes: ``x[:, :35]``."""
    if isinstance(parent, ast.Slice):
        sliced = program.parents.get(parent)
        return isinstance(sliced, ast.Subscript) and _is_shape(sliced.value)
    if isinstance(parent, ast.Tuple):
        literal, parent = parent, program.parents.get(parent)
    return isinstance(parent, ast.Subscript) and parent.slice is literal


def _is_shape(node: ast.AST) -> bool:
    """``x.shape`` or ``x.size()``: a tuple of sizes indexed by axis."""
    if isinstance(node, ast.Attribute):
        return node.attr == "shape"
    return isinstance(node, ast.Call) and method_name(node) == "size" and not node.args


def _is_arithmetic(
    parent: ast.AST | None, literal: ast.AST, value: float, config: QualityConfig
) -> bool:
    """An exponent (``** 0.5``), a unit conversion (``* 1000``, ``1024 ** 2``) or a repeated
    string (``"-" * 89``)."""
    if not isinstance(parent, ast.BinOp):
        return False
    other = parent.left if parent.right is literal else parent.right
    unit_operator = ast.Mult | ast.Div | ast.FloorDiv | ast.Pow  # 1024 ** 3, ms * 1000
    return (
        (isinstance(parent.op, ast.Pow) and parent.right is literal)
        or (isinstance(parent.op, unit_operator) and abs(value) in config.unit_factors)
        or (isinstance(other, ast.Constant) and isinstance(other.value, str))
    )


def _is_axis(parent: ast.AST | None, literal: ast.AST, config: QualityConfig) -> bool:
    """An axis (``x.transpose(1, 3)``, ``dim=3``) or bookkeeping keyword (``stacklevel=3``)."""
    if isinstance(parent, ast.keyword):
        return parent.arg in config.free_keywords
    if isinstance(parent, ast.Call) and literal in parent.args:
        name = method_name(parent) or (call_name(parent) or "").rsplit(".", 1)[-1]
        return name in config.axis_methods
    return False


def _displays(node: ast.AST) -> bool:
    """An f-string or a ``print`` call: what is inside is display, not behaviour."""
    return isinstance(node, ast.JoinedStr) or call_name(node) == "print"


def _constant_or_alias(name: str) -> bool:
    """``UPPER_CASE`` (a constant), ``CapWords`` (a class or type alias), a dunder, or
    ``_private`` module state (a cache kept on purpose, not a notebook variable)."""
    return name.isupper() or bool(_CAP_WORDS.match(name)) or name.startswith("_")


def _exempt_function(program: Program, function: FunctionNode) -> bool:
    """Functions whose parameters are fixed by something else, or not written by the
    candidate (see `unused_parameters`)."""
    body = function.body[1:] if ast.get_docstring(function) else function.body
    decorators = {(dotted_name(d) or "").rsplit(".", 1)[-1] for d in function.decorator_list}
    dunder = function.name.startswith("__") and function.name != "__init__"
    return (
        dunder
        or bool(decorators & _FIXED_SIGNATURES)
        or all(_is_stub_statement(s) for s in body)
        or not any(program.owns(s) for s in body)
    )


def _is_stub_statement(statement: ast.stmt) -> bool:
    """``pass``, ``...`` or ``raise NotImplementedError``."""
    if isinstance(statement, ast.Pass):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return True
    if isinstance(statement, ast.Raise) and statement.exc is not None:
        raised = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
        return dotted_name(raised) == "NotImplementedError"
    return False


def _parameters(program: Program, function: FunctionNode) -> list[ast.arg]:
    """Named parameters, without a method's ``self``/``cls``."""
    args = [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]
    in_class = isinstance(program.parents.get(function), ast.ClassDef)
    static = any(dotted_name(d) == "staticmethod" for d in function.decorator_list)
    positional = function.args.posonlyargs or function.args.args
    return args[1:] if in_class and not static and positional else args


def _in_mask_function(program: Program, node: ast.AST) -> bool:
    """Whether ``node`` is inside a function named ``*mask*`` (the right place to build one)."""
    return any(
        isinstance(a, FunctionNode) and "mask" in a.name.lower() for a in program.ancestors(node)
    )


def _function_tables(table: symtable.SymbolTable) -> list[symtable.SymbolTable]:
    """Symbol tables of every ``def`` (comprehensions and lambdas are folded into theirs)."""
    found = []
    for child in table.get_children():
        if child.get_type() == "function" and child.get_name() not in _INNER_SCOPES:
            found.append(child)
        if child.get_name() not in _INNER_SCOPES:
            found.extend(_function_tables(child))
    return found


def _globals_read(table: symtable.SymbolTable) -> set[str]:
    """Global names a function (with its comprehensions and lambdas) reads, or writes
    through a ``global`` statement."""
    names = {
        s.get_name()
        for s in table.get_symbols()
        if s.is_global() and (s.is_referenced() or s.is_declared_global())
    }
    for child in table.get_children():
        if child.get_name() in _INNER_SCOPES:
            names |= _globals_read(child)
    return names


def _first_use(program: Program, function: FunctionNode, name: str) -> ast.Name | None:
    """The first use of ``name`` in ``function`` on the candidate's lines."""
    uses = [
        n
        for n in ast.walk(function)
        if isinstance(n, ast.Name) and n.id == name and program.owns(n)
    ]
    return min(uses, key=lambda n: (n.lineno, n.col_offset), default=None)
