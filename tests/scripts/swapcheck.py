"""Fresh-import equivalence checks shared by the swap harnesses
(stdlib_swap.py, thirdparty_swap.py).

A harness rewrites the source files of real modules in rounds -- `shift`
(lines inserted on top: every code object moves), `touch` (a harmless store
as the first statement of every function body: every function changes) and
`revert` (the original text) --, reloads them in place with hotswap, one
batch per round, and after each round asks: does every function and method
now behave as a fresh import of the same files would?

    walk(modules, root)     every function, method, property accessor,
                            decorated function (__wrapped__), function kept
                            by a decorator object, ... reachable from the
                            modules, keyed by a path ("mod:C.meth.fget"),
                            with its code fingerprint (line tables aside),
                            co_firstlineno and line numbers
    fresh_walk(...)         the same walk in a new interpreter that imports
                            the rewritten files fresh
    compare(...)            the divergences: code, first line, lines,
                            function attributes, bindings, missing names,
                            identities of classes and functions held from
                            before the first round, module and class data
                            not kept across the reload

Run as a script (`swapcheck.py fresh ROOT MODULE...`), it is the fresh side:
it imports the modules and prints the walk as one JSON object.

Only sys, os and types are imported at the top: the stdlib harness imports
this file before its copies of the standard library shadow the originals,
so everything else is imported on first use.
"""
import os
import sys
import types

NOOP = "_hs_noop_ = 0"
SHIFT_LINES = 7            # 5 comment lines + 2 blank lines on top
FUNC = types.FunctionType

# Where a harness looks for a later binding that a fresh import gives: the
# probable causes below are numbered as in issue 13.
CAUSES = {
    0: "not located yet: listed by key in the known lists, see "
       "docs/reliability.md",
    1: "statement added before a star import not run",
    2: "class whose __module__ was rewritten treated as foreign",
    3: "function reachable under several names moved once per name",
    4: "decorator object keeping the function in an attribute",
    5: "slotted class: descriptors overwritten by class-body defaults",
    6: "edited decorated function gets the def line as co_firstlineno",
    7: "functools.cached_property not moved / replaced",
    8: "metaclass derived from ABCMeta: HS507 on edit",
    9: "class statement re-run needs a name a later del removed",
    10: "function reachable only as a wrapper's __wrapped__ (a method "
        "wrapped by a validating decorator, a property over lru_cache) "
        "not moved on a shift, not updated on an edit",
    11: "later binding inside try/if/with does not win",
    12: "inspect broken after every function body is touched",
    # Found by these harnesses, not in issue 13's list:
    13: "function attribute set after the def (f.__doc__ = ..., a class "
        "decorator rewriting docstrings) reset when the def is updated",
    14: "class statement re-run against the live module globals: a "
        "metaclass that special-cases the first creation (enum.Enum with "
        "EnumType, `Enum = None` placeholder) rejects it (HS504)",
    15: "an unedited `del NAME` (one of several identical ones, after "
        "`for NAME in ...:` loops) re-run on a pure line shift: HS504 "
        "NameError",
    16: "private class members, stored name-mangled (`__marker = "
        "object()` as `_Cache__marker`, `def __update` as "
        "`_LRUCache__update`): unedited data assigned again (a new object) "
        "when a method of the class is edited; on main (after issue 10) "
        "an edited private method is a new function too (held ones keep "
        "the old code, not moved back)",
    17: "module whose __file__ was rewritten at import (tlz takes toolz's) "
        "reloaded from the other file: its own names deleted",
    18: "def inside a top-level compound statement (if/else, try) not "
        "moved on a line shift",
    19: "class statement re-run with a subscripted generic base of the "
        "same module (`class BinaryIO(IO[bytes])`): HS504 'function' "
        "object is not subscriptable",
    20: "closures made at import time by attrs' factories (__ne__, "
        "__lt__, ..., __getstate__ from _make_ne()/_make_order()/...) keep "
        "the old code after the factory is edited; not reduced: a plain "
        "factory closure is updated (maybe a consequence of 5's rejected "
        "updates of the slotted classes holding them)",
    21: "several defs of one name edited together (@overload stubs with "
        "a body line, then the implementation): the live function keeps "
        "the old code and gets a stub's first line",
    22: "lambda in an unedited data statement (`f = lambda ...`, "
        "`staticmethod(lambda ...)`) keeps its old line numbers on a shift",
    23: "class whose own name is deleted after aliasing it (`_X = X; "
        "del X`): its methods are neither moved nor updated",
    25: "not hotswap's: module data derived from the module's own line "
        "numbers (pyparsing caches the line of its arity-probing call in "
        "_trim_arity_call_line at first use) is kept by the data policy "
        "and wrong once the code moves",
    26: "main after issue 10: a name bound to a function by an unedited "
        "statement (`__delitem__ = __setitem__ = _raise_frozen`, "
        "`__add__, __radd__ = _operator_fallbacks(...)`) rebound to a new "
        "function object when that function is edited: identity lost, "
        "held references keep the old code",
    27: "main: functions with PEP 695 type parameters (`def "
        "reveal_type[T](obj: T, /)`) and the methods of such classes "
        "(`class SupportsAbs[T](Protocol)`), 3.12+: not moved on a shift",
    28: "an unedited data statement inside a top-level compound statement "
        "(`if PY3:` ... `byte2int = operator.itemgetter(0)`) bound again "
        "when the compound statement is run again for an edited def in it "
        "(the compound statement is the unit that runs)",
    29: "a decorator of the module whose own definition changed: the defs "
        "it decorates are decorated again (issue 10 point 3, deco10) and, "
        "when it returns a wrapper, bound to the new wrapper (HS102): "
        "identity lost, held ones run the new body under the old wrapper "
        "(moving the new wrapper's code and cells onto the old wrapper is "
        "not done yet)",
    30: "3.14+ module-level annotations: the module's __annotate__ (and "
        "__conditional_annotations__) are made by the compiler for the "
        "whole module; statements compiled alone do not rebuild them, so "
        "they keep their old lines and an edited `x: T` is not seen in "
        "module.__annotations__ (also a class's __annotate_func__ after a "
        "shift)",
    24: "3.13+: a class's __firstlineno__ (what inspect.getsource reads) "
        "becomes 1 when the class is updated, and the __firstlineno__ "
        "constant of a class body nested in a moved function keeps the old "
        "line",
}


