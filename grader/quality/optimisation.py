"""Static optimisation findings: work repeated or wasted that a reader can see in the code.

Each rule is one function returning `Finding`s with an ``opt.<id>`` rule, on the candidate's
lines only. The timing runs measure speed; these rules say *why* code is slow, or show waste
that a timing on CPU cannot (a copy to the GPU thrown away).

"Every batch" means: inside the body of a loop in the same function, and not under an ``if``
that caches or throttles the work (a test that mentions the name being built, a shape or
length, or a modulo). ``if mask is None or mask.size(0) != n: mask = ...`` builds once per
length, ``if step % 100 == 0: print(loss.item())`` logs now and then: neither is flagged.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable

from grader.config import QualityConfig
from grader.quality.kinds import Kinds
from grader.quality.source import (
    DefinitionNode,
    FunctionNode,
    Program,
    call_name,
    dotted_name,
    finding_at,
    is_triangle,
    method_name,
)
from grader.result import Finding, Severity

Loop = ast.For | ast.AsyncFor | ast.While

# Methods that return a moved or converted copy of a tensor (and change a module in place).
_MOVES = {"to", "cuda", "cpu", "half", "float", "double", "bfloat16", "type"}
# torch functions that build a tensor from sizes alone: constant work, wherever it runs.
_FACTORIES = {"zeros", "ones", "full", "empty", "eye", "arange", "linspace", "rand", "randn"}
_COMPREHENSIONS = ast.ListComp | ast.GeneratorExp | ast.SetComp | ast.DictComp
_DEVICE_STRING = re.compile(r"^(cuda(:\d+)?|mps(:\d+)?)$")
_EVAL_FUNCTION = re.compile(r"^(eval|valid)", re.IGNORECASE)
_NO_GRAD = ("no_grad", "inference_mode", "set_grad_enabled")
# Callables that are modules but not the model: calling them is not running the model.
_NOT_THE_MODEL = re.compile(r"loss|criterion", re.IGNORECASE)
# Methods that copy a tensor's values to the host, waiting for the device.
_READS = {"item", "tolist"}
_CACHES = {"cache", "lru_cache", "functools.cache", "functools.lru_cache"}


def optimisation_findings(program: Program, config: QualityConfig) -> list[Finding]:
    """Every optimisation finding on the candidate's lines, in line order."""
    kinds = Kinds(program)
    findings = [
        *discarded_moves(program, kinds),
        *hardcoded_devices(program),
        *masks_in_loops(program),
        *tensors_created_then_moved(program),
        *loops_over_heads(program),
        *items_every_step(program),
        *evaluation_without_no_grad(program, kinds),
    ]
    return sorted(findings, key=lambda f: (f.line or 0, f.rule))


def discarded_moves(program: Program, kinds: Kinds) -> list[Finding]:
    """``x.to(device)`` as a statement on its own. On a tensor it does nothing: ``.to``
    returns a moved copy and leaves ``x`` where it was. On an ``nn.Module`` it moves the
    module in place and returns it, which is right, so receivers that `Kinds` knows to be
    modules are skipped; receivers it knows to be tensors are a major finding, and unknown
    ones a minor finding that says "possibly"."""
    findings = []
    for node in ast.walk(program.tree):
        if not (isinstance(node, ast.Expr) and method_name(node.value) in _MOVES):
            continue
        call = node.value
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
        scope = program.enclosing_function(node) or program.tree
        kind = kinds.of_expr(call.func.value, scope)
        if kind == "module" or not program.owns(node):
            continue
        code = ast.unparse(call)
        target = ast.unparse(call.func.value)
        if kind == "tensor":
            what = f"`{code}` throws its result away: `{target}` is a tensor"
        else:
            what = (
                f"`{code}` possibly throws its result away: if `{target}` is a tensor (an "
                "`nn.Module` would move in place, and the grader cannot tell which it is)"
            )
        findings.append(
            _finding(
                program,
                node,
                "opt.to-device-discarded",
                f"{what}, `.{call.func.attr}()` returns a moved copy and leaves `{target}` where "
                f"it was, so it is copied again wherever it is used, or meets a model on "
                f"another device. Write `{target} = {code}`.",
                "major" if kind == "tensor" else "minor",
            )
        )
    return findings


