"""Class adapters: models whose metaclass or decorator derives state from the
class body (pydantic, attrs, SQLAlchemy declarative).  The C core updates the
class members in place; these bring the derived state up to date, or refuse
the batch with a code when that cannot be made sound."""
import __future__
import ast
import copy
import gc
import re
import sys

from .. import _core
from . import Adapter, Refused


def _old_source(name):
    snap = _core.snapshots.get(name)
    if snap is None:
        return None
    try:
        return snap.source.decode("utf-8")
    except (AttributeError, UnicodeDecodeError):
        return None


def _classdefs(source):
    """Top-level class statements of source by name (the last one wins, as
    a fresh import ends with it)."""
    if source is None:
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


def _edited_classes(m, pred):
    """(name, live class, new ClassDef, old ClassDef or None) for every class
    the module defines at top level, pred(cls) true, whose statement was
    edited (or, without a snapshot, that the new source still defines)."""
    new = _classdefs(m.source) or {}
    old = _classdefs(_old_source(m.name))
    out = []
    for name, value in list(vars(m.module).items()):
        if (not isinstance(value, type) or value.__module__ != m.name
                or value.__qualname__ != name or not pred(value)):
            continue
        node = new.get(name)
        if node is None:
            continue
        before = old.get(name) if old is not None else None
        if before is not None and ast.dump(before) == ast.dump(node):
            continue
        out.append((name, value, node, before))
    return out


def _future_flags(module):
    flags = 0
    for name in __future__.all_feature_names:
        if vars(module).get(name) is getattr(__future__, name):
            flags |= getattr(__future__, name).compiler_flag
    return flags


def _throwaway(module, node, decorators=()):
    """The class a fresh import would build from `node` (the class statement
    with only `decorators` kept), in a copy of the module's globals: the
    live module is not touched."""
    node = copy.copy(node)
    node.decorator_list = list(decorators)
    tree = ast.Module(body=[node], type_ignores=[])
    code = compile(tree, getattr(module, "__file__", None) or "<hotswap>",
                   "exec", _future_flags(module), True)
    ns = dict(vars(module))
    exec(code, ns)
    return ns[node.name]


_ADDR = re.compile(r" at 0x[0-9a-fA-F]+")


def _sig(obj):
    return _ADDR.sub("", repr(obj))


# ---------------------------------------------------------------------------
# pydantic v2

# set on the live class by model_rebuild(), bound to the class object
_PYD_BOUND = frozenset({
    "__pydantic_validator__", "__pydantic_serializer__",
    "__pydantic_core_schema__", "__pydantic_decorators__",
    "__pydantic_parent_namespace__", "__pydantic_complete__",
    "__pydantic_generic_metadata__", "__signature__",
})
_PYD_DATA = frozenset({
    "model_config", "__class_vars__", "__private_attributes__",
    "model_fields", "model_computed_fields",
})
# kept exact by the C core, never deleted or restored here
_CLASS_BOOKKEEPING = frozenset({
    "__dict__", "__weakref__", "__module__", "__qualname__", "__doc__",
    "__annotations__", "__annotate__", "__annotate_func__",
    "__annotations_cache__", "__firstlineno__", "__static_attributes__",
    "__classdictcell__", "__orig_bases__", "__parameters__", "_abc_impl",
    "__abstractmethods__",
})


