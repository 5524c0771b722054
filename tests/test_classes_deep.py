"""Classes beyond methods: dataclass fields, instance migration, bases,
registries and descriptors (issue 3)."""
import copy
import dataclasses
import pickle
import sys

import pytest

import hotswap


def test_dataclass_field_added_with_default_old_instances_get_it(sb):
    src = """
        from dataclasses import dataclass, field

        @dataclass
        class P:
            x: int
            {extra}
    """
    m = sb.load(src.format(extra=""))
    P = m.P
    p = P(1)
    sb.update(m, src.format(extra="tags: list = field(default_factory=list)"))
    report = hotswap.reload(m)
    assert report.ok and not report.rejected
    assert m.P is P
    assert [f.name for f in dataclasses.fields(P)] == ["x", "tags"]
    assert p.tags == [] and P(2) == P(2, [])
    assert repr(p) == "P(x=1, tags=[])"
    assert dataclasses.asdict(p) == {"x": 1, "tags": []}
    assert "1 instances migrated" in report.find("P")[-1].reason


def test_dataclass_field_removed_and_reordered(sb):
    m = sb.load("""
        from dataclasses import dataclass

        @dataclass
        class P:
            a: int
            b: int = 2
            c: int = 3
    """)
    P = m.P
    p = P(1)
    sb.update(m, """
        from dataclasses import dataclass

        @dataclass
        class P:
            c: int = 3
            a: int = 0
    """)
    hotswap.reload(m)
    assert [f.name for f in dataclasses.fields(P)] == ["c", "a"]
    assert not hasattr(p, "b")
    assert p == P(3, 1) and P() == P(3, 0)
    assert P.__match_args__ == ("c", "a") if sys.version_info >= (3, 10) \
        else True


def test_dataclass_default_changed(sb):
    src = """
        from dataclasses import dataclass

        @dataclass
        class Cfg:
            level: int = {v}
    """
    m = sb.load(src.format(v=1))
    Cfg = m.Cfg
    old = Cfg()
    sb.update(m, src.format(v=5))
    hotswap.reload(m)
    assert Cfg().level == 5
    assert old.level == 1            # existing instances keep their data


def test_frozen_dataclass_gains_a_field(sb):
    src = """
        from dataclasses import dataclass

        @dataclass(frozen=True)
        class Pt:
            x: int
            {extra}
    """
    m = sb.load(src.format(extra=""))
    Pt = m.Pt
    p = Pt(1)
    sb.update(m, src.format(extra="y: int = 7"))
    hotswap.reload(m)
    assert p.y == 7 and hash(p) == hash(Pt(1, 7))
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 3


def test_dataclass_order_methods_regenerated(sb):
    src = """
        from dataclasses import dataclass

        @dataclass(order=True)
        class V:
            major: int
            {extra}
    """
    m = sb.load(src.format(extra=""))
    V = m.V
    a, b = V(1), V(1)
    sb.update(m, src.format(extra="minor: int = 0"))
    hotswap.reload(m)
    b.minor = 1
    assert a < b and sorted([b, a]) == [a, b]


def test_migration_hook_receives_added_and_removed(sb):
    src = """
        from dataclasses import dataclass

        @dataclass
        class Acct:
            {fields}

            def __hotswap_migrate__(self, added, removed):
                self.log.append((added, removed))
    """
    m = sb.load(src.format(fields="owner: str\n            cents: int = 0\n"
                                  "            log: list = None"))
    a = m.Acct("ann", 250, [])
    sb.update(m, src.format(fields="owner: str\n            dollars: float = 0.0"
                                   "\n            log: list = None"))
    hotswap.reload(m)
    assert a.log == [(("dollars",), {"cents": 250})]
    assert not hasattr(a, "cents") and a.dollars == 0.0


def test_plain_class_migration_hook_on_annotation_change(sb):
    src = """
        class Player:
            {ann}

            def __init__(self):
                self.hp = 10

            def __hotswap_migrate__(self, added, removed):
                if "mana" in added:
                    self.mana = self.hp * 2
    """
    m = sb.load(src.format(ann="hp: int"))
    p = m.Player()
    sb.update(m, src.format(ann="hp: int\n            mana: int"))
    hotswap.reload(m)
    assert p.mana == 20


def test_slots_dataclass_field_change_rejected(sb):
    if sys.version_info < (3, 10):
        pytest.skip("dataclass(slots=True) needs 3.10")
    src = """
        from dataclasses import dataclass

        @dataclass(slots=True)
        class S:
            x: int
            {extra}

            def f(self):
                return {v}
    """
    m = sb.load(src.format(extra="", v=1))
    s = m.S(1)
    sb.update(m, src.format(extra="y: int = 0", v=2))
    with pytest.raises(hotswap.ReloadError) as err:     # all or nothing
        hotswap.reload(m)
    assert err.value.code == "HS204" and s.f() == 1
    report = hotswap.reload(m, partial=True)
    assert "HS204" in {e.code for e in report.rejected}
    assert s.f() == 2                    # methods applied


