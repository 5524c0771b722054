"""Classes whose metaclass or decorator derives state from the body:
pydantic models, attrs classes, SQLAlchemy mapped classes (adapters in
hotswap/adapters/_models.py).  Each edit is compared with a fresh import of
the new source."""
import importlib.util
import sys

import pytest

import hotswap
from hs_helpers import line_of

pydantic = pytest.importorskip(
    "pydantic", reason="pydantic-core has no wheel for this interpreter")


def fresh(sb, source, name):
    """A fresh import of `source` as another module."""
    return sb.load(source, base=name)


MODEL_V1 = """
    from pydantic import BaseModel, Field, field_validator

    class Item(BaseModel):
        name: str
        price: float = 1.0
        tags: list[str] = Field(default_factory=list)

        @field_validator("name")
        @classmethod
        def strip(cls, v):
            return v.strip()

        def label(self):
            return f"{self.name}:{self.price}"
"""

MODEL_V2 = """
    from pydantic import BaseModel, Field, field_validator

    class Item(BaseModel):
        name: str
        price: float = 2.5
        tags: list[str] = Field(default_factory=list)
        stock: int = 7

        @field_validator("name")
        @classmethod
        def strip(cls, v):
            return v.strip().upper()

        def label(self):
            return f"{self.name}={self.price}"
"""


def test_pydantic_default_edit_and_added_field(sb):
    m = sb.load(MODEL_V1)
    Item = m.Item
    old = Item(name=" a ")
    assert old.model_dump() == {"name": "a", "price": 1.0, "tags": []}
    sb.update(m, MODEL_V2)
    report = hotswap.reload(m)
    assert report.ok, str(report)
    assert m.Item is Item
    ref = fresh(sb, MODEL_V2, "ref")
    # the live class behaves as a fresh import of the new source
    new = Item(name=" b ")
    assert new.model_dump() == ref.Item(name=" b ").model_dump() == {
        "name": "B", "price": 2.5, "tags": [], "stock": 7}
    assert Item.model_json_schema() == {
        **ref.Item.model_json_schema(), "title": "Item"}
    assert list(Item.model_fields) == list(ref.Item.model_fields)
    assert Item.model_fields["price"].default == 2.5
    assert "price" not in vars(Item) and "stock" not in vars(Item)
    assert isinstance(new, Item) and new.label() == "B=2.5"
    assert Item.model_validate({"name": "x", "stock": "3"}).stock == 3
    # the old instance keeps its values and gains the new field's default
    assert isinstance(old, Item)
    assert old.model_dump() == {"name": "a", "price": 1.0, "tags": [],
                                "stock": 7}
    assert old.label() == "a=1.0"
    assert old.model_dump_json() == '{"name":"a","price":1.0,"tags":[],"stock":7}'
    # reported as one rebuilt model, not as added class attributes
    e = report.find("Item")
    assert any(x.action == "updated" and "stock" in (x.reason or "")
               for x in e), str(report)
    assert not report.find("Item.price") and not report.find("Item.stock")


def test_pydantic_field_removed_and_back(sb):
    m = sb.load(MODEL_V2)
    inst = m.Item(name="z", stock=3)
    sb.update(m, MODEL_V1)
    assert hotswap.reload(m).ok
    assert inst.model_dump() == {"name": "Z", "price": 2.5, "tags": []}
    assert m.Item(name=" q ").model_dump() == {"name": "q", "price": 1.0,
                                               "tags": []}
    with pytest.raises(pydantic.ValidationError):
        m.Item()


def test_pydantic_required_field_added_with_instances_refused(sb):
    m = sb.load(MODEL_V1)
    keep = m.Item(name="a")
    v2 = MODEL_V1.replace("price: float = 1.0", "price: float = 1.0\n"
                          "        weight: float")
    sb.update(m, v2)
    with pytest.raises(hotswap.ReloadError) as ei:
        hotswap.reload(m)
    err = ei.value
    assert err.code == "HS208"
    assert err.filename == m.__file__
    assert err.lineno == line_of(v2, "weight: float")
    # nothing changed
    assert list(m.Item.model_fields) == ["name", "price", "tags"]
    assert m.Item(name="b").model_dump() == {"name": "b", "price": 1.0,
                                             "tags": []}
    assert keep.model_dump()["price"] == 1.0


def test_pydantic_model_with_subclass_refused(sb):
    src = MODEL_V1 + """
    class Special(Item):
        extra: int = 0
    """
    m = sb.load(src)
    sb.update(m, src.replace("price: float = 1.0", "price: float = 3.0"))
    with pytest.raises(hotswap.ReloadError) as ei:
        hotswap.reload(m)
    assert ei.value.code == "HS208"
    assert m.Item(name="a").price == 1.0
    assert "price" not in vars(m.Item)


def test_pydantic_method_only_edit_keeps_validator(sb):
    m = sb.load(MODEL_V1)
    validator = m.Item.__pydantic_validator__
    sb.update(m, MODEL_V1.replace('f"{self.name}:{self.price}"',
                                  'f"<{self.name}>"'))
    assert hotswap.reload(m).ok
    assert m.Item.__pydantic_validator__ is validator
    assert m.Item(name=" n ").label() == "<n>"


def test_attrs_fields_changed_refused_methods_applied(sb):
    pytest.importorskip("attrs")
    src = """
        import attrs

        @attrs.define
        class P:
            x: int = 1

            def twice(self):
                return self.x * 2
    """
    m = sb.load(src)
    sb.update(m, src.replace("self.x * 2", "self.x * 3"))
    assert hotswap.reload(m).ok
    assert m.P().twice() == 3
    v3 = src.replace("x: int = 1", "x: int = 1\n            y: int = 5")
    sb.update(m, v3)
    with pytest.raises(hotswap.ReloadError) as ei:
        hotswap.reload(m)
    assert ei.value.code == "HS209"
    assert ei.value.lineno == line_of(v3, "class P")
    assert [a.name for a in m.P.__attrs_attrs__] == ["x"]
    assert m.P().twice() == 3


def test_sqlalchemy_column_edit_refused(sb):
    pytest.importorskip("sqlalchemy")
    src = """
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

        class Base(DeclarativeBase):
            pass

        class User(DeclarativeBase.__subclasses__()[0] if False else Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(default="a")

            def hello(self):
                return "hi " + self.name
    """
    m = sb.load(src)
    sb.update(m, src.replace('"hi "', '"hello "'))
    assert hotswap.reload(m).ok
    assert m.User(name="b").hello() == "hello b"
    v3 = src.replace('default="a")', 'default="a")\n            age: Mapped[int]')
    sb.update(m, v3)
    with pytest.raises(hotswap.ReloadError) as ei:
        hotswap.reload(m)
    assert ei.value.code == "HS210"
    assert ei.value.lineno == line_of(v3, "age: Mapped")
    assert "age" not in m.User.__table__.c
