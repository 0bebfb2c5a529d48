"""The code a rule panel shows: the statements of a function that ran, read from the installed
source at build time.

A rule's code is run once on tiny inputs under :func:`sys.settrace` (:func:`trace`); every line
executed in PyTorch, torchref or npref is recorded. :func:`statements` then reads a function's
source from the installed package and keeps what ran for that configuration:

* a branch that did not run is left out; an ``if`` of which one branch ran is replaced by that
  branch (an ``if`` whose branches both ran — a first step and the later ones — stays);
* argument checks are left out: ``raise``, ``assert``, ``warnings.warn``, the checking helpers
  of :data:`CHECKS` (a call ``_float_array("x", x)`` reads as ``x``) and the plumbing of
  :data:`PLUMBING` (TorchScript and ``torch.compile`` switches, tensor-or-float conversions);
* an assignment nothing reads any more is left out, and a conditional expression on a flag the
  function was called with (``grads[i] if not maximize else -grads[i]``) reads as its branch;
* every private helper the kept statements call (``_get_value(step_t)``) is shown after them,
  reduced the same way — no name a student cannot look up on the page.

The result is the code that computed the numbers, nothing rewritten but what the list above
says; the caption says which function of which file it is.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path

#: Helpers that only check (or note) their argument and hand it back: a call reads as the
#: argument. (``_validate.*`` calls too.)
CHECKS = {"_float_array", "_targets", "_check_dout", "_forwarded", "_tensor", "_check_labels"}
#: Statements that are plumbing, not arithmetic, by a name they mention.
PLUMBING = ("is_scripting", "is_compiling", "_to_scalar", "_get_capturable_supported_devices",
            "_check_input_dim", "has_torch_function", "_use_grad", "_device_dtype_check",
            "warnings.", "_assert_")
#: The packages whose lines are recorded.
ROOTS = ("torch", "torchref", "npref")


@dataclass
class Trace:
    """What ran: ``lines[file][line]`` how often each line executed, ``flags[code][name]`` the
    values each bool, int, float or str argument took over its calls."""
    lines: dict = field(default_factory=dict)
    flags: dict = field(default_factory=dict)

    def ran(self, fn) -> bool:
        return _code(fn) in self.flags

    def code_named(self, filename_end: str, name: str):
        """The code object of a function that ran (a closure, say) by its file and name."""
        for co in self.flags:
            if co.co_filename.endswith(filename_end) and co.co_name == name:
                return co
        return None


def _roots() -> tuple[str, ...]:
    """The folders of the traced packages, resolved — and, where a symlink leads there (a
    linked virtual environment), also as imported: a frame's ``co_filename`` is the path the
    module was imported by, not its resolved one, and a root missing it traces nothing."""
    found = []
    for name in ROOTS:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            folder = Path(module.__file__).parent
            found.append(str(folder.resolve()))
            if str(folder.absolute()) != found[-1]:
                found.append(str(folder.absolute()))
    return tuple(found)


def trace(run) -> Trace:
    """Run ``run()`` and record the lines it executed in torch, torchref and npref."""
    record = Trace()
    roots = _roots()

    def local(frame, event, arg):
        if event == "line":
            counts = record.lines.setdefault(frame.f_code.co_filename, {})
            counts[frame.f_lineno] = counts.get(frame.f_lineno, 0) + 1
        return local

    def calls(frame, event, arg):
        name = frame.f_code.co_filename
        if not name.startswith(roots):
            return None
        flags = record.flags.setdefault(frame.f_code, {})
        for k, v in frame.f_locals.items():
            if isinstance(v, (bool, int, float, str)):
                flags.setdefault(k, set()).add(v)
        return local

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        run()
    finally:
        sys.settrace(previous)
    return record


def _code(fn):
    if isinstance(fn, types.CodeType):
        return fn
    return getattr(inspect.unwrap(fn), "__code__", None)


def _unwrap(fn):
    return fn if isinstance(fn, types.CodeType) else inspect.unwrap(fn)


@dataclass
class Block:
    """One function's statements that ran: ``title`` names it, ``code`` is its text."""
    title: str
    code: str
    fn: object = None

    @property
    def lines(self) -> int:
        return len(self.code.splitlines())


def statements(fn, record: Trace, *, title: str | None = None, helpers: bool = True,
               cls=None) -> list:
    """The blocks for ``fn``: its statements that ran (see the module's docstring), then each
    private helper they call, reduced the same way (``self._helper`` looked up on ``cls``, the
    class of the object that ran, when given)."""
    blocks, seen = [], set()
    _collect(_unwrap(fn), record, blocks, seen, title, helpers, 0, cls)
    return blocks