def hardcoded_devices(program: Program) -> list[Finding]:
    """A device written into the code (``"cuda"``, ``"mps"``, ``"cuda:0"``, ``.cuda()``) where
    no availability test chooses it: the code then fails, or silently runs elsewhere, on any
    other machine. ``"cuda" if torch.cuda.is_available() else "cpu"`` is fine, and so is any
    other use of the word than as a device (``device.type == "cuda"``, ``choices=("cpu",
    "cuda")``, ``stats["cuda"]``)."""
    findings = []
    for node in ast.walk(program.tree):
        if isinstance(node, ast.Constant) and _DEVICE_STRING.match(str(node.value)):
            what = f'"{node.value}"'
            if not _used_as_device(program, node):
                continue
        elif isinstance(node, ast.Call) and method_name(node) == "cuda" and not node.args:
            what = "`.cuda()`"
        else:
            continue
        if _chosen_by_availability(program, node) or not program.owns(node):
            continue
        findings.append(
            _finding(
                program,
                node,
                "opt.hardcoded-device",
                f"{what} hard-codes the device: choose it once, e.g. `torch.device('cuda' if "
                "torch.cuda.is_available() else 'cpu')`, and pass it where it is needed, so the "
                "code runs on any machine.",
                "minor",
            )
        )
    return findings


def masks_in_loops(program: Program) -> list[Finding]:
    """A mask (``torch.tril``/``triu``, or a call to a ``*mask*`` function that builds one)
    made anew on every batch. The mask depends only on the window length: build it once (or
    once per length) before the loop, or register it as a buffer. A statement that hands the
    previous mask back in (``mask = cached_mask(mask, n)``) is a cache, not a rebuild; a
    ``*mask*`` function of the program's own that builds nothing (it slices a mask made once)
    is not a build."""
    builds_mask = _mask_builder(program)
    findings = []
    for statement in _statements_with(program, builds_mask):
        if _refreshes(program, statement):
            continue  # mask = cached(mask, n): the previous mask goes in, a cache
        if _repeated_in_loop(program, statement) is not None and program.owns(statement):
            findings.append(
                _finding(
                    program,
                    statement,
                    "opt.mask-in-loop",
                    "The mask is rebuilt on every iteration of the loop, although it only "
                    "depends on the sequence length: build it once before the loop (or cache "
                    "it per length) instead of allocating and filling it each batch.",
                    "minor",
                )
            )
    return findings


def tensors_created_then_moved(program: Program) -> list[Finding]:
    """``torch.zeros(n).to(device)`` inside a loop: the tensor is allocated on the CPU and
    copied to the device on every batch. Create it there (``device=...``) or once before the
    loop. Masks are left to `masks_in_loops`."""
    builds_mask = _mask_builder(program)
    findings = []
    for statement in _statements_with(program, _creates_then_moves):
        if any(builds_mask(n) for n in ast.walk(statement)):
            continue
        if _repeated_in_loop(program, statement) is not None and program.owns(statement):
            findings.append(
                _finding(
                    program,
                    statement,
                    "opt.create-then-move",
                    "A tensor is created on the CPU and then copied to the device on every "
                    "iteration: pass `device=` to the factory, or build it once before the loop.",
                    "minor",
                )
            )
    return findings


def loops_over_heads(program: Program) -> list[Finding]:
    """A Python loop over attention heads inside ``forward`` or an attention function: each
    head becomes its own small matrix product (and kernel launch) instead of one batched
    product over a heads dimension."""
    findings = []
    for function in program.functions():
        name = function.name.lower()
        if not (name == "forward" or "attn" in name or "attention" in name):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.For | ast.AsyncFor):
                iterables = [node.iter]
            elif isinstance(node, _COMPREHENSIONS):
                iterables = [generator.iter for generator in node.generators]
            else:
                continue
            if any(_mentions_heads(it) for it in iterables) and program.owns(node):
                findings.append(
                    _finding(
                        program,
                        node,
                        "opt.head-loop",
                        "A Python loop runs the heads one after another: reshape to "
                        "(batch, heads, seq, head_dim) and compute every head with one batched "
                        "matrix product instead.",
                        "major",
                    )
                )
    return findings


