"""Classes as the class machinery left them: metaclasses derived from
ABCMeta (issue 13).  Every scenario also compares with a fresh import of
the new file."""
import abc
import importlib.util

import hotswap


def fresh_import(module):
    """A fresh import of the module's current file: a new module object of
    the same name and package, not put in sys.modules."""
    spec = importlib.util.spec_from_file_location(module.__name__,
                                                  module.__file__)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    return fresh


# ------------------------------------------------------ ABC metaclass --
def test_metaclass_derived_from_abcmeta_edited(sb):
    src = """
        import abc

        class Meta(abc.ABCMeta):
            def describe(cls):
                return {}

        class Schema(metaclass=Meta):
            @abc.abstractmethod
            def load(self):
                ...

        class Impl(Schema):
            def load(self):
                return "{}"
    """
    m = sb.load(src.format(1, "v1"))
    Meta, Schema, Impl = m.Meta, m.Schema, m.Impl
    assert isinstance(Impl(), Schema)
    sb.update(m, src.format(2, "v2"))
    report = hotswap.reload(m)
    assert report.ok, str(report)
    assert m.Meta is Meta and Schema.describe() == 2
    assert Impl().load() == "v2"
    assert isinstance(Impl(), Schema) and isinstance(Schema, abc.ABCMeta)
    assert Schema.__abstractmethods__ == frozenset({"load"})


def test_abc_cache_cleared_through_a_derived_metaclass(sb):
    # an ABC whose metaclass derives from ABCMeta: a cached negative
    # issubclass() answer for a protocol-like __subclasshook__ is dropped
    # when the class is edited, as a fresh import would start empty
    src = """
        import abc

        class Meta(abc.ABCMeta):
            pass

        class Sized(metaclass=Meta):
            @classmethod
            def __subclasshook__(cls, other):
                return {}
    """
    m = sb.load(src.format("NotImplemented"))
    Sized = m.Sized
    assert not issubclass(int, Sized)          # cached: not a subclass
    sb.update(m, src.format('hasattr(other, "bit_length") or NotImplemented'))
    assert hotswap.reload(m).ok
    assert issubclass(int, Sized)
    assert issubclass(int, fresh_import(m).Sized)
