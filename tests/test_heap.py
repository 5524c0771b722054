"""The batch's one walk of the heap (heap.c): every consumer sees the heap
as of its own moment, objects made after the walk included."""
import sys

import hotswap
from hs_helpers import fresh_import


def test_instance_staged_after_the_walk_is_migrated(sb):
    # one batch, two modules: a's migration (APPLY of a) takes the walk;
    # then b is staged, and its edited statement makes a C with the old
    # layout (C is updated only in b's APPLY): b's migration must find it
    a_src = """
        from dataclasses import dataclass

        @dataclass
        class A:
            x: int = 0
            {a}
    """
    b_src = """
        from dataclasses import dataclass, field
        import $a

        @dataclass
        class C:
            x: int = 0
            {c}

        inst = C({v})
    """
    a = sb.load(a_src.format(a=""), base="a")
    b = sb.load(b_src.format(c="", v=1), base="b", a=a.__name__)
    old_a, old_c = a.A(), b.C()
    sb.update(a, a_src.format(a="y: int = 1"))
    # a factory: no class attribute stands in for a missing instance one
    sb.update(b, b_src.format(c="z: list = field(default_factory=list)",
                              v=2), a=a.__name__)
    hotswap.reload(a, b)
    assert old_a.y == 1 and vars(old_c)["z"] == []
    fresh = fresh_import(b)
    assert vars(fresh.inst) == {"x": 2, "z": []}
    assert vars(b.inst) == {"x": 2, "z": []}     # staged after the walk


def test_closure_made_during_apply_takes_new_code(sb):
    # the migration hook calls make() before make is patched: its inner
    # function is made from the old code after the walk, and the closures
    # pass after APPLY must still give it the new code
    src = """
        from dataclasses import dataclass

        made = []

        def make(n):
            def inner():
                return n + {v}
            return inner

        @dataclass
        class A:
            x: int = 0
            {a}

            def __hotswap_migrate__(self, added, removed):
                made.append(make(10))
    """
    m = sb.load(src.format(v=1, a=""))
    before = m.make(10)
    a = m.A()
    sb.update(m, src.format(v=2, a="y: int = 0"))
    hotswap.reload(m)
    assert a.y == 0 and len(m.made) == 1
    fresh = fresh_import(m)
    assert fresh.make(10)() == 12
    assert before() == 12 and m.made[0]() == 12 and m.make(10)() == 12


def test_suspended_generator_reported_with_instances_walk(sb):
    # the walk kept for a migration (instances) serves the suspended
    # generators after APPLY too: one HS301 line for the parked generator
    src = """
        from dataclasses import dataclass

        def gen():
            yield {v}
            yield 0

        @dataclass
        class A:
            x: int = 0
            {a}
    """
    m = sb.load(src.format(v=1, a=""))
    g = m.gen()
    assert next(g) == 1
    a = m.A()
    sb.update(m, src.format(v=2, a="y: int = 0"))
    report = hotswap.reload(m)
    assert a.y == 0
    kept = [e for e in report.entries if e.code == "HS301"]
    assert len(kept) == 1 and "suspended generator" in kept[0].reason
    assert list(m.gen()) == [2, 0]


def test_collector_state_restored_after_batch(sb):
    import gc
    m = sb.load("def f():\n    return 1\n")
    sb.update(m, "def f():\n    return 2\n")
    assert gc.isenabled()
    hotswap.reload(m)
    assert gc.isenabled() and m.f() == 2
    gc.disable()
    try:
        sb.update(m, "def f():\n    return 3\n")
        hotswap.reload(m)
        assert not gc.isenabled() and m.f() == 3
    finally:
        gc.enable()
    assert sys.modules[m.__name__] is m
