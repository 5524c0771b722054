"""Module data under reload: unedited statements keep their live values,
edited ones take effect, and the user controls the exceptions."""
import hotswap
import pytest
from hs_helpers import one


def test_unedited_container_keeps_live_contents(sb):
    m = sb.load("""
        players = {}

        def join(name):
            players[name] = 100
    """)
    m.join("ann")
    players = m.players
    sb.update(m, """
        players = {}

        def join(name):
            players[name] = 150
    """)
    hotswap.reload(m)
    assert m.players is players
    assert players == {"ann": 100}
    m.join("bob")
    assert players == {"ann": 100, "bob": 150}


def test_unedited_side_effect_statement_not_run_again(sb):
    log = sb.load("""
        EVENTS = []
    """, base="log")
    m = sb.load("""
        import $log
        $log.EVENTS.append("connect")

        def f():
            return 1
    """, log=log.__name__)
    assert log.EVENTS == ["connect"]
    sb.update(m, """
        import $log
        $log.EVENTS.append("connect")

        def f():
            return 2
    """, log=log.__name__)
    hotswap.reload(m)
    assert m.f() == 2                 # the reload did happen
    assert log.EVENTS == ["connect"]  # ... without reconnecting


def test_module_counter_survives(sb):
    m = sb.load("""
        COUNTER = 0

        def bump():
            global COUNTER
            COUNTER += 1
            return COUNTER
    """)
    for _ in range(3):
        m.bump()
    sb.update(m, """
        COUNTER = 0

        def bump():
            global COUNTER
            COUNTER += 10
            return COUNTER
    """)
    hotswap.reload(m)
    assert m.COUNTER == 3
    assert m.bump() == 13


def test_edited_constant_takes_effect_in_unedited_function(sb):
    m = sb.load("""
        MAX_HP = 100

        def cap(hp):
            return min(hp, MAX_HP)
    """)
    user = sb.importer(m, "cap")
    cap_code = m.cap.__code__
    assert user.cap(1000) == 100
    sb.update(m, """
        MAX_HP = 150

        def cap(hp):
            return min(hp, MAX_HP)
    """)
    report = hotswap.reload(m)
    assert m.MAX_HP == 150
    assert user.cap(1000) == 150
    assert m.cap.__code__ is cap_code         # cap itself was not edited
    assert one(report, "MAX_HP").action == "updated"


def test_added_names_appear(sb):
    m = sb.load("""
        def f():
            return 1
    """)
    sb.update(m, """
        def f():
            return 1

        NEW = 5

        def g():
            return NEW * 2

        class K:
            def v(self):
                return g()
    """)
    report = hotswap.reload(m)
    assert m.NEW == 5
    assert m.g() == 10
    assert m.K().v() == 10
    assert m.K.__module__ == m.__name__
    for name in ("NEW", "g", "K"):
        assert one(report, name).action == "added"


def test_removed_definitions_disappear(sb):
    m = sb.load("""
        LIMIT = 3

        def gone():
            return 1

        class Old:
            pass

        def stays():
            return 2
    """)
    sb.update(m, """
        def stays():
            return 2
    """)
    report = hotswap.reload(m)
    for name in ("LIMIT", "gone", "Old"):
        assert not hasattr(m, name), name
        assert one(report, name).action == "removed"
    assert m.stays() == 2


def test_hotswap_keep_keeps_edited_value(sb):
    m = sb.load("""
        __hotswap_keep__ = ("CONFIG",)

        CONFIG = {"speed": 1}
        OTHER = 1
    """)
    config = m.CONFIG
    config["runtime"] = True
    sb.update(m, """
        __hotswap_keep__ = ("CONFIG",)

        CONFIG = {"speed": 2}
        OTHER = 2
    """)
    report = hotswap.reload(m)
    assert m.CONFIG is config
    assert config == {"speed": 1, "runtime": True}
    assert m.OTHER == 2
    entry = one(report, "CONFIG")
    assert (entry.action, entry.code) == ("kept", "HS401")