def items_every_step(program: Program) -> list[Finding]:
    """``loss.item()`` (or ``.tolist()``) on every step of a training loop: each call waits
    for the device to finish the step and copies to the host, so a GPU loop stalls once per
    batch instead of running ahead. Accumulate on the device and read the value when logging.

    A training loop is one whose own body (not a loop nested in it) runs a backward pass:
    ``.backward()``, or a call of one of the program's functions that does. A read under a
    throttling or caching ``if`` (``if step % 100 == 0``) is not every step. Evaluation
    loops are not flagged: they run once per epoch, and reading each batch's loss there costs
    a sync per batch of a forward pass only."""
    backward = _backward_functions(program)
    findings = []
    for node in ast.walk(program.tree):
        if not (isinstance(node, ast.Call) and method_name(node) in _READS and not node.args):
            continue
        loop = _repeated_in_loop(program, node)
        if loop is not None and _trains(loop, backward) and program.owns(node):
            findings.append(
                _finding(
                    program,
                    node,
                    "opt.item-every-step",
                    f"`{ast.unparse(node)}` runs on every training step (the loop runs a "
                    "backward pass each iteration): it makes the host wait for the device "
                    "every batch. Accumulate the loss as a tensor (`total += loss.detach()`) "
                    "and read it only when logging, e.g. under `if step % log_interval == 0`.",
                    "minor",
                )
            )
    return findings


def evaluation_without_no_grad(program: Program, kinds: Kinds) -> list[Finding]:
    """A function that evaluates (named ``eval*``/``valid*``, or switching a model to
    ``.eval()``) and calls the model outside ``torch.no_grad()``/``inference_mode()``: autograd
    then records every activation for a backward pass that never comes. The evaluating part
    runs from ``model.eval()`` to the next ``model.train()`` (or the whole function when it is
    named like an evaluation and never calls ``.eval()``)."""
    findings = []
    for function in program.functions():
        if _decorated_no_grad(function):
            continue
        call = _first_unguarded_model_call(program, function, kinds)
        if call is not None and program.owns(call):
            findings.append(
                _finding(
                    program,
                    call,
                    "opt.eval-without-no-grad",
                    f"`{function.name}` runs the model for evaluation outside "
                    "`torch.no_grad()`: autograd keeps every activation for a backward pass "
                    "that never comes, costing memory and time. Wrap it in `with "
                    "torch.no_grad():` (or `torch.inference_mode()`).",
                    "minor",
                )
            )
    return findings


# --- helpers ---------------------------------------------------------------------------


def _finding(
    program: Program, node: ast.AST, rule: str, message: str, severity: Severity
) -> Finding:
    """An optimisation finding anchored at ``node``."""
    return finding_at(program, node, "optimisation", rule, message, severity)


def _repeated_in_loop(program: Program, node: ast.AST) -> Loop | None:
    """The loop (in the same function) that runs ``node`` on every iteration, or None when
    it runs once, or under an ``if`` that caches or throttles it (see the module docstring)."""
    around = _loop_or_cache(program, node)
    return around if isinstance(around, Loop) else None


def _loop_or_cache(program: Program, node: ast.AST) -> Loop | ast.If | None:
    """The innermost of: a loop (in ``node``'s function) whose body runs ``node``, or an
    ``if`` that caches or throttles it; None when there is neither."""
    names = _assigned_names(program, node)
    child = node
    for parent in program.ancestors(node):
        if isinstance(parent, DefinitionNode | ast.Lambda):
            return None
        if isinstance(parent, ast.If) and child is not parent.test and _caches(parent.test, names):
            return parent
        if isinstance(parent, Loop) and child in parent.body:
            return parent
        child = parent
    return None


def _caches(test: ast.expr, names: set[str]) -> bool:
    """Whether an ``if`` test guards a cache (mentions the value being built, a shape or a
    length) or throttles (a modulo, as in ``step % log_interval == 0``)."""
    for node in ast.walk(test):
        if isinstance(node, ast.Name | ast.Attribute) and dotted_name(node) in names:
            return True
        if isinstance(node, ast.Attribute) and node.attr == "shape":
            return True
        if method_name(node) == "size" or call_name(node) == "len":
            return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            return True
    return False