# ------------------------------------------------------------ transforms ----
def _cookie_lines(lines):
    """How many leading lines must stay on top: a shebang and an encoding
    cookie (PEP 263: line 1 or 2)."""
    import re
    cookie = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+")
    keep = 0
    for i, line in enumerate(lines[:2]):
        if cookie.match(line) or (i == 0 and line.startswith("#!")):
            keep = i + 1
    return keep


def shift(source):
    """Every line moves down by SHIFT_LINES; nothing else changes."""
    lines = source.splitlines(keepends=True)
    keep = _cookie_lines(lines)
    top = ["# hotswap swap: shifted\n"] * (SHIFT_LINES - 2) + ["\n", "\n"]
    return "".join(lines[:keep] + top + lines[keep:])


def touch(source):
    """A harmless store (`_hs_noop_ = 0`) as the first statement of every
    function body (after its docstring); returns (new source, number of
    functions touched).  Skipped: one-line functions, functions whose first
    statement shares a line with something else, and functions that look at
    their own locals (locals/vars/exec/eval)."""
    import ast
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    inserts = {}           # 0-based line index -> lines to insert before
    count = 0
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
               and n.func.id in ("locals", "vars", "exec", "eval")
               for n in ast.walk(node)):
            continue
        body = node.body
        k = 0
        if (isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            k = 1                      # keep the docstring first
        if k >= len(body):             # a lone docstring: store after it
            if body[0].lineno == node.lineno:
                continue
            line = lines[body[0].end_lineno - 1]
            if line.rstrip().endswith("\\"):
                continue
            inserts.setdefault(body[0].end_lineno, []).append(
                " " * body[0].col_offset + NOOP + "\n")
            count += 1
            continue
        stmt = body[k]
        start = stmt.lineno            # a decorated def starts at "@"
        for deco in getattr(stmt, "decorator_list", ()):
            start = min(start, deco.lineno)
        if start == node.lineno or node.body[0].lineno == node.lineno:
            continue                   # `def f(): return x` on one line
        line = lines[start - 1]
        if len(line) - len(line.lstrip()) != stmt.col_offset:
            continue                   # not first on its line
        if k and body[0].end_lineno == start:
            continue
        inserts.setdefault(start - 1, []).append(
            " " * stmt.col_offset + NOOP + "\n")
        count += 1
    out = []
    for i, line in enumerate(lines):
        out.extend(inserts.get(i, ()))
        out.append(line)
    out.extend(inserts.get(len(lines), ()))
    new = "".join(out)
    ast.parse(new)                     # still valid
    return new, count


ROUNDS = ("shift", "touch", "revert")


def round_source(original, name):
    """The text of a file in round `name` (each round starts from the
    original: touch is applied to the shifted text)."""
    if name == "shift":
        return shift(original)
    if name == "touch":
        return touch(shift(original))[0]
    if name == "revert":
        return original
    raise ValueError(name)


# ------------------------------------------------------------ fingerprints --
def _const_fp(value):
    if isinstance(value, types.CodeType):
        return ("code", code_fp(value))
    if isinstance(value, (tuple, frozenset)):
        items = [_const_fp(v) for v in value]
        if isinstance(value, frozenset):
            items.sort(key=repr)
        return (type(value).__name__, tuple(items))
    return (type(value).__name__, repr(value))


_NORM = None


def _bytecode(code):
    """co_code, normalised on 3.11+ for one compiler choice: a call of an
    attribute of a name that an import statement of the module binds
    (`re.compile(...)`, even through a local `re`) compiles to PUSH_NULL +
    LOAD_ATTR (plain attribute) instead of LOAD_ATTR (method form) when the
    whole module is compiled (3.12's is_import_originated looks the name up
    in the module's symbol table).  hotswap compiles an edited statement
    alone, so it gets the other form: the same call, the same behaviour.
    Dropped: CACHE and PUSH_NULL instructions, the NULL/method bit of
    LOAD_GLOBAL/LOAD_ATTR (3.11: LOAD_METHOD read as LOAD_ATTR), jump
    arguments (they shift with the dropped instructions)."""
    global _NORM
    if sys.version_info < (3, 11):
        return code.co_code
    if _NORM is None:
        import opcode
        m = opcode.opmap
        jumps = set(opcode.hasjrel) | set(getattr(opcode, "hasjabs", ()))
        # 3.11 has a LOAD_METHOD opcode where 3.12 sets LOAD_ATTR's low bit
        renamed = {m["LOAD_METHOD"]: m["LOAD_ATTR"]} \
            if "LOAD_METHOD" in m and sys.version_info < (3, 12) else {}
        _NORM = (m["CACHE"], m["PUSH_NULL"], m["EXTENDED_ARG"],
                 {m["LOAD_GLOBAL"]} if sys.version_info < (3, 12)
                 else {m["LOAD_GLOBAL"], m["LOAD_ATTR"]}, jumps, renamed)
    cache, push_null, ext, masked, jumps, renamed = _NORM
    raw = code.co_code
    out = bytearray()
    for i in range(0, len(raw) - 1, 2):
        op, arg = raw[i], raw[i + 1]
        if op in (cache, push_null, ext):
            continue
        op = renamed.get(op, op)
        if op in masked:
            arg &= 0xFE
        elif op in jumps:
            arg = 0
        out += bytes((op, arg))
    return bytes(out)


CO_OPTIMIZED = 0x1


def _class_body_lines(code):
    """3.13+: a class body stores its first line as a constant (the class's
    __firstlineno__, which inspect.getsource uses): line information, not
    code."""
    if sys.version_info < (3, 13) or code.co_flags & CO_OPTIMIZED or \
            "__firstlineno__" not in code.co_names:
        return ()
    return tuple(c for c in code.co_consts
                 if type(c) is int and c > 0)[:1]


# The __future__ flags that change nothing on Python 3 (division,
# absolute_import, with_statement, print_function, unicode_literals,
# generator_stop): the compiler keeps them in co_flags when they are passed
# to compile() (hotswap passes the module's) but not when it reads them
# from the source's `from __future__ import`.
NOOP_FUTURE_FLAGS = 0x20000 | 0x40000 | 0x80000 | 0x100000 | 0x200000 | \
    0x800000


def code_fp(code):
    """A digest of everything in a code object but its line information
    (co_firstlineno, line table, positions, a class body's __firstlineno__
    constant) and the no-op __future__ flags; nested code objects
    included."""
    import hashlib
    lines = _class_body_lines(code)
    consts = tuple(("line",) if lines and c is lines[0] and type(c) is int
                   else _const_fp(c) for c in code.co_consts)
    parts = [_bytecode(code), code.co_names, code.co_varnames,
             code.co_freevars, code.co_cellvars, code.co_argcount,
             code.co_posonlyargcount, code.co_kwonlyargcount,
             code.co_flags & ~NOOP_FUTURE_FLAGS, code.co_nlocals,
             code.co_name,
             getattr(code, "co_qualname", None), consts]
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def _lnotab_lines(code):
    """Line numbers of a 3.9 code object (co_lnotab)."""
    lines, line = [], code.co_firstlineno
    tab = code.co_lnotab
    lines.append(line)
    for i in range(0, len(tab), 2):
        delta = tab[i + 1]
        if delta >= 128:
            delta -= 256
        line += delta
        if tab[i + 1]:
            lines.append(line)
    return lines


def code_lines(code):
    """(co_firstlineno, sorted line numbers of the code and every nested
    code object, first lines of the nested code objects)."""
    seen, nested = set(), []
    todo = [code]
    while todo:
        c = todo.pop()
        if c is not code:
            nested.append(c.co_firstlineno)
            nested.extend(_class_body_lines(c))
        if hasattr(c, "co_lines"):
            seen.update(ln for _, _, ln in c.co_lines() if ln is not None)
        else:
            seen.update(_lnotab_lines(c))
        todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return code.co_firstlineno, sorted(seen), sorted(nested)


def _safe(value):
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        r = repr(value)
        return r if len(r) < 80 else r[:77] + "..."
    return type(value).__name__


def func_info(func):
    """JSON-shaped (lists, not tuples), as the fresh side's entries are."""
    code = func.__code__
    first, lines, nested = code_lines(code)
    return {"kind": "func", "fp": code_fp(code), "first": first,
            "lines": lines, "nested": nested,
            "probe": NOOP.split()[0] in code.co_varnames,
            "attrs": [func.__name__, func.__qualname__,
                      _safe(func.__doc__),
                      [_safe(d) for d in func.__defaults__ or ()],
                      sorted([k, _safe(v)] for k, v in
                             (func.__kwdefaults__ or {}).items()),
                      len(func.__closure__ or ())],
            "qual": func.__qualname__, "origin": _origin(func)}


# ------------------------------------------------------------------ walk ----
_LEAVES = (type(None), bool, int, float, complex, str, bytes, bytearray,
           list, dict, set, frozenset, tuple, types.ModuleType, range,
           slice, type(Ellipsis), type(NotImplemented))


def _origin(obj):
    """What a name is bound to, comparable across processes."""
    if isinstance(obj, type):
        mod = obj.__module__       # a property on wrapt's proxy classes
        if not isinstance(mod, str):
            mod = f"<{type(mod).__name__}>"
        return f"class {mod}.{obj.__qualname__}"
    if isinstance(obj, FUNC):
        return f"function {obj.__module__}.{obj.__qualname__}"
    if isinstance(obj, types.BuiltinFunctionType):
        return f"builtin {getattr(obj, '__module__', None)}." \
               f"{getattr(obj, '__qualname__', obj.__name__)}"
    return f"data {type(obj).__module__}.{type(obj).__qualname__}"


class Walk:
    """Everything reachable from `modules` whose code lives under `root`.

    entries: key -> info dict (JSON-able); objects: key -> the object (the
    function for "func" entries, the class for "class" entries, the value
    for "bind" entries); data: (owner key, name) -> value of every module
    and own-class dict entry (for the data-kept check)."""

    MAX_INSTANCE_DEPTH = 2

    def __init__(self, modules, root):
        self.root = os.path.realpath(root) + os.sep
        self.modules = list(modules)
        self.modnames = {m.__name__ for m in self.modules}
        self.entries = {}
        self.objects = {}
        self.data = {}
        self.instances = {}        # key -> instance of an own class
        self.instance_ids = set()  # ids of those instances
        self._containers = set()   # ids of classes/instances walked
        self._func_keys = {}       # id(function) -> [keys]
        for mod in self.modules:
            self._walk_dict(mod.__name__ + ":", vars(mod), mod.__name__)

    # -- predicates ------------------------------------------------------
    def own_func(self, obj):
        if not isinstance(obj, FUNC):
            return False
        f = obj.__code__.co_filename   # "<string>", "<frozen ...>": not ours
        return os.path.isabs(f) and os.path.realpath(f).startswith(self.root)

    def own_class(self, obj):
        if not isinstance(obj, type) or not (obj.__flags__ & (1 << 9)):
            return False           # not a heap type
        if obj.__module__ in self.modnames:
            return True
        return any(self.own_func(v) for v in vars(obj).values())

    # -- walking ---------------------------------------------------------
    def _walk_dict(self, prefix, ns, owner_mod, depth=0):
        for name in sorted(ns, key=str):
            if not isinstance(name, str):
                continue
            value = ns[name]
            if depth == 0:
                self.data[(prefix, name)] = value
            self._visit(prefix + name, value, owner_mod, depth)

    def _func(self, key, func):
        self.entries[key] = func_info(func)
        self.objects[key] = func
        self._func_keys.setdefault(id(func), []).append(key)
        wrapped = vars(func).get("__wrapped__")
        if wrapped is not None:
            self._visit(key + ".__wrapped__", wrapped, None, 1)

    def _visit(self, key, obj, owner_mod, depth):
        if isinstance(obj, FUNC):
            if self.own_func(obj):
                self._func(key, obj)
            else:
                self.entries[key] = {"kind": "bind", "origin": _origin(obj)}
                self.objects[key] = obj
                wrapped = vars(obj).get("__wrapped__")
                if wrapped is not None:
                    self._visit(key + ".__wrapped__", wrapped, None, 1)
            return
        if isinstance(obj, types.MethodType):
            self._visit(key, obj.__func__, owner_mod, depth)
            return
        if isinstance(obj, (staticmethod, classmethod)):
            self._visit(key, obj.__func__, owner_mod, depth)
            return
        if isinstance(obj, property):
            for part in ("fget", "fset", "fdel"):
                f = getattr(obj, part)
                if f is not None:
                    self._visit(f"{key}.{part}", f, owner_mod, depth + 1)
            return
        if isinstance(obj, type):
            if not self.own_class(obj):
                self.entries[key] = {"kind": "bind", "origin": _origin(obj)}
                self.objects[key] = obj
                return
            first = vars(obj).get("__firstlineno__")
            self.entries[key] = {"kind": "class", "qual": obj.__qualname__,
                                 "origin": _origin(obj),
                                 "first": first if type(first) is int
                                 else None}
            self.objects[key] = obj
            if id(obj) in self._containers:
                return
            self._containers.add(id(obj))
            ns = vars(obj)
            for name in sorted(ns, key=str):
                self.data[(key + ".", name)] = ns[name]
            self._walk_dict(key + ".", dict(ns), obj.__module__, depth=1)
            return
        if isinstance(obj, _LEAVES):
            self.entries[key] = {"kind": "bind", "origin": _origin(obj)}
            return
        # Builtin-typed wrappers that keep a function.
        for attr in ("__wrapped__", "func", "__func__"):
            try:
                inner = object.__getattribute__(obj, attr) \
                    if attr != "__wrapped__" else vars(obj).get(attr)
            except (AttributeError, TypeError):
                continue
            if isinstance(inner, (FUNC, types.MethodType)) or (
                    inner is not None and attr == "func"
                    and not isinstance(inner, _LEAVES)):
                self._visit(f"{key}.{attr}", inner, owner_mod, depth + 1)
        # Instances of own classes: their attributes (a decorator object
        # keeping the function, an enum member, a special form).
        cls = type(obj)
        if not self.own_class(cls) or depth > self.MAX_INSTANCE_DEPTH \
                or id(obj) in self._containers:
            self.entries.setdefault(key, {"kind": "bind",
                                          "origin": _origin(obj)})
            if id(obj) in self.instance_ids:
                self.objects.setdefault(key, obj)   # another name for it
            return
        self._containers.add(id(obj))
        self.entries.setdefault(key, {"kind": "bind",
                                      "origin": _origin(obj)})
        self.objects.setdefault(key, obj)
        self.instances[key] = obj
        self.instance_ids.add(id(obj))
        attrs = {}
        try:
            attrs.update(object.__getattribute__(obj, "__dict__"))
        except (AttributeError, TypeError):
            pass
        for klass in cls.__mro__:
            for slot in vars(klass).get("__slots__", ()) or ():
                if not isinstance(slot, str) or slot in attrs:
                    continue
                desc = vars(klass).get(slot)
                if type(desc).__name__ != "member_descriptor":
                    continue
                try:
                    attrs[slot] = desc.__get__(obj, cls)
                except AttributeError:
                    pass
        for name in sorted(attrs, key=str):
            value = attrs[name]
            if isinstance(value, (FUNC, types.MethodType, staticmethod,
                                  classmethod, property)) or (
                    not isinstance(value, (type, _LEAVES))
                    and self.own_class(type(value))) or (
                    type(value).__module__ == "functools"):
                self._visit(f"{key}.{name}", value, owner_mod, depth + 1)

    # -- results ---------------------------------------------------------
    def aliases(self, key):
        """Number of keys the function at `key` is reachable under."""
        obj = self.objects.get(key)
        return len(self._func_keys.get(id(obj), ())) if obj is not None \
            else 0

    def json(self):
        return self.entries


# ------------------------------------------------------------ fresh side ----
def fresh_walk(python, root, modnames, sys_path, flags=(), env=None,
               timeout=300):
    """Import `modnames` fresh in a new interpreter (`sys_path` first on
    sys.path) and return its walk's entries."""
    import json
    import subprocess
    proc = subprocess.run(
        [python, *flags, os.path.abspath(__file__), "fresh", root,
         os.pathsep.join(sys_path), *modnames],
        capture_output=True, text=True, timeout=timeout, env=env,
        cwd=os.path.dirname(root.rstrip(os.sep)) or None)
    if proc.returncode != 0:
        raise RuntimeError(f"fresh import failed ({proc.returncode}):\n"
                           f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.splitlines()[-1])


def _fresh_main(argv):
    root, path = argv[0], argv[1]
    names = argv[2:]
    # Our own directory is sys.path[0]: it holds no module of interest.
    sys.path[:0] = [p for p in path.split(os.pathsep) if p]
    import importlib
    mods = []
    for name in names:
        mods.append(importlib.import_module(name))
    walk = Walk([sys.modules[n] for n in names], root)
    import json
    sys.stdout.write(json.dumps(walk.json()) + "\n")
    return 0


# --------------------------------------------------------------- compare ----
class Held:
    """References taken before the first round, the way programs hold them:
    functions and classes (copies of `from m import f`), bound methods of
    live instances, the instances themselves."""

    def __init__(self, walk, max_bound=2000):
        self.funcs = {k: o for k, o in walk.objects.items()
                      if walk.entries[k]["kind"] == "func"}
        self.classes = {k: o for k, o in walk.objects.items()
                        if walk.entries[k]["kind"] == "class"}
        self.instances = dict(walk.instances)
        self.bound = {}            # key of the method -> [bound methods]
        for ikey, inst in list(self.instances.items()):
            cls = type(inst)
            ckey = None
            for k, c in self.classes.items():
                if c is cls:
                    ckey = k
                    break
            if ckey is None:
                continue
            for name, value in sorted(vars(cls).items()):
                if not isinstance(value, FUNC) or len(self.bound) > max_bound:
                    continue
                try:
                    bm = getattr(inst, name)
                except Exception:  # noqa: BLE001 - any user code
                    continue
                if isinstance(bm, types.MethodType) and bm.__func__ is value:
                    self.bound.setdefault(f"{ckey}.{name}", []).append(
                        (ikey, bm))
        self.inst_class = {k: type(o) for k, o in self.instances.items()}


def data_snapshot(walk):
    """Module- and own-class dict entries of a walk (objects kept alive)."""
    return dict(walk.data)


def _immutable_equal(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, (str, bytes, int, float, bool, frozenset, tuple,
                      type(None))):
        try:
            return bool(a == b)
        except Exception:  # noqa: BLE001
            return False
    return False


# Class-dict entries that the interpreter or hotswap legitimately rebuilds
# when a class is updated (their content is the same).
REBUILT = {"__abstractmethods__", "__slotnames__", "_abc_impl", "__doc__",
           "__weakref__", "__dict__", "__annotations__",
           "__static_attributes__", "__firstlineno__",
           # 3.14: computed from __annotate__ on first use, dropped when
           # __annotate__ is set
           "__annotations_cache__"}


def compare(fresh, live, held=None, before=None, after=None):
    """Divergences of `live` (a Walk after the reload) from `fresh` (the
    fresh import's entries), of the held references, and of the data
    (snapshots before/after the reload).  Returns a list of dicts:
    {kind, key, expected, got, note}."""
    out = []

    def div(kind, key, expected=None, got=None, note=""):
        out.append({"kind": kind, "key": key, "expected": expected,
                    "got": got, "note": note})

    def same_func(key, f, info, how):
        if info["fp"] != f["fp"]:
            div("code", key, "new code" if f["probe"] else "old code",
                "new code" if info["probe"] else "other code",
                how)
        elif info["first"] != f["first"]:
            div("firstlineno", key, f["first"], info["first"], how)
        elif info["lines"] != f["lines"] or info["nested"] != f["nested"]:
            div("lines", key, f["nested"] or f["lines"][:5],
                info["nested"] or info["lines"][:5], how)
        if info["attrs"] != f["attrs"]:
            div("attrs", key, f["attrs"], info["attrs"], how)

    for key, f in fresh.items():
        got = live.entries.get(key)
        if f["kind"] == "func":
            if got is None:
                parent = key.rsplit(".", 1)[0]
                if key.count(":") and ":" in parent and \
                        live.entries.get(parent) is None and \
                        fresh.get(parent) is not None:
                    continue       # reported for the parent
                div("missing", key, f["qual"], None)
            elif got["kind"] != "func":
                div("binding", key, f"function {f['qual']}",
                    got.get("origin"))
            else:
                same_func(key, f, got, "")
        elif f["kind"] == "class":
            if got is None:
                div("missing", key, f["origin"], None)
            elif got["kind"] != "class" or got["origin"] != f["origin"]:
                div("binding", key, f["origin"], got.get("origin"))
            elif got.get("first") != f.get("first"):
                div("firstlineno", key, f.get("first"), got.get("first"),
                    "class __firstlineno__")
        elif got is not None and got["kind"] in ("func", "class"):
            # A fresh import binds something else here (a C accelerator,
            # an import that rebinds the name).
            div("binding", key, f.get("origin"),
                got.get("origin") + " (own)")

    if held is not None:
        for key, func in held.funcs.items():
            f = fresh.get(key)
            if f is None or f["kind"] != "func":
                continue
            if live.objects.get(key) is not func:
                if key in live.objects and live.entries[key]["kind"] == \
                        "func":
                    div("identity", key, "the function held before",
                        "another function object")
                same_func(key, f, func_info(func), "held reference")
        for key, cls in held.classes.items():
            f = fresh.get(key)
            if f is None or f["kind"] != "class":
                continue
            if live.objects.get(key) is not cls:
                div("identity", key, "the class held before",
                    _origin(live.objects.get(key)) + " (another object)")
        for key, cls in held.inst_class.items():
            inst = held.instances[key]
            if type(inst) is not cls:
                div("identity", key, f"instance of {cls.__qualname__}",
                    f"instance of {type(inst).__qualname__}")
        for mkey, bms in held.bound.items():
            f = fresh.get(mkey)
            if f is None or f["kind"] != "func":
                continue
            for ikey, bm in bms[:3]:
                if bm.__func__ is live.objects.get(mkey):
                    continue       # checked above
                same_func(mkey, f, func_info(bm.__func__),
                          f"bound method held on {ikey}")

    if before is not None and after is not None:
        for (owner, name), value in before.items():
            if (owner, name) not in after:
                if owner.endswith(":") or name not in REBUILT:
                    div("data", owner + name, _origin(value), "deleted")
                continue
            now = after[(owner, name)]
            if now is value or _immutable_equal(now, value):
                continue
            if name in REBUILT and not owner.endswith(":"):
                continue
            div("data", owner + name, _origin(value),
                _origin(now) + " (another object)")
    return out


# ------------------------------------------------------------- classify ----
def classify(d, live, fresh_sources):
    """A probable cause (issue 13 numbering) for one divergence, or None.

    fresh_sources: {filename: new source text} of the round, to tell a
    decorated function's first line from its def line."""
    kind, key = d["kind"], d["key"]
    obj = live.objects.get(key)
    if kind != "firstlineno" and _enum_special(key, live):
        return 12
    if kind == "rejected":
        if "HS203" in d["got"] and "__slots__" in d["got"]:
            return 5
        return None
    if kind == "data" and d["expected"] == \
            "data builtins.member_descriptor":
        return 5
    if kind == "code" and isinstance(obj, FUNC) and "<locals>" in getattr(
            obj.__code__, "co_qualname", obj.__qualname__):
        return 20                  # attrs renames the function: the code
                                   # keeps where it was made (3.11+)
    if ":" in key and kind in ("data", "identity", "code", "firstlineno"):
        owner, _, name = key.rpartition(".")
        cls = live.objects.get(owner)
        if isinstance(cls, type) and name.startswith(
                "_" + cls.__name__.lstrip("_") + "__"):
            return 16
    if kind == "firstlineno" and isinstance(obj, type):
        return 24
    if kind == "lines" and sys.version_info >= (3, 13) and \
            isinstance(obj, FUNC) and any(
                isinstance(c, types.CodeType) and _class_body_lines(c)
                for c in obj.__code__.co_consts):
        return 24
    if kind == "firstlineno" and isinstance(obj, FUNC) and (
            getattr(obj, "__type_params__", ()) or getattr(
                live.objects.get(key.rsplit(".", 1)[0]), "__type_params__",
                ())):
        return 27
    if kind == "firstlineno" and isinstance(obj, FUNC):
        deco = _decorated_lines(obj.__code__.co_filename, fresh_sources)
        if deco.get(d["expected"]) == d["got"]:
            return 6
        if d["expected"] in _compound_defs(obj.__code__.co_filename,
                                           fresh_sources):
            return 18
        if live.aliases(key) > 1 or _shares_code(live, obj):
            return 3
        if obj.__code__.co_name == "<lambda>":
            return 22
        if ".func" in key:
            return 7
        if ".__wrapped__" in key:
            return 10
        if _through_instance(key, live):
            return 4
        return None
    if _cached_property(key, live):
        return 7
    if kind == "code" and key.endswith(".__wrapped__") and \
            not _through_instance(key, live):
        return 10
    if kind == "code":
        if isinstance(obj, FUNC) and _overloaded(
                obj.__code__.co_filename, fresh_sources, obj.__name__):
            return 21
        if _through_instance(key, live):
            return 4
        if isinstance(obj, FUNC) and obj.__name__ != \
                key.rsplit(".", 1)[-1].rsplit(":", 1)[-1]:
            return 26              # an alias of an edited function
        return None
    if kind in ("identity", "data") and (
            _through_instance(key, live)
            or id(live.objects.get(key)) in live.instance_ids):
        return 4
    if kind in ("identity", "data") and isinstance(obj, FUNC) and (
            obj.__name__ != key.rsplit(".", 1)[-1].rsplit(":", 1)[-1]
            or "<locals>" in getattr(obj.__code__, "co_qualname",
                                     obj.__qualname__)):
        return 26                  # an alias or a factory's function
    if kind == "attrs" and d["expected"] and d["got"] and \
            d["expected"][:2] + d["expected"][3:] == \
            d["got"][:2] + d["got"][3:]:
        return 13                  # only __doc__ differs
    if kind == "binding" and d["got"] and d["got"].endswith("(own)"):
        return 11
    return None


def _enum_special(key, live):
    """A member EnumType manages (__new__ moved to _new_member_, ...) of an
    enum class."""
    owner, _, name = key.rpartition(".")
    if name not in ("__new__", "_new_member_", "__new_member__",
                    "_generate_next_value_"):
        return False
    cls = live.objects.get(owner)
    return isinstance(cls, type) and "_member_map_" in vars(cls)


_compound_cache = {}


def _compound_defs(filename, sources):
    """First lines of the defs nested in a top-level if/try/with/for."""
    src = sources.get(filename)
    if src is None:
        return set()
    key = (filename, hash(src))
    if key not in _compound_cache:
        import ast
        out = set()
        for top in ast.parse(src).body:
            if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef,
                                ast.ClassDef)):
                continue
            for node in ast.walk(top):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    first = min([node.lineno] + [x.lineno for x in
                                                 node.decorator_list])
                    out.add(first)
        _compound_cache[key] = out
    return _compound_cache[key]


