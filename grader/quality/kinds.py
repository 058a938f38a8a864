"""Is this name a tensor or an ``nn.Module``? A small, explainable data-flow guess.

``model.to(device)`` moves a module in place; ``data.to(device)`` returns a moved copy of a
tensor and leaves ``data`` where it was. Telling the two apart statically needs to know what a
name holds. The rules, tried in order, for a name in a scope (function or module):

1. a parameter annotated ``Tensor`` is a tensor; one annotated ``nn.Module`` or a class
   deriving from it is a module;
2. otherwise every assignment to the name in that scope (then at module level) is looked at:
   a module if any assigns a module, else a tensor if any assigns a tensor; unpacking
   (``data, targets = get_batch(...)``) takes the element's kind from a tuple written out,
   or from the ``Tuple[Tensor, Tensor]`` return annotation of the program's function;
3. otherwise a name such as ``model``, ``net`` or ``*_model`` is a module (unless it names a
   function or class of the program).

An expression is a module when it constructs ``nn.<Capitalised>`` or a class deriving from
``nn.Module`` (or deep-copies or moves one); it is a tensor when it comes from a ``torch.*``
function (other than ``torch.nn``, ``torch.optim`` and the like), or is a method, index or
arithmetic result of a tensor. A call of one of the program's own functions has the kind its
return annotation gives, or else the kind of what its ``return`` statements return. ``self.<attribute>`` is looked up in the ``self.<attribute>
= ...`` assignments of its class and the class's bases, ``<module>.<attribute>`` in every
class's. Anything else is ``unknown``, and rules that need a kind say so in their message
rather than guess.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Literal

from grader.quality.source import FunctionNode, Program, call_name, dotted_name, own_nodes

Kind = Literal["module", "tensor", "unknown"]

# Methods that return their receiver's kind: in place on a module, a new tensor on a tensor.
_SAME_KIND_METHODS = {"to", "cuda", "cpu", "half", "float", "double", "bfloat16", "train", "eval"}
# torch namespaces whose calls return something other than a tensor.
_NOT_TENSOR_PREFIXES = (
    "torch.nn.",
    "torch.optim",
    "torch.utils",
    "torch.cuda",
    "torch.backends",
    "torch.device",
    "torch.jit",
    "torch.no_grad",
    "torch.inference_mode",
    "torch.manual_seed",
    "torch.save",
    "torch.load",
)
_MODULE_NAME = re.compile(r"^(model|net|network|module)$|(_model|_net|_module)$")


class Kinds:
    """Answers "module, tensor or unknown?" for names and expressions of one program."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self._class_nodes = [n for n in ast.walk(program.tree) if isinstance(n, ast.ClassDef)]
        self.module_classes = _module_classes(self._class_nodes)
        # Functions and classes are not instances: `small_model(...)` is a factory call.
        self._definitions = {d.name for d in program.definitions()}
        self._functions = {f.name: f for f in program.tree.body if isinstance(f, FunctionNode)}
        self._pending: set[tuple[str, str, int]] = set()  # what is being worked out now

    def of_expr(self, expr: ast.AST, scope: ast.AST) -> Kind:
        """The kind of ``expr`` evaluated in ``scope`` (a function or the module)."""
        if isinstance(expr, ast.Name):
            return self.of_name(expr.id, scope)
        if isinstance(expr, ast.Attribute) and dotted_name(expr.value) == "self":
            cls = next(
                (a for a in self.program.ancestors(scope) if isinstance(a, ast.ClassDef)), None
            )
            return self._of_attribute(expr.attr, self._lineage(cls) if cls else [])
        if isinstance(expr, ast.Attribute) and self.of_expr(expr.value, scope) == "module":
            return self._of_attribute(expr.attr, self._class_nodes)  # net.layer, model.weight
        if isinstance(expr, ast.Call):
            return self._of_call(expr, scope)
        if isinstance(expr, ast.Subscript):
            return "tensor" if self.of_expr(expr.value, scope) == "tensor" else "unknown"
        if isinstance(expr, ast.BinOp):
            sides = {self.of_expr(expr.left, scope), self.of_expr(expr.right, scope)}
            return "tensor" if "tensor" in sides else "unknown"
        return "unknown"

    def of_name(self, name: str, scope: ast.AST) -> Kind:
        """The kind of ``name`` read in ``scope`` (see the module docstring for the rules)."""
        kind = self._once(("name", name, id(scope)), lambda: self._of_name(name, scope))
        if kind == "unknown" and _MODULE_NAME.search(name) and name not in self._definitions:
            return "module"
        return kind

    def _once(self, key: tuple[str, str, int], compute: Callable[[], Kind]) -> Kind:
        """``compute()``, or unknown when ``key`` is already being worked out: an assignment
        such as ``x = x.view(...)`` or ``self.mask = self.mask.to(d)`` refers to itself."""
        if key in self._pending:
            return "unknown"
        self._pending.add(key)
        try:
            return compute()
        finally:
            self._pending.discard(key)

    def _of_name(self, name: str, scope: ast.AST) -> Kind:
        """Rules 1 and 2 of the module docstring (rule 3 is in `of_name`)."""
        if isinstance(scope, FunctionNode):
            annotated = self._of_parameter(name, scope)
            if annotated != "unknown":
                return annotated
        kinds = {self.of_expr(value, scope) for value in _assigned_values(name, scope)}
        kinds |= {self._of_element(value, i, scope) for value, i in _unpacked_values(name, scope)}
        if "module" in kinds:
            return "module"
        if "tensor" in kinds:
            return "tensor"
        if scope is not self.program.tree and not _binds(name, scope):
            return self._of_name(name, self.program.tree)  # a global read inside a function
        return "unknown"

    def _of_parameter(self, name: str, function: FunctionNode) -> Kind:
        """The kind a parameter's annotation gives it."""
        args = function.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            if arg.arg == name and arg.annotation is not None:
                return self._of_annotation(arg.annotation)
        return "unknown"

    def _of_annotation(self, annotation: ast.AST) -> Kind:
        """``Tensor`` (also inside ``Optional[...]``) or a module class."""
        text = ast.unparse(annotation)
        if re.search(r"\bTensor\b", text):
            return "tensor"
        if re.search(r"\bModule\b", text) or any(
            re.search(rf"\b{c}\b", text) for c in self.module_classes
        ):
            return "module"
        return "unknown"

    def _of_element(self, value: ast.AST, index: int, scope: ast.AST) -> Kind:
        """The kind of element ``index`` of ``value``: a tuple written out, or a call of one of
        the program's functions annotated to return ``Tuple[...]``."""
        if isinstance(value, ast.Tuple | ast.List) and index < len(value.elts):
            return self.of_expr(value.elts[index], scope)
        elements = self._returned_tuple(value)
        return self._of_annotation(elements[index]) if index < len(elements) else "unknown"

    def _returned_tuple(self, value: ast.AST) -> list[ast.expr]:
        """The element annotations of ``-> Tuple[A, B]`` of the program function ``value``
        calls; empty for anything else."""
        function = self._functions.get(call_name(value) or "")
        elements = self._returned_tuple_annotation(function) if function is not None else None
        return elements or []

    @staticmethod
    def _returned_tuple_annotation(function: FunctionNode) -> list[ast.expr] | None:
        """The element annotations of ``function``'s ``-> Tuple[A, B]``; None when it is
        not annotated to return a tuple."""
        returns = function.returns
        if not isinstance(returns, ast.Subscript):
            return None
        if (dotted_name(returns.value) or "").rsplit(".", 1)[-1] not in ("Tuple", "tuple"):
            return None
        inner = returns.slice
        return list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]

    def _of_call(self, call: ast.Call, scope: ast.AST) -> Kind:
        """The kind of what a call returns (see the module docstring)."""
        name = call_name(call) or ""
        last = name.rsplit(".", 1)[-1]
        if name.startswith(("nn.", "torch.nn.")) and last[:1].isupper():
            return "module"  # nn.Linear(...), torch.nn.Sequential(...)
        if name in self.module_classes:
            return "module"
        if last == "deepcopy" and call.args:
            return self.of_expr(call.args[0], scope)
        if name in self._functions:
            return self._once(("returns", name, 0), lambda: self._of_returned(name))
        if isinstance(call.func, ast.Attribute) and not name.startswith("torch."):
            receiver = self.of_expr(call.func.value, scope)
            if call.func.attr in _SAME_KIND_METHODS or receiver == "tensor":
                return receiver  # model.to(d) is the module; x.view(...) is a tensor
            return "unknown"
        if name.startswith("torch.") and not name.startswith(_NOT_TENSOR_PREFIXES):
            return "tensor"  # torch.tensor, torch.cat, torch.tril, torch.nn.functional is above
        return "unknown"

    def _of_returned(self, name: str) -> Kind:
        """What the program's function ``name`` returns: its annotation (a tuple is not a
        tensor), else its ``return`` values (a module if any is, else a tensor if any is)."""
        function = self._functions[name]
        if function.returns is not None:
            if self._returned_tuple_annotation(function) is not None:
                return "unknown"  # a tuple of things, not one tensor
            return self._of_annotation(function.returns)
        values = [n.value for n in own_nodes(function) if isinstance(n, ast.Return) and n.value]
        kinds = {self.of_expr(value, function) for value in values}
        return "module" if "module" in kinds else "tensor" if "tensor" in kinds else "unknown"

    def _lineage(self, cls: ast.ClassDef) -> list[ast.ClassDef]:
        """``cls`` and the classes of the program it derives from, nearest first."""
        by_name = {c.name: c for c in self._class_nodes}
        lineage, todo = [], [cls]
        while todo:
            current = todo.pop(0)
            if current not in lineage:
                lineage.append(current)
                todo += [by_name[n] for n in map(dotted_name, current.bases) if n in by_name]
        return lineage

    def _of_attribute(self, attr: str, classes: list[ast.ClassDef]) -> Kind:
        """The kind of ``<instance>.<attr>`` from ``self.<attr> = ...`` in ``classes``."""
        key = ("attribute", attr, hash(tuple(id(c) for c in classes)))
        return self._once(key, lambda: self._of_assigned_attribute(attr, classes))

    def _of_assigned_attribute(self, attr: str, classes: list[ast.ClassDef]) -> Kind:
        """`_of_attribute`, without the cycle guard."""
        kinds = set()
        for cls in classes:
            for node in ast.walk(cls):
                if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    if any(dotted_name(t) == f"self.{attr}" for t in targets):
                        method = self.program.enclosing_function(node) or cls
                        kinds.add(self.of_expr(node.value, method))
        return "module" if "module" in kinds else "tensor" if "tensor" in kinds else "unknown"