def _assigned_names(program: Program, node: ast.AST) -> set[str]:
    """Names (``mask``, ``self.mask``) assigned by the statement holding ``node``."""
    holders = [node, *program.ancestors(node)]
    statement = next((a for a in holders if isinstance(a, ast.stmt)), None)
    if not isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign):
        return set()
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple | ast.List) else [t])]
    # cache[n] = ... assigns into `cache`: a test mentioning `cache` guards it.
    flat = [t.value if isinstance(t, ast.Subscript) else t for t in flat]
    return {name for name in map(dotted_name, flat) if name}


def _statements_with(program: Program, predicate: Callable[[ast.AST], bool]) -> list[ast.stmt]:
    """Simple statements (not compound ones) holding an expression that satisfies
    ``predicate``."""
    found = []
    for node in ast.walk(program.tree):
        simple = isinstance(node, ast.stmt) and not hasattr(node, "body")
        if simple and any(predicate(n) for n in ast.walk(node)):
            found.append(node)
    return found


def _mask_builder(program: Program) -> Callable[[ast.AST], bool]:
    """A test for calls that build a mask: ``torch.tril``/``triu``, or a snake_case function
    named ``*mask*`` (not ``masked_fill``, not a ``MaskStyle`` class) that, when the program
    defines it, itself builds one or allocates a tensor."""
    defined = {f.name: f for f in program.functions()}

    def builds(node: ast.AST, seen: frozenset[str] = frozenset()) -> bool:
        if is_triangle(node):
            return True
        name = (call_name(node) or "").rsplit(".", 1)[-1]
        if "mask" not in name or name != name.lower() or name.startswith("masked"):
            return False
        if name not in defined or name in seen:
            return name not in seen  # a library's mask function, e.g. generate_square_...
        helper = defined[name]
        if _cached_function(helper):
            return False
        return any(
            (_allocates(n) or builds(n, seen | {name})) and not _built_once(program, n)
            for n in ast.walk(helper)
        )

    return builds


def _cached_function(function: FunctionNode) -> bool:
    """``@functools.cache`` or ``@lru_cache(...)``: one build per distinct argument."""
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if dotted_name(target) in _CACHES:
            return True
    return False


def _built_once(program: Program, node: ast.AST) -> bool:
    """Whether a build inside a helper sits under an ``if`` that caches it (``if n not in
    cache:``, ``if self.mask is None or self.mask.size(0) < n:``): the helper then mostly
    hands back what it built before, often a slice of it."""
    return isinstance(_loop_or_cache(program, node), ast.If)


def _allocates(node: ast.AST) -> bool:
    """``torch.<factory>(...)``: a new tensor from sizes alone."""
    name = call_name(node) or ""
    return name.startswith("torch.") and name.rsplit(".", 1)[-1] in _FACTORIES


def _refreshes(program: Program, statement: ast.stmt) -> bool:
    """Whether a statement passes the value it assigns back in (``mask = f(mask, n)``)."""
    loads = [n for n in ast.walk(statement) if isinstance(getattr(n, "ctx", None), ast.Load)]
    return bool(_assigned_names(program, statement) & {dotted_name(n) for n in loads})


def _creates_then_moves(node: ast.AST) -> bool:
    """``torch.<factory>(...).to(...)`` or ``.cuda()``."""
    if not (isinstance(node, ast.Call) and method_name(node) in ("to", "cuda")):
        return False
    assert isinstance(node.func, ast.Attribute)
    return _allocates(node.func.value)


def _mentions_heads(iterable: ast.expr) -> bool:
    """``range(self.n_heads)``, ``self.heads``, ``enumerate(heads)``: anything named *head*."""
    for node in ast.walk(iterable):
        name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
        if isinstance(name, str) and "head" in name.lower():
            return True
    return False


def _backward_functions(program: Program) -> set[str]:
    """Names of the program's functions that run a backward pass, directly or through
    another of its functions (``train_step`` calling ``loss.backward()``)."""
    functions = {f.name: f for f in program.functions()}
    found: set[str] = set()
    changed = True
    while changed:  # a fixed point over calls between the program's functions
        changed = False
        for name, function in functions.items():
            if name not in found and _runs_backward(ast.walk(function), found):
                found.add(name)
                changed = True
    return found