_overload_cache = {}


def _overloaded(filename, sources, name):
    """`name` has @overload-decorated defs in the file's new source."""
    src = sources.get(filename)
    if src is None:
        return False
    key = (filename, hash(src))
    if key not in _overload_cache:
        import ast
        out = set()
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for deco in node.decorator_list:
                    if (getattr(deco, "id", None) or
                            getattr(deco, "attr", None)) == "overload":
                        out.add(node.name)
        _overload_cache[key] = out
    return name in _overload_cache[key]


def _cached_property(key, live):
    """The divergence is about a functools.cached_property (the descriptor
    or the function it keeps)."""
    for k in (key, key.rsplit(".", 1)[0]):
        e = live.entries.get(k)
        if e and e.get("origin", "").endswith("functools.cached_property"):
            return True
    return False


def _shares_code(live, func):
    # The same function object under another key, or properties/aliases
    # sharing it: counted by Walk.aliases; a code object shared by two
    # functions is another form.
    n = 0
    for k, o in live.objects.items():
        if isinstance(o, FUNC) and o is not func and o.__code__ is \
                func.__code__:
            n += 1
    return n > 0


def _through_instance(key, live):
    """The key goes through an instance of one of the package's classes (a
    decorator object keeping the function)."""
    parts = key.split(":", 1)[1].split(".")
    prefix = key.split(":", 1)[0] + ":"
    for i in range(1, len(parts)):
        k = prefix + ".".join(parts[:i])
        if id(live.objects.get(k)) in live.instance_ids:
            return True
    return False