def test_failed_batch_rolls_back_dataclass_regeneration(sb):
    m = sb.load("""
        from dataclasses import dataclass

        @dataclass
        class P:
            x: int
    """)
    P = m.P
    p = P(1)
    init = P.__init__
    sb.update(m, """
        from dataclasses import dataclass

        @dataclass
        class P:
            x: int
            y: int = 0

        BOOM = 1 / 0
    """)
    with pytest.raises(hotswap.ReloadError):
        hotswap.reload(m)
    assert P.__init__ is init
    assert [f.name for f in dataclasses.fields(P)] == ["x"]
    assert not hasattr(p, "y")


def test_pickle_and_copy_of_old_instances(sb):
    src = """
        class Item:
            def __init__(self, n):
                self.n = n

            def label(self):
                return "{v}" + str(self.n)
    """
    m = sb.load(src.format(v="a"))
    it = m.Item(3)
    sb.update(m, src.format(v="b"))
    hotswap.reload(m)
    clone = pickle.loads(pickle.dumps(it))
    assert type(clone) is m.Item and clone.label() == "b3"
    assert copy.copy(it).label() == "b3"


def test_namedtuple_method_change(sb):
    src = """
        from typing import NamedTuple

        class Pt(NamedTuple):
            x: int
            y: int

            def norm(self):
                return {expr}
    """
    m = sb.load(src.format(expr="self.x + self.y"))
    p = m.Pt(3, 4)
    sb.update(m, src.format(expr="(self.x ** 2 + self.y ** 2) ** 0.5"))
    report = hotswap.reload(m)
    assert report.ok
    assert p.norm() == 5.0 and isinstance(p, m.Pt)


def test_cached_property_edited(sb):
    src = """
        import functools

        class C:
            @functools.cached_property
            def value(self):
                return {v}
    """
    m = sb.load(src.format(v=1))
    c = m.C()
    assert c.value == 1
    sb.update(m, src.format(v=2))
    hotswap.reload(m)
    assert m.C().value == 2
    assert c.value == 1          # a cached value is instance data: kept


def test_generic_class_method_change(sb):
    src = """
        from typing import Generic, TypeVar

        T = TypeVar("T")

        class Box(Generic[T]):
            def __init__(self, item: T):
                self.item = item

            def get(self) -> T:
                return {expr}
    """
    m = sb.load(src.format(expr="self.item"))
    b = m.Box[int](1)
    sb.update(m, src.format(expr="self.item * 10"))
    report = hotswap.reload(m)
    assert report.ok and not report.rejected, str(report)
    assert b.get() == 10


@pytest.mark.skipif(sys.version_info < (3, 12), reason="PEP 695 is 3.12+")
def test_pep695_generic_class_method_change(sb):
    src = """
        class Box[T]:
            def __init__(self, item: T):
                self.item = item

            def get(self) -> T:
                return {expr}
    """
    m = sb.load(src.format(expr="self.item"))
    Box = m.Box
    b = Box(1)
    sb.update(m, src.format(expr="self.item + 1"))
    report = hotswap.reload(m)
    assert report.ok and m.Box is Box, str(report)
    assert b.get() == 2


def test_enum_member_added_is_a_real_member(sb):
    src = """
        import enum

        class Color(enum.Enum):
            RED = 1
            GREEN = 2
            {extra}

            def warm(self):
                return self in ({warm})
    """
    m = sb.load(src.format(extra="", warm="Color.RED,"))
    Color = m.Color
    red = Color.RED
    sb.update(m, src.format(extra="BLUE = 3\n            SCARLET = 1",
                            warm="Color.RED, Color.BLUE"))
    report = hotswap.reload(m)
    assert report.ok and not report.rejected, str(report)
    assert m.Color is Color and Color.RED is red
    assert [c.name for c in Color] == ["RED", "GREEN", "BLUE"]
    assert Color(3) is Color.BLUE and Color["BLUE"] is Color.BLUE
    assert isinstance(Color.BLUE, Color) and Color.BLUE.warm()
    assert Color.SCARLET is red                  # an alias of RED
    assert set(Color.__members__) == {"RED", "GREEN", "BLUE", "SCARLET"}


def test_flag_member_added_combines(sb):
    src = """
        import enum

        class Perm(enum.Flag):
            R = 4
            W = 2
            {extra}
    """
    m = sb.load(src.format(extra=""))
    Perm = m.Perm
    sb.update(m, src.format(extra="X = 1"))
    hotswap.reload(m)
    assert Perm(7) == Perm.R | Perm.W | Perm.X
    assert Perm.X in Perm(5)