def _collect(fn, record, blocks, seen, title, helpers, depth, cls):
    if fn in seen:
        return
    seen.add(fn)
    try:
        body, calls = _reduce(fn, record, cls)
    except (OSError, TypeError):      # no source on disk (a frozen or zipped install)
        blocks.append(Block(title or title_of(fn), "(source not available)", fn))
        return
    blocks.append(Block(title or title_of(fn), body, fn))
    if not helpers or depth > 2:
        return
    for helper in calls:
        if record.ran(helper):
            _collect(_unwrap(helper), record, blocks, seen, None, helpers, depth + 1, cls)


def title_of(fn) -> str:
    """``torch/optim/adam.py, _single_tensor_adam``: where a function's source is."""
    fn = _unwrap(fn)
    path = Path(_code(fn).co_filename).resolve()
    where = path.name
    for root in _roots():
        if str(path).startswith(root):
            where = path.relative_to(Path(root).parent)
            break
    name = getattr(fn, "__qualname__", None) or fn.co_qualname
    return f"{where}, {name.replace('.<locals>', '')}"


def source(fn) -> str:
    """A function's whole source, dedented, without its docstring."""
    fn = inspect.unwrap(fn)
    node = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
    node.body = _without_docstring(node.body) or [ast.Pass()]
    node.decorator_list = []
    return ast.unparse(node)


def _without_docstring(body):
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1:]
    return body


def _reduce(fn, record: Trace, cls=None):
    lines, start = inspect.getsourcelines(fn)
    node = ast.parse(textwrap.dedent("".join(lines))).body[0]
    co = _code(fn)
    counts = record.lines.get(co.co_filename, {})
    executed = {n - start + 1: c for n, c in counts.items()}
    # A flag reads as its value only where every call had the same one.
    flags = {k: next(iter(v)) for k, v in record.flags.get(co, {}).items()
             if len(v) == 1}
    reducer = _Reducer(executed, flags)
    body = reducer.block(_without_docstring(node.body))
    body = _drop_dead(body)
    helpers = _helpers(body, fn, cls)
    return "\n".join(ast.unparse(s) for s in body) or "pass", helpers


class _Reducer:
    """Keeps the statements that ran (line numbers relative to the function's source)."""

    def __init__(self, executed: dict, flags: dict):
        self.executed, self.flags = executed, flags

    def count(self, node) -> int:
        """How often the statement (its header, for a compound one) ran."""
        end = getattr(node, "end_lineno", node.lineno)
        if isinstance(node, (ast.If, ast.While)):
            end = node.test.end_lineno
        elif isinstance(node, (ast.For, ast.With)):
            end = node.body[0].lineno - 1 if node.body else end
        return max((self.executed.get(n, 0) for n in range(node.lineno, end + 1)), default=0)

    def ran(self, node) -> bool:
        return self.count(node) > 0

    def any_ran(self, body) -> bool:
        return any(self.ran(s) or (isinstance(s, (ast.If, ast.For, ast.With, ast.While, ast.Try))
                                   and self.any_ran(_children(s))) for s in body)

    def block(self, body) -> list:
        out = []
        for node in body:
            out.extend(self.statement(node))
        return out

    def statement(self, node) -> list:
        if isinstance(node, (ast.Raise, ast.Assert, ast.Pass)) or _is_plumbing(node, simple=True):
            return []
        if isinstance(node, ast.If):
            return self.branch(node)
        if isinstance(node, (ast.For, ast.While, ast.With)):
            if not (self.ran(node) or self.any_ran(node.body)):
                return []
            node.body = self.block(node.body) or [ast.Pass()]
            if isinstance(node, (ast.For, ast.While)):
                node.orelse = self.block(node.orelse)
            return [node]
        if isinstance(node, ast.Try):
            return self.block(node.body) + self.block(node.finalbody)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # A function defined inside: shown only if it was called, as it ran.
            if not self.any_ran(node.body):
                return []
            node.body = self.block(node.body) or [ast.Pass()]
            return [node]
        if not self.ran(node):
            return []
        node = _Simplify(self.flags).visit(node)
        if _is_check_only(node):
            return []
        return [node]

    def branch(self, node: ast.If) -> list:
        test_ran = self.ran(node)
        body_ran, else_ran = self.any_ran(node.body), self.any_ran(node.orelse)
        if not test_ran and not (body_ran or else_ran):
            return []
        plumbing = _is_plumbing(node.test)
        # An if without else whose body ran less often than its test (a first step): kept.
        sometimes = (body_ran and not node.orelse and node.body
                     and self.count(node.body[0]) < self.count(node))
        if ((body_ran and else_ran) or sometimes) and not plumbing:
            node.test = _Simplify(self.flags).visit(node.test)
            node.body = self.block(node.body) or [ast.Pass()]
            node.orelse = self.block(node.orelse)
            return [node]
        if body_ran:
            return self.block(node.body)
        if else_ran:
            return self.block(node.orelse)
        return []