_deco_cache = {}


def _decorated_lines(filename, sources):
    """{first decorator line: def line} of every decorated def of a file's
    new source."""
    src = sources.get(filename)
    if src is None:
        return {}
    key = (filename, hash(src))
    if key not in _deco_cache:
        import ast
        out = {}
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    and node.decorator_list:
                out[node.decorator_list[0].lineno] = node.lineno
        _deco_cache[key] = out
    return _deco_cache[key]


def side_effects(divs, report):
    """Split off the data divergences the program's own code made while
    the reload ran it: a class attribute whose value changed (`cls.counter
    += 1` in a constructor that a re-run class body calls: attrs'
    `_CountingAttr.cls_counter`) although the report has no entry for it,
    so hotswap did not write it.  Re-run statements run their side effects
    again; that is a documented difference (docs/api.md, "side effects of
    re-run class bodies"), not a divergence of the swap.  A value hotswap
    wrote is reported, so a silent write of its own is never excused here.
    Returns (divergences, side effects)."""
    if report is None:
        return divs, []
    written = {(e.module, e.name) for e in report.entries}
    keep, side = [], []
    for d in divs:
        mod, _, qual = d["key"].partition(":")
        owner = qual.rpartition(".")[0]
        if d["kind"] == "data" and owner and \
                d["got"].endswith(" (another object)") and \
                (mod, qual) not in written and \
                d["expected"] == d["got"][:-len(" (another object)")]:
            side.append(d["key"])
        else:
            keep.append(d)
    return keep, side