def test_policy_callback_decides_per_name(sb):
    m = sb.load("""
        A = 1
        B = 1
    """)
    calls = []

    def policy(module_name, name, old, new):
        calls.append((module_name, name, old, new))
        return name != "A"

    sb.update(m, """
        A = 2
        B = 2
    """)
    report = hotswap.reload(m, policy=policy)
    assert (m.A, m.B) == (1, 2)
    assert sorted(calls) == [(m.__name__, "A", 1, 2), (m.__name__, "B", 1, 2)]
    entry = one(report, "A")
    assert (entry.action, entry.code) == ("kept", "HS402")
    assert one(report, "B").action == "updated"


def test_module_policy_function(sb):
    m = sb.load("""
        def __hotswap_policy__(module, name, old, new):
            return not name.startswith("keep_")

        keep_x = 1
        upd_y = 1
    """)
    sb.update(m, """
        def __hotswap_policy__(module, name, old, new):
            return not name.startswith("keep_")

        keep_x = 2
        upd_y = 2
    """)
    report = hotswap.reload(m)
    assert (m.keep_x, m.upd_y) == (1, 2)
    assert one(report, "keep_x").code == "HS402"


def test_kind_change_data_to_function(sb):
    m = sb.load("""
        handler = None
    """)
    sb.update(m, """
        def handler():
            return "fn"
    """)
    report = hotswap.reload(m)
    # Like a fresh import: a real module-level function of this module.
    assert m.handler() == "fn"
    assert m.handler.__module__ == m.__name__
    assert m.handler.__qualname__ == "handler"
    assert m.handler.__globals__ is vars(m)
    entry = one(report, "handler")
    assert (entry.action, entry.code) == ("replaced", "HS103")


def test_kind_change_function_to_class(sb):
    m = sb.load("""
        def Thing():
            return "function"
    """)
    user = sb.importer(m, "Thing")
    sb.update(m, """
        class Thing:
            def kind(self):
                return "class"
    """)
    report = hotswap.reload(m)
    assert isinstance(m.Thing, type)
    assert m.Thing().kind() == "class"
    assert m.Thing.__module__ == m.__name__
    assert m.Thing.__qualname__ == "Thing"
    assert user.Thing() == "function"     # old reference keeps old object
    entry = one(report, "Thing")
    assert (entry.action, entry.code) == ("replaced", "HS103")


def test_added_constant_used_by_edited_class_body(sb):
    m = sb.load("""
        class C:
            factor = 1
    """)
    C = m.C
    sb.update(m, """
        SCALE = 3

        class C:
            factor = SCALE * 2
    """)
    report = hotswap.reload(m)
    assert report.ok
    assert m.C is C
    assert C.factor == 6


def test_added_constant_used_by_decorator_in_same_reload(sb):
    m = sb.load("""
        REGISTRY = {}

        def register(key):
            def deco(fn):
                REGISTRY[key] = fn
                return fn
            return deco

        @register("plain")
        def f():
            return 1
    """)
    sb.update(m, """
        REGISTRY = {}

        def register(key):
            def deco(fn):
                REGISTRY[key] = fn
                return fn
            return deco

        NAME = "fancy"

        @register(NAME)
        def f():
            return 2
    """)
    report = hotswap.reload(m)
    assert m.NAME == "fancy"
    assert m.REGISTRY["fancy"]() == 2
    assert m.REGISTRY["plain"]() == 2     # the old object, patched in place
    assert one(report, "f").code == "HS102"


def test_added_statement_sees_live_data(sb):
    m = sb.load("""
        players = {}
    """)
    m.players.update(ann=1, bob=2)
    sb.update(m, """
        players = {}
        COUNT = len(players)
    """)
    hotswap.reload(m)
    assert m.COUNT == 2
    assert m.players == {"ann": 1, "bob": 2}


