"""Which top-level statements of a submission go into the program the worker runs.

The worker must be able to load the candidate's definitions without doing the candidate's
work: no dataset download, no ten-epoch training loop, no checkpoint written to disk. So a
top-level statement is **kept** only if loading it merely defines things:

* ``import`` and ``from ... import`` statements;
* ``def`` and ``class`` statements (their decorators included);
* assignments of **pure** values to plain names: literals; names already kept; arithmetic,
  comparisons, subscripts and attributes of those; lambdas; and calls of a small whitelist
  of functions that compute without side effects (`PURE_CALLS`, every ``math`` function,
  and builtins such as ``float`` or ``min``), e.g. ``device = torch.device("cuda" if
  torch.cuda.is_available() else "cpu")``;
* ``if``/``try`` statements whose every branch is made only of the above (``try: import x
  except ImportError: ...``).

Everything else is **skipped** and recorded with the reason: loops, prints, calls, objects
built at top level (``model = TransformerModel(...)``), values that need skipped names
(``ntokens = len(vocab)``), assignments into objects, bare expressions. The reason also
names what the statement would have done (download data, write files, train), read from
the calls inside it.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field

PURE_CALLS = frozenset(
    {
        "torch.device",
        "torch.cuda.is_available",
        "torch.cuda.device_count",
        "torch.backends.mps.is_available",
        "os.path.join",
        "logging.getLogger",
        "typing.TypeVar",
        "typing.NewType",
    }
)
"""Dotted names (after import aliases are resolved) that compute a value and nothing else."""

PURE_BUILTINS = frozenset(
    {"float", "int", "str", "bool", "tuple", "list", "dict", "set", "frozenset", "range",
     "min", "max", "abs", "round", "pow", "len", "sum", "divmod", "sorted", "complex"}
)  # fmt: skip
"""Builtins that are pure when their arguments are (``len(vocab)`` is not: vocab is skipped)."""

BUILTIN_NAMES = frozenset(dir(builtins))
DEFINITION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

# Calls that reveal what a skipped statement would have done, by dotted name.
_DOWNLOADS = re.compile(
    r"(^|\.)(PennTreebank|WikiText2|WikiText103|IMDB|AG_NEWS|Multi30k|load_dataset"
    r"|urlretrieve|urlopen|download\w*)$|^(requests|wget|gdown)\."
)
_WRITES = re.compile(
    r"^(torch\.save|numpy\.save\w*|os\.makedirs|os\.mkdir|json\.dump|pickle\.dump|shutil\.\w+)$"
    r"|\.(savefig|to_csv|write_text|write_bytes|save_pretrained)$"
)
_READS = re.compile(r"^(torch\.load|numpy\.load|pickle\.load|json\.load)$")
_TRAINING = re.compile(
    r"\.(backward|zero_grad|step)$|(^|\.)(train|fit|train_epoch|train_one_epoch|train_model)$"
)
_PRINTS = re.compile(r"^(print|display|pprint\.pprint|pprint)$|\.show$")


@dataclass(frozen=True)
class Verdict:
    """What to do with one top-level statement."""

    keep: bool
    reason: str = ""
    """Why it was skipped (empty when kept)."""
    effects: tuple[str, ...] = ()
    """Tags of what it would have done: ``loop``, ``download``, ``file-write``,
    ``file-read``, ``training``, ``print``, ``instantiation``, ``call``,
    ``depends-on-skipped``, ``modifies-object``, ``expression``, ``main-guard``."""


@dataclass
class Scope:
    """What the kept program binds so far, in file order."""

    known: set[str] = field(default_factory=lambda: set(BUILTIN_NAMES))
    """Names a kept statement may use: builtins, imports, definitions, kept constants."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Imported name -> dotted path (``np`` -> ``numpy``, ``nn`` -> ``torch.nn``)."""
    classes: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)

    def bind(self, stmt: ast.stmt) -> None:
        """Record the names a kept statement binds."""
        for node in ast.walk(stmt) if isinstance(stmt, (ast.If, ast.Try)) else [stmt]:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    if isinstance(node, ast.ImportFrom):
                        self.aliases[bound] = f"{node.module or ''}.{alias.name}".lstrip(".")
                    else:
                        self.aliases[bound] = alias.name if alias.asname else bound
                    self.known.add(bound)
            elif isinstance(node, ast.ClassDef):
                self.classes.add(node.name)
                self.known.add(node.name)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.add(node.name)
                self.known.add(node.name)
        self.known.update(bound_names(stmt))

    def dotted(self, node: ast.expr) -> str:
        """Dotted name of an expression with import aliases resolved (``np.sqrt`` ->
        ``numpy.sqrt``); ``""`` when it is not a plain name or attribute chain."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return ""
        parts.append(self.aliases.get(node.id, node.id))
        return ".".join(reversed(parts))


def first_line(stmt: ast.stmt) -> int:
    """1-based first line of a statement, its decorators included."""
    decorators = getattr(stmt, "decorator_list", [])
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def bound_names(stmt: ast.stmt) -> tuple[str, ...]:
    """Names a top-level statement binds at module level."""
    if isinstance(stmt, DEFINITION_NODES):
        return (stmt.name,)
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return tuple(a.asname or a.name.split(".")[0] for a in stmt.names if a.name != "*")
    names: list[str] = []
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    elif isinstance(stmt, (ast.If, ast.Try)):
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.stmt):
                names.extend(bound_names(child))
            elif isinstance(child, ast.ExceptHandler):
                for inner in child.body:
                    names.extend(bound_names(inner))
    for target in targets:
        names.extend(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return tuple(dict.fromkeys(names))


def names_read_when_run(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement reads when it runs, not when the functions it defines
    are called: decorators, default values, annotations and bases, a class body (less the
    names the body binds itself), and everything in any other statement."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = stmt.args
        parts: list[ast.AST | None] = [*stmt.decorator_list, *args.defaults, *args.kw_defaults]
        parts += [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
        parts.append(stmt.returns)
        return _loaded(parts)
    if isinstance(stmt, ast.ClassDef):
        body: set[str] = set()
        local: set[str] = set()
        for inner in stmt.body:
            body |= names_read_when_run(inner) - local
            local.update(bound_names(inner))
        return body | _loaded(
            [*stmt.decorator_list, *stmt.bases, *(k.value for k in stmt.keywords)]
        )
    return _loaded([stmt])


def _loaded(nodes: list[ast.AST | None]) -> set[str]:
    return {
        n.id
        for node in nodes
        if node is not None
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def classify(stmt: ast.stmt, scope: Scope) -> Verdict:
    """Keep or skip one top-level statement, given what is kept before it."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom, *DEFINITION_NODES)):
        return Verdict(True)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return _assignment(stmt, scope)
    if isinstance(stmt, (ast.If, ast.Try)) and _all_kept(stmt, scope):
        return Verdict(True)
    if isinstance(stmt, ast.Pass):
        return Verdict(True)
    return _skip(stmt, scope)