def rejected_divergences(report):
    """The rejected entries of a report as divergences (an edit of these
    rounds is always valid: nothing should be rejected)."""
    out = []
    for e in (report.rejected if report is not None else ()):
        out.append({"kind": "rejected", "key": f"{e.module}:{e.name}",
                    "expected": "applied", "got": f"{e.code} {e.reason}",
                    "note": ""})
    return out


def classify_error(error):
    """A probable cause for a ReloadError message, or None."""
    if not error:
        return None
    if "_abc_caches_clear" in error:
        return 8
    if "new enumerations should be created as" in error:
        return 14
    if "object is not subscriptable" in error:
        return 19
    if "is read-only" in error:
        return 5
    if "NameError" in error:
        import re
        m = re.search(r"\((/[^()]*?\.py):(\d+)\)", error)
        line = ""
        if m:
            try:
                with open(m.group(1), encoding="utf-8") as fh:
                    line = fh.read().splitlines()[int(m.group(2)) - 1]
            except (OSError, IndexError, UnicodeDecodeError):
                pass
        if line.lstrip().startswith("del "):
            return 15
        return 9
    return None


# ----------------------------------------------------------------- judge ----
def _apply_keys(result, known):
    """Divergences whose key the known list names (fnmatch patterns under
    known["keys"]) get the cause it gives, over the heuristics of
    classify(): what was located by hand wins."""
    import fnmatch
    pats = known.get("keys", {})
    for rnd in result.get("rounds", {}).values():
        for d in rnd.get("divergences", ()):
            for pat, cause in pats.items():
                if fnmatch.fnmatchcase(d["key"], pat):
                    d["cause"] = cause
                    break