def _module_classes(classes: list[ast.ClassDef]) -> set[str]:
    """Names of the classes that derive, directly or through each other, from ``nn.Module``
    or any ``nn.<Layer>``."""
    found: set[str] = set()
    changed = True
    while changed:  # a fixed point: B(A) is a module once A(nn.Module) is known to be one
        changed = False
        for cls in classes:
            bases = {dotted_name(b) or "" for b in cls.bases}
            derives = any(b.startswith(("nn.", "torch.nn.")) or b == "Module" for b in bases)
            if cls.name not in found and (derives or bases & found):
                found.add(cls.name)
                changed = True
    return found


def _assigned_values(name: str, scope: ast.AST) -> list[ast.AST]:
    """Values assigned to the plain name ``name`` directly in ``scope`` (not in nested
    functions or classes). Tuple unpacking gives no single value and is skipped."""
    values = []
    for node in own_nodes(scope):
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
            targets = [node.target]
        else:
            continue
        if node.value is not None and any(
            isinstance(t, ast.Name) and t.id == name for t in targets
        ):
            values.append(node.value)
    return values


def _unpacked_values(name: str, scope: ast.AST) -> list[tuple[ast.AST, int]]:
    """(value, position) of each ``a, name = value`` assignment in ``scope``'s own body."""
    found = []
    for node in own_nodes(scope):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if not isinstance(target, ast.Tuple | ast.List):
            continue
        if any(isinstance(e, ast.Starred) for e in target.elts):
            continue  # the position of what follows a starred target is unknown
        for position, element in enumerate(target.elts):
            if isinstance(element, ast.Name) and element.id == name:
                found.append((node.value, position))
    return found


def _binds(name: str, function: ast.AST) -> bool:
    """Whether ``function`` makes ``name`` local (a parameter or any assignment)."""
    if isinstance(function, FunctionNode):
        args = function.args
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        if any(a is not None and a.arg == name for a in every):
            return True
    return any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)
        for n in own_nodes(function)
    )