def test_module_docstring_and_all_updated(sb):
    m = sb.load('''
        """Old docs."""
        __all__ = ["a"]

        def a():
            return 1

        def b():
            return 2
    ''')
    sb.update(m, '''
        """New docs."""
        __all__ = ["a", "b"]

        def a():
            return 1

        def b():
            return 2
    ''')
    hotswap.reload(m)
    assert m.__doc__ == "New docs."
    assert m.__all__ == ["a", "b"]


def test_removed_import_name_disappears(sb):
    m = sb.load("""
        import json
        import os

        def f():
            return os.sep
    """)
    assert hasattr(m, "json")
    sb.update(m, """
        import os

        def f():
            return os.sep
    """)
    report = hotswap.reload(m)
    assert not hasattr(m, "json")
    assert one(report, "json").action == "removed"


def test_name_still_bound_by_another_statement_is_not_deleted(sb):
    m = sb.load("""
        MODE = "default"

        if True:
            MODE = "configured"
    """)
    assert m.MODE == "configured"
    sb.update(m, """
        if True:
            MODE = "configured"
    """)
    hotswap.reload(m)
    assert m.MODE == "configured"


def test_unedited_augmented_assignment_not_rerun(sb):
    m = sb.load("""
        COUNT = 0
        COUNT += 1

        def f():
            return COUNT
    """)
    sb.update(m, """
        COUNT = 0
        COUNT += 1

        def f():
            return COUNT * 100
    """)
    hotswap.reload(m)
    assert m.COUNT == 1
    assert m.f() == 100


def test_unedited_try_block_not_rerun(sb):
    log = sb.load("CALLS = []", base="log")
    m = sb.load("""
        import $log

        try:
            import json as codec
            $log.CALLS.append("try")
        except ImportError:
            codec = None

        def f():
            return 1
    """, log=log.__name__)
    sb.update(m, """
        import $log

        try:
            import json as codec
            $log.CALLS.append("try")
        except ImportError:
            codec = None

        def f():
            return 2
    """, log=log.__name__)
    hotswap.reload(m)
    assert m.f() == 2
    assert log.CALLS == ["try"]


def test_policy_exception_fails_batch_and_changes_nothing(sb):
    m = sb.load("""
        A = 1

        def f():
            return 1
    """)

    def policy(module_name, name, old, new):
        raise RuntimeError("policy broke")

    sb.update(m, """
        A = 2

        def f():
            return 2
    """)
    f = m.f
    with pytest.raises(hotswap.ReloadError) as info:
        hotswap.reload(m, policy=policy)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert m.A == 1 and f() == 1
    report = hotswap.reload(m)
    assert report.ok and m.A == 2 and f() == 2


def test_edited_tuple_unpacking_rebinds_all_names(sb):
    m = sb.load("""
        WIDTH, HEIGHT = 80, 24
    """)
    sb.update(m, """
        WIDTH, HEIGHT = 120, 40
    """)
    hotswap.reload(m)
    assert (m.WIDTH, m.HEIGHT) == (120, 40)


def test_edited_annotated_assignment(sb):
    m = sb.load("""
        TIMEOUT: int = 5
    """)
    sb.update(m, """
        TIMEOUT: float = 2.5
    """)
    hotswap.reload(m)
    assert m.TIMEOUT == 2.5
    assert m.__annotations__["TIMEOUT"] is float


def test_keep_does_not_block_first_binding_of_new_name(sb):
    m = sb.load("""
        __hotswap_keep__ = {"CACHE", "SESSION"}
        SESSION = "s1"
    """)
    sb.update(m, """
        __hotswap_keep__ = {"CACHE", "SESSION"}
        SESSION = "s2"
        CACHE = {"warm": True}
    """)
    report = hotswap.reload(m)
    assert m.SESSION == "s1"               # exists: kept
    assert m.CACHE == {"warm": True}       # did not exist: bound
    assert one(report, "CACHE").action == "added"