def _children(node) -> list:
    return [*getattr(node, "body", []), *getattr(node, "orelse", []),
            *getattr(node, "finalbody", []), *[s for h in getattr(node, "handlers", [])
                                                for s in h.body]]


def _mentions(node, words) -> bool:
    text = ast.unparse(node)
    return any(w in text for w in words)


def _is_plumbing(node, simple: bool = False) -> bool:
    if simple and isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
        return False
    return _mentions(node, PLUMBING)


def _check_name(func) -> str | None:
    if isinstance(func, ast.Name) and func.id in CHECKS:
        return func.id
    if isinstance(func, ast.Attribute) and func.attr in CHECKS:
        return func.attr
    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and func.value.id == "_validate"):
        return f"_validate.{func.attr}"
    return None


class _Simplify(ast.NodeTransformer):
    """A checking helper's call reads as its argument; a conditional expression on a flag the
    function was called with reads as the branch taken."""

    def __init__(self, flags):
        self.flags = flags

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "cast" and len(node.args) == 2:
            return node.args[1]                           # typing.cast(T, x) is x
        if _check_name(node.func):
            args = [a for a in node.args if not isinstance(a, ast.Constant)]
            return args[0] if args else node
        return node

    def visit_IfExp(self, node):
        self.generic_visit(node)
        value = self._flag(node.test)
        if value is None:
            return node
        return node.body if value else node.orelse

    def _flag(self, test):
        if isinstance(test, ast.Name) and isinstance(self.flags.get(test.id), bool):
            return self.flags[test.id]
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            inner = self._flag(test.operand)
            return None if inner is None else not inner
        return None


def _is_check_only(node) -> bool:
    """``x = x`` (a check that handed its argument back) or a bare name."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        return ast.unparse(node.targets[0]) == ast.unparse(node.value)
    return isinstance(node, ast.Expr) and isinstance(node.value, (ast.Name, ast.Constant))


def _drop_dead(body: list) -> list:
    """Assignments to a plain name that nothing in the function reads, repeatedly."""
    while True:
        reads = _reads(body)
        dropped = []
        body = _without_dead(body, reads, dropped)
        if not dropped:
            return body


def _without_dead(body, reads, dropped):
    keep = []
    for node in body:
        if (isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets)
                and not any(t.id in reads for t in node.targets) and _pure(node.value)):
            dropped.append(node)
            continue
        if isinstance(node, (ast.If, ast.For, ast.With, ast.While)):
            node.body = _without_dead(node.body, reads, dropped) or [ast.Pass()]
            if getattr(node, "orelse", None):
                node.orelse = _without_dead(node.orelse, reads, dropped)
        keep.append(node)
    return keep


def _reads(body) -> set:
    names = set()
    for node in body:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                names.add(sub.id)
            elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
                names.add(sub.target.id)
    return names


def _pure(value) -> bool:
    """No call of an in-place method (``add_``) in the value: dropping it changes nothing."""
    return not any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                   and n.func.attr.endswith("_") and not n.func.attr.startswith("_")
                   for n in ast.walk(value))


def _helpers(body, fn, cls=None) -> list:
    """The private functions and methods the kept statements call, resolved."""
    found = []
    owner = cls or _owner(fn)
    for node in body:
        for sub in ast.walk(node):
            if not isinstance(sub, ast.Call):
                continue
            f = sub.func
            target = None
            if isinstance(f, ast.Name) and f.id.startswith("_"):
                target = (getattr(fn, "__globals__", None) or {}).get(f.id)
            elif (isinstance(f, ast.Attribute) and f.attr.startswith("_")
                  and not f.attr.startswith("__") and isinstance(f.value, ast.Name)
                  and f.value.id == "self" and owner is not None):
                target = getattr(owner, f.attr, None)
            if inspect.isfunction(target) and target not in found:
                found.append(target)
    return found


def _owner(fn):
    """The class a method was defined in (for ``self._helper`` calls)."""
    if isinstance(fn, types.CodeType):
        return None
    parts = fn.__qualname__.split(".")
    if len(parts) < 2:
        return None
    obj = inspect.getmodule(fn)
    for part in parts[:-1]:
        obj = getattr(obj, part, None)
    return obj if inspect.isclass(obj) else None