class PydanticAdapter(Adapter):
    """pydantic v2 models (``BaseModel`` subclasses).  When a model's class
    statement was edited and its fields, field defaults, validators,
    serializers or config changed, the model is rebuilt on the live class:
    pydantic's metaclass builds a throw-away class from the new body, its
    fields, config, private attributes and decorator table move onto the
    live class (decorators re-bound to the live class's methods), the
    class-level leftovers of the body (field defaults) are removed, and
    ``model_rebuild(force=True)`` makes the validator, serializer, core and
    JSON schema.  Existing instances keep their values, get added fields'
    defaults and lose removed fields.  Refused (HS208): a model with live
    subclasses (their fields were copied from it), a decorated model, a
    required field added while instances exist."""

    name = "pydantic"
    requires = ("pydantic",)

    def prepare(self, batch):
        return {"classes": [], "instances": []}

    def apply(self, batch, state):
        mc = sys.modules.get("pydantic._internal._model_construction")
        if mc is None:
            return
        meta = mc.ModelMetaclass
        for m in batch.modules:
            for name, cls, node, _ in _edited_classes(
                    m, lambda c: isinstance(c, meta)
                    and "__pydantic_fields__" in vars(c)):
                self._rebuild(batch, state, m, name, cls, node)
        if batch.rebuilt:
            self._rebuild_dependents(batch, state)

    def _rebuild_dependents(self, batch, state):
        """Models with a field of a rebuilt model (``item: Item``,
        ``items: List[Item]``) embed its old schema in their validator and
        serializer: rebuild them too, nearest first (a model nesting one of
        those is rebuilt after it), as a fresh import builds them."""
        base = sys.modules["pydantic"].BaseModel
        models, todo = [], list(type.__subclasses__(base))
        seen = set()
        while todo:
            c = todo.pop()
            if id(c) in seen:
                continue
            seen.add(id(c))
            models.append(c)
            todo.extend(type.__subclasses__(c))
        done = set(batch.rebuilt)
        while True:
            found = [c for c in models if c not in done
                     and "__pydantic_fields__" in vars(c)
                     and any(mentions(getattr(f, "annotation", None), done,
                                      deep=False)
                             for f in c.__pydantic_fields__.values())]
            if not found:
                return
            for c in found:
                state["classes"].append((c, dict(vars(c))))
                c.model_rebuild(force=True, _parent_namespace_depth=0)
                done.add(c)
                batch.rebuilt.append(c)
                batch.note(c.__module__, c.__qualname__, "class", "updated",
                           None, "model rebuilt: a model it nests changed")

    def _rebuild(self, batch, state, m, name, cls, node):
        if node.decorator_list:
            raise Refused("HS208", "pydantic model %s is decorated: it cannot "
                          "be rebuilt in place" % name, m.module, node.lineno)
        shadow = _throwaway(m.module, node)
        old_fields = dict(cls.__pydantic_fields__)
        new_fields = dict(shadow.__pydantic_fields__)

        def decos(c):
            d = c.__pydantic_decorators__
            return {f: {k: _sig(v.info) for k, v in getattr(d, f).items()}
                    for f in _dc_fields(d)}

        differs = (
            {k: _sig(v) for k, v in old_fields.items()}
            != {k: _sig(v) for k, v in new_fields.items()}
            or list(old_fields) != list(new_fields)
            or _sig(dict(cls.model_config)) != _sig(dict(shadow.model_config))
            or decos(cls) != decos(shadow)
            or _sig(cls.__private_attributes__)
            != _sig(shadow.__private_attributes__)
            or any(k in vars(cls) for k in new_fields))
        if not differs:
            return
        subs = [s for s in type.__subclasses__(cls) if s is not shadow]
        if subs:
            raise Refused("HS208", "pydantic model %s has subclasses (%s) "
                          "whose fields were copied from it: its fields "
                          "cannot change in place; restart"
                          % (name, ", ".join(s.__qualname__ for s in subs)),
                          m.module, node.lineno)
        added = [f for f in new_fields if f not in old_fields]
        removed = [f for f in old_fields if f not in new_fields]
        instances = []
        if added or removed:
            instances = [o for o in gc.get_objects() if type(o) is cls]
            for f in added:
                if instances and new_fields[f].is_required():
                    raise Refused(
                        "HS208", "required field %s.%s was added while %d "
                        "instance(s) exist: they have no value for it"
                        % (name, f, len(instances)), m.module,
                        _field_line(node, f) or node.lineno)
        state["classes"].append((cls, dict(vars(cls))))
        proxy = getattr(sys.modules.get("pydantic._internal._decorators"),
                        "PydanticDescriptorProxy", ())
        # what the body left on the class that pydantic keeps elsewhere
        for k in list(vars(cls)):
            if k in _CLASS_BOOKKEEPING:
                continue
            v = vars(cls)[k]
            if proxy and isinstance(v, proxy):
                type.__setattr__(cls, k, v.wrapped)
            elif k not in vars(shadow):
                type.__delattr__(cls, k)
        for k, v in vars(shadow).items():
            if k in _PYD_BOUND or k in _CLASS_BOOKKEEPING:
                continue
            if k.startswith("__pydantic_") or k in _PYD_DATA or (
                    k not in vars(cls)
                    and getattr(v, "__module__", "").startswith("pydantic")):
                type.__setattr__(cls, k, v)
        d = copy.copy(shadow.__pydantic_decorators__)
        for f in _dc_fields(d):
            setattr(d, f, {k: type(v).build(cls, cls_var_name=v.cls_var_name,
                                            shim=v.shim,
                                            info=copy.copy(v.info))
                           for k, v in getattr(d, f).items()})
        type.__setattr__(cls, "__pydantic_decorators__", d)
        cls.model_rebuild(force=True, _parent_namespace_depth=0)
        batch.rebuilt.append(cls)
        for inst in instances:
            data = inst.__dict__
            fset = getattr(inst, "__pydantic_fields_set__", None)
            state["instances"].append(
                (inst, dict(data), set(fset) if fset is not None else None))
            for f in removed:
                data.pop(f, None)
                if fset is not None:
                    fset.discard(f)
            for f in added:
                info = new_fields[f]
                try:
                    data[f] = info.get_default(call_default_factory=True,
                                               validated_data=data)
                except TypeError:
                    data[f] = info.get_default(call_default_factory=True)
        # the members the body left as class data were fields: say so
        fieldish = set(old_fields) | set(new_fields) | set(
            getattr(cls, "__private_attributes__", ()))
        m.entries[:] = [
            e for e in m.entries
            if not (e.name.startswith(name + ".")
                    and e.name[len(name) + 1:] in fieldish)]
        what = []
        if added:
            what.append("fields added: " + ", ".join(added))
        if removed:
            what.append("fields removed: " + ", ".join(removed))
        what.append("model rebuilt (fields, defaults, validators, "
                    "serializer, JSON schema)")
        if instances:
            what.append("%d instance(s) migrated" % len(instances))
        batch.note(m.module, name, "class", "updated", None, "; ".join(what),
                   node.lineno)

    def rollback(self, batch, state):
        for inst, data, fset in reversed(state["instances"]):
            inst.__dict__.clear()
            inst.__dict__.update(data)
            if fset is not None:
                object.__setattr__(inst, "__pydantic_fields_set__", fset)
        for cls, saved in reversed(state["classes"]):
            _restore_class(cls, saved)