def _trains(loop: Loop, backward: set[str]) -> bool:
    """Whether ``loop``'s own body (not a nested loop's) runs a backward pass."""
    nodes: list[ast.AST] = []
    stack: list[ast.AST] = [*loop.body]
    while stack:
        node = stack.pop()
        nodes.append(node)
        if not isinstance(node, Loop | DefinitionNode | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
    return _runs_backward(nodes, backward)


def _runs_backward(nodes: Iterable[ast.AST], backward: set[str]) -> bool:
    """Whether any of ``nodes`` calls ``.backward()`` or a function named in ``backward``."""
    return any(
        method_name(n) == "backward" or (call_name(n) or "").rsplit(".", 1)[-1] in backward
        for n in nodes
        if isinstance(n, ast.Call)
    )


def _used_as_device(program: Program, literal: ast.Constant) -> bool:
    """Whether a device literal is used as a device: assigned (``device = "mps"``), passed
    (``torch.device("cuda")``, ``.to("cuda")``, ``device="cuda"``) or a parameter's
    default. Not as one branch of a conditional expression: that is a choice."""
    parent = program.parents.get(literal)
    if isinstance(parent, ast.Assign | ast.AnnAssign | ast.NamedExpr | ast.keyword):
        return True
    if isinstance(parent, ast.arguments):
        return True
    if isinstance(parent, ast.Call) and literal in parent.args:
        return (call_name(parent) or "").endswith("device") or method_name(parent) == "to"
    return False


def _chosen_by_availability(program: Program, node: ast.AST) -> bool:
    """Whether ``node`` sits in an ``if`` or conditional expression that asks
    ``*.is_available()``."""
    for parent in program.ancestors(node):
        if isinstance(parent, ast.If | ast.IfExp) and any(
            (call_name(n) or "").endswith("is_available") for n in ast.walk(parent.test)
        ):
            return True
    return False


def _decorated_no_grad(function: FunctionNode) -> bool:
    """``@torch.no_grad()`` or ``@torch.inference_mode()`` on the function."""
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (dotted_name(target) or "").endswith(_NO_GRAD):
            return True
    return False


def _first_unguarded_model_call(
    program: Program, function: FunctionNode, kinds: Kinds
) -> ast.Call | None:
    """The first call of a model, in the evaluating part of ``function``, that is not inside
    a ``with torch.no_grad()``-like block."""
    # (line, "eval" or "train", model) for each mode switch, in line order.
    switches = sorted(
        (n.lineno, n.func.attr, dotted_name(n.func.value))
        for n in ast.walk(function)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in ("eval", "train")
        and not n.args
    )
    evaluated = {name for _, method, name in switches if method == "eval" and name}
    if not evaluated and not _EVAL_FUNCTION.match(function.name):
        return None
    calls = sorted(
        (n for n in ast.walk(function) if isinstance(n, ast.Call)), key=lambda n: n.lineno
    )
    for call in calls:
        # model(x) and model.forward(x) both run the model.
        forward = isinstance(call.func, ast.Attribute) and call.func.attr == "forward"
        model = call.func.value if forward else call.func  # type: ignore[union-attr]
        callee = dotted_name(model) or ""
        if _NOT_THE_MODEL.search(callee):
            continue
        if evaluated:
            is_model = callee in evaluated
        else:
            is_model = bool(callee) and kinds.of_expr(model, function) == "module"
        if not is_model or not _evaluating(switches, callee, call.lineno, bool(evaluated)):
            continue
        if not _inside_no_grad(program, call):
            return call
    return None


def _evaluating(
    switches: list[tuple[int, str, str | None]], model: str, line: int, switched: bool
) -> bool:
    """Whether ``model`` is in eval mode at ``line``: the last switch before it is ``eval``
    (or the function never switches and is named like an evaluation)."""
    before = [method for at, method, name in switches if name == model and at < line]
    return before[-1] == "eval" if before else not switched


def _inside_no_grad(program: Program, node: ast.AST) -> bool:
    """Whether ``node`` runs inside ``with torch.no_grad():`` (or the like) in its function."""
    for parent in program.ancestors(node):
        if isinstance(parent, ast.With | ast.AsyncWith):
            for item in parent.items:
                if (call_name(item.context_expr) or "").endswith(_NO_GRAD):
                    return True
        if isinstance(parent, DefinitionNode):
            return False
    return False
