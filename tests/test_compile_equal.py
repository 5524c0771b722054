"""The code a reload stages is the code a fresh import compiles: every code
object reachable from the module after a reload (functions, methods,
lambdas, nested functions, generic parameter scopes, class bodies'
__firstlineno__) has the bytecode, constants, first line, line table and
positions that compiling the whole new file gives.  Statements are compiled
one by one and moved to their lines (stage.c): this checks the move,
including the decorator-line rule and the 3.13+ class-body line constant far
down a file (3.14+ stores lines below 256 as LOAD_SMALL_INT)."""
import sys

import hotswap
from hs_helpers import fresh_import

FILLER = "".join(f"FILL_{i} = {i}\n" for i in range(320))

BASE = '''
import functools


def deco(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def tag(cls):
    cls.tagged = True
    return cls


''' + FILLER + '''

@deco
def decorated(x, y=lambda z: z + $v):
    return x + $v


@deco
@functools.lru_cache(maxsize=None)
def stacked(x):
    return x * $v


def outer(n):
    def inner(x):
        return (lambda q: q + n + $v)(x)
    return inner


square = lambda x: x * x + $v


@tag
class Tagged:
    scale = $v

    def method(self, x):
        return x + self.scale + $v

    @classmethod
    def cm(cls, x):
        return x + $v

    @staticmethod
    def sm(x):
        return [i + $v for i in range(x)]

    @property
    def prop(self):
        return self.scale + $v

    class Inner:
        def deep(self):
            return $v


class Plain:
    ONE = 1
    THREE_HUNDRED = $line_const

    def method(self):
        return 1 + $v
'''

GENERIC = '''

def first[T](xs: list[T]) -> T:
    return xs[0] if $v else xs[-1]


class Box[T]:
    def get(self) -> T:
        return $v


type Alias[K] = dict[K, int]
'''


def source(v, *, shift=0, generics=False, line_const=7):
    text = "\n" * shift + BASE
    if generics:
        text += GENERIC
    return (text.replace("$v", str(v))
            .replace("$line_const", str(line_const)))


def codes_of(module):
    """(qualified path, code object) for every function reachable from the
    module's classes and functions, plus the class bodies' line."""
    seen, out = set(), []

    def add_func(path, f):
        while hasattr(f, "__wrapped__"):
            out.append((path + ".<wrapper>", f.__code__)
                       if hasattr(f, "__code__") else None)
            f = f.__wrapped__
        if hasattr(f, "__code__"):
            out.append((path, f.__code__))
        if hasattr(f, "__defaults__") and f.__defaults__:
            for i, d in enumerate(f.__defaults__):
                if hasattr(d, "__code__"):
                    out.append((f"{path}.<default{i}>", d.__code__))

    def walk(path, obj):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, type):
            if obj.__module__ != module.__name__:
                return
            out.append((path + ".__firstlineno__",
                        obj.__dict__.get("__firstlineno__")))
            for k, v in sorted(vars(obj).items()):
                if isinstance(v, (classmethod, staticmethod)):
                    add_func(f"{path}.{k}", v.__func__)
                elif isinstance(v, property):
                    add_func(f"{path}.{k}", v.fget)
                elif isinstance(v, type) or callable(v):
                    walk(f"{path}.{k}", v)
        elif callable(obj):
            code = getattr(obj, "__code__", None)
            if code is None and not hasattr(obj, "__wrapped__"):
                return
            if code is not None and obj.__globals__ is not vars(module):
                return
            add_func(path, obj)
        elif type(obj).__name__ == "TypeAliasType":
            out.append((path + ".__value__", repr(obj.__value__)))

    for k, v in sorted(vars(module).items()):
        if not k.startswith("__"):
            walk(k, v)
    return [x for x in out if x is not None]


def code_facts(code):
    """Everything compiling decides about a code object, nested code
    objects included."""
    if not hasattr(code, "co_code"):
        return code
    facts = {
        "name": code.co_name,
        "qualname": getattr(code, "co_qualname", None),
        "firstlineno": code.co_firstlineno,
        "code": code.co_code,
        "names": code.co_names,
        "varnames": code.co_varnames,
        "consts": tuple(code_facts(c) for c in code.co_consts),
        "flags": code.co_flags,
    }
    if hasattr(code, "co_lines"):
        facts["lines"] = list(code.co_lines())
    else:
        facts["lnotab"] = code.co_lnotab
    if hasattr(code, "co_positions"):
        facts["positions"] = list(code.co_positions())
        facts["exceptiontable"] = code.co_exceptiontable
    return facts


def assert_compiled_as_fresh(m):
    fresh = fresh_import(m)
    live = codes_of(m)
    want = codes_of(fresh)
    assert [p for p, _ in live] == [p for p, _ in want]
    for (path, a), (_, b) in zip(live, want):
        assert code_facts(a) == code_facts(b), path


def check(sb, **v2):
    generics = sys.version_info >= (3, 12)
    m = sb.load(source(1, generics=generics))
    held = codes_of(m)
    assert held
    sb.update(m, source(2, generics=generics, **v2))
    hotswap.reload(m)
    assert_compiled_as_fresh(m)
    # the objects held before the reload are the ones checked
    assert m.decorated(1) == 3 and m.Tagged().method(0) == 4
    return m


def test_every_statement_changed_compiles_as_fresh(sb):
    check(sb)


def test_pure_move_compiles_as_fresh(sb):
    generics = sys.version_info >= (3, 12)
    m = sb.load(source(1, generics=generics))
    f, cls = m.decorated, m.Tagged
    sb.update(m, source(1, shift=7, generics=generics))
    hotswap.reload(m)
    assert_compiled_as_fresh(m)
    assert m.decorated is f and m.Tagged is cls


def test_class_line_constant_shared_with_body_compiles_as_fresh(sb):
    # 3.13+: the class body stores its line as a constant; a body constant
    # of the same value is one constant in a fresh compile
    text = source(2)
    line = next(i for i, t in enumerate(text.splitlines(), 1)
                if t.startswith("class Plain"))
    check(sb, line_const=line)