def mentions(tp, targets, seen=None, deep=True):
    """True when the annotation ``tp`` is or contains (``List[X]``,
    ``X | None``, ``Annotated[X, ...]``) one of ``targets``; with ``deep``,
    also through the fields of the pydantic models it names."""
    import typing

    if seen is None:
        seen = set()
    if tp is None or id(tp) in seen or len(seen) > 10000:
        return False
    seen.add(id(tp))
    if isinstance(tp, type) and tp in targets:
        return True
    fields = getattr(tp, "__pydantic_fields__", None) if (
        deep and isinstance(tp, type)) else None
    if isinstance(fields, dict):
        for f in fields.values():
            if mentions(getattr(f, "annotation", None), targets, seen, deep):
                return True
    try:
        args = typing.get_args(tp)
    except Exception:
        args = ()
    return any(mentions(a, targets, seen, deep) for a in args)


def _dc_fields(obj):
    import dataclasses

    return [f.name for f in dataclasses.fields(obj)]


def _field_line(node, field):
    for stmt in node.body:
        if (isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and stmt.target.id == field):
            return stmt.lineno
    return 0


def _restore_class(cls, saved):
    for k in list(vars(cls)):
        if k not in saved and k not in _CLASS_BOOKKEEPING:
            type.__delattr__(cls, k)
    for k, v in saved.items():
        if k in _CLASS_BOOKKEEPING:
            continue
        if vars(cls).get(k, _restore_class) is not v:
            type.__setattr__(cls, k, v)