def is_pure(node: ast.expr, scope: Scope) -> bool:
    """Whether evaluating ``node`` only computes a value from kept names (see the module
    docstring for what counts)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in scope.known
    if isinstance(node, ast.Lambda):
        return True  # a definition: its body runs only when called
    if isinstance(node, ast.Call):
        name = scope.dotted(node.func)
        allowed = (
            name in PURE_CALLS
            or name.startswith("math.")
            or (name in PURE_BUILTINS and name not in scope.functions | scope.classes)
        )
        arguments = [*node.args, *(k.value for k in node.keywords)]
        return allowed and all(is_pure(a, scope) for a in arguments)
    if isinstance(node, _COMPOSITES):
        return all(is_pure(c, scope) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr))
    return False


# Expressions that are pure when all their parts are: no call hides inside them.
_COMPOSITES = (
    *(ast.Attribute, ast.Subscript, ast.Starred, ast.Slice),
    *(ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp),
    *(ast.Tuple, ast.List, ast.Set, ast.Dict, ast.JoinedStr, ast.FormattedValue),
)


def effects_of(stmt: ast.stmt, scope: Scope) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(effect tags, dotted names of the notable calls) of a statement that is skipped."""
    tags: list[str] = []
    calls: list[str] = []
    for node in ast.walk(stmt):
        if not isinstance(node, ast.Call):
            continue
        name = scope.dotted(node.func) or _method_name(node.func)
        for tag, pattern in (
            ("download", _DOWNLOADS),
            ("file-write", _WRITES),
            ("file-read", _READS),
            ("training", _TRAINING),
            ("print", _PRINTS),
        ):
            if pattern.search(name):
                tags.append(tag)
                calls.append(name)
        if name == "open":
            tags.append("file-write" if _opens_for_writing(node) else "file-read")
            calls.append(name)
        if name in scope.classes:
            tags.append("instantiation")
        if name in scope.classes | scope.functions:
            calls.append(name)
    return tuple(dict.fromkeys(tags)), tuple(dict.fromkeys(calls))