def judge(result, known):
    """(status, messages) of one package or module against its known
    failures, `known` = {cause number: why, ..., "tests": cause number(s)
    explaining changed test outcomes, "keys": {key pattern: cause}}.

    "pass": no divergence and nothing known; "known": every divergence has
    a known cause and every known cause was seen; "FAIL" otherwise -- a
    divergence without a cause, a cause not listed, or a listed cause no
    longer seen (fixed: take it off the list)."""
    if "crash" in result:
        return "FAIL", [f"harness crashed: {result['crash'][-500:]}"]
    _apply_keys(result, known)
    listed = {c for c in known if c not in ("tests", "keys", "tolerated")}
    tolerated = set(known.get("tolerated", ()))
    tests_cause = known.get("tests")
    if isinstance(tests_cause, int):
        tests_cause = (tests_cause,)
    seen, unexplained = set(), []
    for rname, rnd in result["rounds"].items():
        if rnd.get("error"):
            # Nothing was applied: the divergences and test outcomes of the
            # round follow from the error.
            c = rnd.get("error_cause")
            if c is None:
                unexplained.append(f"{rname}: {rnd['error'][:300]}")
            else:
                seen.add(c)
            continue
        for d in rnd.get("divergences", ()):
            if d.get("cause") is None:
                unexplained.append(f"{rname}: " + summarize([d])[0])
            else:
                seen.add(d["cause"])
        if rnd.get("tests_changed_count"):
            if tests_cause:
                seen.update(tests_cause)
            else:
                unexplained.append(
                    f"{rname}: {rnd['tests_changed_count']} test outcome(s) "
                    f"changed: {rnd['tests_changed'][:3]}")
    msgs = [f"unexplained: {u}" for u in unexplained[:10]]
    new = sorted(seen - listed - tolerated)
    gone = sorted(listed - seen)
    if new:
        msgs.append(f"cause(s) {new} seen but not listed as known")
    if gone:
        msgs.append(f"known cause(s) {gone} no longer seen: fixed? take "
                    f"them off the known list")
    if unexplained or new or gone:
        return "FAIL", msgs
    return ("known" if listed or seen else "pass"), msgs