# ---------------------------------------------------------------------------
# attrs

class AttrsAdapter(Adapter):
    """attrs classes (``@attrs.define``, ``@attr.s``...).  Their decorator is
    not run again on the live class (a slotted attrs class is a new class
    object), so an edit that changes the fields (names, defaults, types,
    init/kw_only/eq/order flags) is refused (HS209); method edits apply."""

    name = "attrs"
    requires = ("attr",)

    def apply(self, batch, state):
        for m in batch.modules:
            for name, cls, node, _ in _edited_classes(
                    m, lambda c: "__attrs_attrs__" in vars(c)):
                keep = [d for d in node.decorator_list
                        if _is_attrs_decorator(m.module, d)]
                shadow = _throwaway(m.module, node, keep)
                if "__attrs_attrs__" not in vars(shadow) or _attrs_sig(
                        cls) != _attrs_sig(shadow):
                    raise Refused(
                        "HS209", "the fields of attrs class %s changed: "
                        "attrs classes are not regenerated in place "
                        "(methods are); restart" % name, m.module,
                        node.lineno)


def _is_attrs_decorator(module, expr):
    try:
        value = eval(compile(ast.Expression(body=expr), "<hotswap>", "eval"),
                     dict(vars(module)))
    except Exception:
        return False
    mod = getattr(value, "__module__", "") or ""
    return mod == "attr" or mod.startswith(("attr.", "attrs"))


def _attrs_sig(cls):
    out = []
    for a in getattr(cls, "__attrs_attrs__", ()):
        default = a.default
        fac = getattr(default, "factory", None)
        if fac is not None:
            default = ("factory", getattr(fac, "__qualname__", _sig(fac)),
                       getattr(getattr(fac, "__code__", None), "co_code",
                               None))
        else:
            default = _sig(default)
        out.append((a.name, default, _sig(a.type), a.init, a.kw_only,
                    a.eq, a.order, a.alias if hasattr(a, "alias") else None))
    return out


# ---------------------------------------------------------------------------
# SQLAlchemy declarative

class SQLAlchemyAdapter(Adapter):
    """SQLAlchemy declarative (mapped) classes.  Their columns and
    relationships live in the mapper and the Table, which the declarative
    metaclass fills when the class is created; setting a new column on the
    live class would alter them outside the undo log, and the database schema
    does not follow.  So an edit of a mapped class's class-level statements
    (columns, relationships, ``__tablename__``, table args), bases or
    decorators is refused before anything runs (HS210); method edits
    apply."""

    name = "sqlalchemy"
    requires = ("sqlalchemy.orm",)

    def prepare(self, batch):
        for m in batch.modules:
            if _old_source(m.name) is None:
                continue  # no snapshot: class data is not re-run (HS002)
            for name, cls, node, before in _edited_classes(
                    m, lambda c: "__mapper__" in vars(c)
                    or "__table__" in vars(c)):
                if before is None:
                    continue
                if _data_dump(node) != _data_dump(before):
                    raise Refused(
                        "HS210", "mapped class %s: its columns, "
                        "relationships, table or bases changed; the mapper "
                        "and the Table cannot be updated in place; restart"
                        % name, m.module, _first_data_change(node, before)
                        or node.lineno)
        return None


def _data_dump(node):
    return (ast.dump(ast.Module(body=node.bases + [
        ast.Expr(k.value) for k in node.keywords] + node.decorator_list,
        type_ignores=[])),
        [ast.dump(s) for s in node.body
         if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef,
                               ast.Pass))
         and not (isinstance(s, ast.Expr)
                  and isinstance(s.value, ast.Constant))])


def _first_data_change(node, before):
    old = {ast.dump(s) for s in before.body}
    for s in node.body:
        if ast.dump(s) not in old and not isinstance(
                s, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return s.lineno
    return 0