def test_enum_member_revalued_or_removed_rejected(sb):
    m = sb.load("""
        import enum

        class Level(enum.IntEnum):
            LOW = 1
            HIGH = 2
    """)
    Level = m.Level
    sb.update(m, """
        import enum

        class Level(enum.IntEnum):
            LOW = 1
            HIGH = 3
    """)
    with pytest.raises(hotswap.ReloadError) as err:     # all or nothing
        hotswap.reload(m)
    assert err.value.code == "HS205"
    report = hotswap.reload(m, partial=True)
    assert "HS205" in {e.code for e in report.rejected}
    assert Level.HIGH == 2 and Level(2) is Level.HIGH
    sb.update(m, """
        import enum

        class Level(enum.IntEnum):
            LOW = 1
    """)
    with pytest.raises(hotswap.ReloadError) as err:     # all or nothing
        hotswap.reload(m)
    assert err.value.code == "HS205"
    report = hotswap.reload(m, partial=True)
    assert "HS205" in {e.code for e in report.rejected}
    assert [x.name for x in Level] == ["LOW", "HIGH"]


def test_failed_batch_rolls_back_added_enum_member(sb):
    m = sb.load("""
        import enum

        class Color(enum.Enum):
            RED = 1
    """)
    Color = m.Color
    sb.update(m, """
        import enum

        class Color(enum.Enum):
            RED = 1
            BLUE = 2

        BOOM = 1 / 0
    """)
    with pytest.raises(hotswap.ReloadError):
        hotswap.reload(m)
    assert [c.name for c in Color] == ["RED"]
    assert not hasattr(Color, "BLUE")


def test_slots_reordered_is_not_a_layout_change(sb):
    src = """
        class P:
            __slots__ = {slots}

            def total(self):
                return {expr}
    """
    m = sb.load(src.format(slots='("x", "y")', expr="self.x + self.y"))
    p = m.P()
    p.x, p.y = 1, 2
    sb.update(m, src.format(slots='["y", "x"]', expr="self.x * self.y + 10"))
    report = hotswap.reload(m)
    assert not report.rejected, str(report)
    assert p.total() == 12
    sb.update(m, src.format(slots='("x", "y", "z")', expr="0"))
    with pytest.raises(hotswap.ReloadError) as err:     # all or nothing
        hotswap.reload(m)
    assert err.value.code == "HS203" and p.total() == 12


def test_typeddict_keys_follow_the_source(sb):
    src = """
        from typing import TypedDict

        class Movie(TypedDict{kw}):
            title: str
            {extra}
    """
    m = sb.load(src.format(kw="", extra=""))
    Movie = m.Movie
    sb.update(m, src.format(kw=", total=False", extra="year: int"))
    report = hotswap.reload(m)
    assert not report.rejected, str(report)
    assert m.Movie is Movie
    assert Movie.__optional_keys__ == frozenset({"title", "year"})
    assert Movie.__required_keys__ == frozenset()


def test_runtime_protocol_members_follow_the_source(sb):
    src = """
        from typing import Protocol, runtime_checkable

        @runtime_checkable
        class Shape(Protocol):
            def area(self) -> float: ...
            {extra}

        class Square:
            def area(self):
                return 4.0
    """
    m = sb.load(src.format(extra=""))
    Shape = m.Shape
    assert isinstance(m.Square(), Shape)
    sb.update(m, src.format(extra="def perimeter(self) -> float: ..."))
    report = hotswap.reload(m)
    assert not report.rejected, str(report)
    assert not isinstance(m.Square(), Shape)


def test_namedtuple_field_change_rejected(sb):
    src = """
        from typing import NamedTuple

        class Pt(NamedTuple):
            x: int
            {extra}

            def show(self):
                return "{v}"
    """
    m = sb.load(src.format(extra="", v=1))
    p = m.Pt(1)
    sb.update(m, src.format(extra="y: int = 0", v=2))
    with pytest.raises(hotswap.ReloadError) as err:     # all or nothing
        hotswap.reload(m)
    assert err.value.code == "HS204" and p.show() == "1"
    report = hotswap.reload(m, partial=True)
    assert "HS204" in {e.code for e in report.rejected}
    assert p.show() == "2" and m.Pt._fields == ("x",)


