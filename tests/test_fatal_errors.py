"""A MemoryError or KeyboardInterrupt raised by the user's code while a
reload decides something is never taken for an answer.

The core asks user objects questions while it plans and applies a class
update: is this member a wrapper (`__wrapped__`, through a `__getattr__`),
is this enum value the same (`__eq__`)?  An ordinary exception there is an
answer on purpose ("not a wrapper", "changed"), as a fresh import would
not have asked at all.  A MemoryError or KeyboardInterrupt is not: turning
it into "absent" or "not equal" would be a silent wrong decision
(docs/architecture.md, "Errors").  The batch fails instead (the exception,
or a ReloadError caused by it), nothing changes, and once the user's code
stops raising the same edit applies.
"""
import hotswap
import pytest

FATAL = [MemoryError, KeyboardInterrupt]

# A data member whose `__wrapped__` raises once `ARMED` is set: the class
# update asks the live member whether it wraps a function.
WRAPPER_V1 = """
    ARMED = None

    class Weird:
        def __getattr__(self, name):
            if ARMED is not None and name == "__wrapped__":
                raise ARMED(name)
            raise AttributeError(name)

    class C:
        w = Weird()

        def m(self):
            return "m1"
"""
WRAPPER_V2 = WRAPPER_V1.replace('"m1"', '"m2"')

# An enum whose values compare by a user __eq__ that raises once `ARMED`
# is set: the enum update compares each edited member's live value with
# the new body's.
ENUM_V1 = """
    import enum

    ARMED = None

    class V:
        def __init__(self, n):
            self.n = n

        def __eq__(self, other):
            if ARMED is not None:
                raise ARMED("eq")
            return isinstance(other, V) and other.n == self.n

        def __hash__(self):
            return hash(self.n)

    class E(enum.Enum):
        A = V(1)

        def label(self):
            return "l1"
"""
# the member's statement is edited, its value equal: the member stays
ENUM_V2 = ENUM_V1.replace('"l1"', '"l2"').replace("V(1)", "V(0 + 1)")


def _fails_with(exc_type, call):
    """The batch failed because of `exc_type`: raised as it is, or as the
    cause of a ReloadError."""
    with pytest.raises((exc_type, hotswap.ReloadError)) as info:
        call()
    err = info.value
    if isinstance(err, hotswap.ReloadError):
        causes = []
        e = err
        while e is not None:
            causes.append(type(e))
            e = e.__cause__ or e.__context__
        assert exc_type in causes, causes


@pytest.mark.parametrize("exc", FATAL, ids=lambda e: e.__name__)
def test_getattr_raising_fatal_is_not_no_attribute(sb, exc):
    m = sb.load(WRAPPER_V1)
    C, inst, w = m.C, m.C(), m.C.w
    code = C.m.__code__
    sb.update(m, WRAPPER_V2)
    m.ARMED = exc
    _fails_with(exc, lambda: hotswap.reload(m))
    # nothing changed
    assert m.C is C and C.w is w and C.m.__code__ is code
    assert inst.m() == "m1" and m.ARMED is exc
    # the user's code stops raising: the same edit applies
    m.ARMED = None
    assert hotswap.reload(m).ok
    assert inst.m() == "m2" and m.C is C


def test_getattr_raising_ordinary_error_is_an_answer(sb):
    # a ValueError from __getattr__ means "not a wrapper": a fresh import
    # of the new source asks nothing and succeeds, so the reload applies
    # (ARMED is the module's data: kept)
    m = sb.load(WRAPPER_V1)
    C, inst = m.C, m.C()
    sb.update(m, WRAPPER_V2)
    m.ARMED = ValueError
    assert hotswap.reload(m).ok
    assert inst.m() == "m2" and m.C is C


@pytest.mark.parametrize("exc", FATAL, ids=lambda e: e.__name__)
def test_eq_raising_fatal_is_not_not_equal(sb, exc):
    m = sb.load(ENUM_V1)
    E, a = m.E, m.E.A
    code = E.label.__code__
    sb.update(m, ENUM_V2)
    m.ARMED = exc
    _fails_with(exc, lambda: hotswap.reload(m))
    assert m.E is E and m.E.A is a and E.label.__code__ is code
    assert a.label() == "l1"
    m.ARMED = None
    assert hotswap.reload(m).ok
    assert m.E is E and m.E.A is a and a.label() == "l2"


# ABCMeta asks every member `getattr(v, "__isabstractmethod__", False)`:
# only an AttributeError means "not abstract"; any other error fails the
# class statement of a fresh import.  The reload computes
# __abstractmethods__ again the same way.
ABC_V1 = """
    import abc

    ARMED = None

    class Flag:
        def __getattr__(self, name):
            if ARMED is not None and name == "__isabstractmethod__":
                raise ARMED(name)
            raise AttributeError(name)

    class Base(abc.ABC):
        flag = Flag()

        @abc.abstractmethod
        def run(self):
            ...

        def m(self):
            return "m1"
"""
ABC_V2 = ABC_V1.replace('"m1"', '"m2"')


def test_isabstractmethod_raising_fails_as_a_fresh_import_does(sb):
    m = sb.load(ABC_V1)
    Base, code = m.Base, m.Base.m.__code__
    sb.update(m, ABC_V2)
    m.ARMED = ValueError
    # a fresh import of the new source fails in the class statement
    fresh = sb.name("fresh")
    sb.write(fresh, ABC_V2.replace("ARMED = None", "ARMED = ValueError"))
    with pytest.raises(ValueError):
        __import__(fresh)
    # so does the reload, and nothing changed
    _fails_with(ValueError, lambda: hotswap.reload(m))
    assert m.Base is Base and Base.m.__code__ is code
    assert Base.__abstractmethods__ == frozenset({"run"})
    m.ARMED = None
    assert hotswap.reload(m).ok
    assert Base.__abstractmethods__ == frozenset({"run"})
    assert Base.m(None) == "m2"