# --- helpers -------------------------------------------------------------------------------------


def _assignment(stmt: ast.Assign | ast.AnnAssign | ast.AugAssign, scope: Scope) -> Verdict:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    if not all(_plain_target(t) for t in targets):
        return _skip(stmt, scope, "assigns into an existing object", ("modifies-object",))
    if stmt.value is None:  # a bare annotation, `x: int`
        return Verdict(True)
    if isinstance(stmt, ast.AugAssign) and not is_pure(stmt.target, scope):
        return _skip(stmt, scope, "updates a name that is not kept", ("depends-on-skipped",))
    if is_pure(stmt.value, scope):
        return Verdict(True)
    missing = _unknown_names(stmt.value, scope)
    if missing:
        listed = ", ".join(f"`{n}`" for n in missing[:4])
        why = f"uses {listed}, not part of the extracted program"
        return _skip(stmt, scope, why, ("depends-on-skipped",))
    return _skip(stmt, scope)


def _plain_target(target: ast.expr) -> bool:
    """A name, or a tuple/list of them (``a, *rest = ...``): not ``obj.x`` or ``obj[i]``."""
    if isinstance(target, ast.Starred):
        target = target.value
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(_plain_target(e) for e in target.elts)
    return isinstance(target, ast.Name)


def _skip(stmt: ast.stmt, scope: Scope, why: str = "", tags: tuple[str, ...] = ()) -> Verdict:
    effects, calls = effects_of(stmt, scope)
    if not why:
        why, tags = _describe(stmt, scope, effects)
    effects = tuple(dict.fromkeys((*tags, *effects)))
    named = [f"{c}()" for c in calls if f"({c}())" not in why]  # not what `why` names already
    if named:
        why += "; calls " + ", ".join(named[:6])
    return Verdict(False, why, effects)


def _describe(
    stmt: ast.stmt, scope: Scope, effects: tuple[str, ...]
) -> tuple[str, tuple[str, ...]]:
    """The main reason a statement is work, not a definition, and its tag."""
    if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
        return "a loop at top level (the candidate's own run)", ("loop",)
    if isinstance(stmt, ast.If) and _is_main_guard(stmt.test):
        return 'the script\'s entry point (`if __name__ == "__main__"`)', ("main-guard",)
    if isinstance(stmt, ast.Expr):
        value = stmt.value
        if isinstance(value, ast.Call):
            name = scope.dotted(value.func) or _method_name(value.func) or "a function"
            tag = "instantiation" if name in scope.classes else "call"
            return f"a call at top level ({name}())", (tag,)
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return "a string on its own (a docstring or a note)", ("expression",)
        return "a bare expression (shows a value in a notebook, does nothing here)", ("expression",)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        if "download" in effects:
            return "loads a dataset at top level", ("call",)
        if "instantiation" in effects:
            return "builds an object at top level", ("instantiation",)
        return "computes a value with a call at top level", ("call",)
    kind = type(stmt).__name__.lower()
    return f"a top-level `{kind}` statement", (kind,)


def _all_kept(stmt: ast.If | ast.Try, scope: Scope) -> bool:
    """Whether an ``if``/``try`` statement only holds statements that would be kept, with a
    pure condition. Each branch is judged with the names kept before the statement (not
    those its own earlier lines bind): stricter, and no copy of the scope per statement."""
    if isinstance(stmt, ast.If) and not is_pure(stmt.test, scope):
        return False
    bodies = [stmt.body, stmt.orelse]
    if isinstance(stmt, ast.Try):
        bodies += [h.body for h in stmt.handlers] + [stmt.finalbody]
    return all(classify(child, scope).keep for body in bodies for child in body)


def _unknown_names(node: ast.expr, scope: Scope) -> list[str]:
    local = {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    } | {a.arg for n in ast.walk(node) if isinstance(n, ast.Lambda) for a in n.args.args}
    loads = [
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    ]
    return list(dict.fromkeys(n for n in loads if n not in scope.known and n not in local))


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _method_name(func: ast.expr) -> str:
    """``.name`` of a method call on a computed object (``model.to(device).train``)."""
    return f".{func.attr}" if isinstance(func, ast.Attribute) else ""


def _opens_for_writing(call: ast.Call) -> bool:
    mode = (
        call.args[1]
        if len(call.args) > 1
        else next((k.value for k in call.keywords if k.arg == "mode"), None)
    )
    return (
        isinstance(mode, ast.Constant)
        and isinstance(mode.value, str)
        and any(c in mode.value for c in "wax+")
    )