def round_cell(rnd):
    if rnd.get("error"):
        c = rnd.get("error_cause")
        return f"ReloadError{f' (cause {c})' if c is not None else ''}"
    parts = []
    n = rnd.get("divergence_count", 0)
    if n:
        causes = sorted({d["cause"] for d in rnd["divergences"]
                         if d.get("cause") is not None})
        other = sum(1 for d in rnd["divergences"]
                    if d.get("cause") is None)
        tag = ",".join(map(str, causes)) + (f",?{other}" if other else "")
        parts.append(f"{n} div ({tag})")
    if rnd.get("tests_changed_count"):
        parts.append(f"{rnd['tests_changed_count']} tests changed")
    return "; ".join(parts) or "pass"


def result_line(name, res):
    if "crash" in res:
        return f"{name}: CRASH ({res.get('seconds')}s)"
    rounds = ", ".join(f"{r}: {round_cell(v)}"
                       for r, v in res["rounds"].items())
    return (f"{name}: {res.get('run', res.get('tests'))} tests "
            f"({res.get('failing_plain', res.get('failures', 0))} failing "
            f"plain, {len(res.get('deselected', res.get('unstable', ())))} "
            f"unstable), {rounds} -> {res.get('status')} "
            f"({res.get('seconds')}s)")


def table(results, what):
    rows = [f"| {what} | tests | shift | touch | revert | status |",
            "|---|---|---|---|---|---|"]
    for res in results:
        name = res.get("package") or res.get("module")
        if "version" in res:
            name += " " + res["version"]
        if "crash" in res:
            rows.append(f"| {name} | - | - | - | - | CRASH |")
            continue
        cells = [round_cell(res["rounds"].get(r, {})) for r in ROUNDS]
        rows.append(f"| {name} | {res.get('run', res.get('tests'))} | "
                    + " | ".join(cells) + f" | {res.get('status')} |")
    return "\n".join(rows)


def summarize(divs, limit=12):
    """Short human lines for a report."""
    lines = []
    for d in divs[:limit]:
        cause = d.get("cause")
        tag = f" [cause {cause}]" if cause is not None else ""
        note = f" ({d['note']})" if d.get("note") else ""
        lines.append(f"{d['kind']} {d['key']}: expected {d['expected']}, "
                     f"got {d['got']}{note}{tag}")
    if len(divs) > limit:
        lines.append(f"... {len(divs) - limit} more")
    return lines


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "fresh":
        sys.exit(_fresh_main(sys.argv[2:]))
    sys.exit("usage: swapcheck.py fresh ROOT PATH MODULE...")