def test_abc_virtual_subclass_survives(sb):
    src = """
        import abc

        class Base(abc.ABC):
            @abc.abstractmethod
            def f(self): ...

            def g(self):
                return {v}

        class Impl:
            def f(self):
                return 1

        Base.register(Impl)
    """
    m = sb.load(src.format(v=1))
    Base, impl = m.Base, m.Impl()
    assert isinstance(impl, Base)
    sb.update(m, src.format(v=2))
    hotswap.reload(m)
    assert isinstance(impl, Base) and Base.g(impl) == 2


def test_nested_classes_three_levels(sb):
    src = """
        class A:
            class B:
                class C:
                    def f(self):
                        return {v}
    """
    m = sb.load(src.format(v=1))
    C = m.A.B.C
    c = C()
    sb.update(m, src.format(v=2))
    hotswap.reload(m)
    assert m.A.B.C is C and c.f() == 2


def test_same_class_name_in_two_modules(sb):
    a = sb.load("""
        class Thing:
            def who(self):
                return "a1"
    """, base="a")
    b = sb.load("""
        class Thing:
            def who(self):
                return "b1"
    """, base="b")
    ta, tb = a.Thing(), b.Thing()
    sb.update(a, """
        class Thing:
            def who(self):
                return "a2"
    """)
    hotswap.reload(a)
    assert (ta.who(), tb.who()) == ("a2", "b1")


def test_init_subclass_change_reported_for_existing_subclasses(sb):
    src = """
        REGISTRY = []

        class Plugin:
            def __init_subclass__(cls, **kw):
                super().__init_subclass__(**kw)
                REGISTRY.append(("{v}", cls.__name__))

        class A(Plugin):
            pass
    """
    m = sb.load(src.format(v=1))
    assert m.REGISTRY == [("1", "A")]
    sb.update(m, src.format(v=2))
    report = hotswap.reload(m)
    codes = {e.code for e in report.find("Plugin.__init_subclass__")}
    assert "HS207" in codes
    assert m.REGISTRY == [("1", "A")]       # not run again for A

    class B(m.Plugin):
        pass
    assert m.REGISTRY[-1] == ("2", "B")


def test_rebuild_layout_opt_in_makes_a_new_class(sb):
    src = """
        class P:
            __slots__ = {slots}

            def __init__(self, x):
                self.x = x

            def tag(self):
                return "{v}" + super().__repr__()[:1]
    """
    m = sb.load(src.format(slots='("x",)', v=1))
    Old = m.P
    p = Old(1)
    sb.update(m, src.format(slots='("x", "y")', v=2))
    with pytest.raises(hotswap.ReloadError):   # default: refused
        hotswap.reload(m)
    report = hotswap.reload(m, partial=True)   # partial: diagnosed only
    assert "HS203" in {e.code for e in report.rejected}
    assert m.P is Old and p.tag() == "2<"      # the body was applied
    sb.update(m, src.format(slots='("x", "y", "z")', v=3))
    report = hotswap.reload(m, rebuild_layout=True)
    (entry,) = [e for e in report.entries if e.code == "HS203"]
    assert entry.action == "replaced" and "1 keep the old class" in entry.reason
    New = m.P
    assert New is not Old
    n = New(5)
    n.z = 7                                    # the new layout
    assert n.tag() == "3<" and p.tag() == "3<"
    assert type(p) is Old                      # layouts differ: not moved


def test_rebuild_layout_failure_rolls_back(sb):
    m = sb.load("""
        class P:
            __slots__ = ("x",)
    """)
    Old = m.P
    sb.update(m, """
        class P:
            __slots__ = ("x", "y")

        BOOM = 1 / 0
    """)
    with pytest.raises(hotswap.ReloadError):
        hotswap.reload(m, rebuild_layout=True)
    assert m.P is Old


@pytest.mark.skipif(sys.version_info < (3, 10), reason="kw_only is 3.10+")
def test_dataclass_kw_only_and_match_args_kept(sb):
    src = """
        from dataclasses import dataclass

        @dataclass(kw_only=True, match_args=False)
        class Opts:
            a: int = 1
            {extra}
    """
    m = sb.load(src.format(extra=""))
    Opts = m.Opts
    sb.update(m, src.format(extra="b: int = 2"))
    hotswap.reload(m)
    assert Opts(a=3, b=4).b == 4
    with pytest.raises(TypeError):
        Opts(3, 4)                            # still keyword-only
    assert not hasattr(Opts, "__match_args__")


def test_classmethod_over_another_decorator(sb):
    src = """
        import functools

        class Svc:
            @classmethod
            @functools.lru_cache(maxsize=None)
            def config(cls, key):
                return "{v}" + key
    """
    m = sb.load(src.format(v=1))
    Svc = m.Svc
    assert Svc.config("k") == "1k"
    sb.update(m, src.format(v=2))
    report = hotswap.reload(m)
    assert report.ok
    assert Svc.config("k") == "2k"            # cache cleared, new code
