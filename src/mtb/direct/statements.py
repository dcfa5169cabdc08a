"""The hot reads' statements: SQLAlchemy Core selects over the ORM models' tables, with the access filters
the session path uses (applications/actors.py), compiled once per dialect into the text the direct
reader sends.

A `Statement` holds one select whose parameters are named `bindparam`s; `compiled(dialect)` gives its
text (`?` for sqlite3, `$1, $2, ...` for asyncpg), a function from the named parameters to the driver's
positional ones, and the row type: a namedtuple of the select's column keys, so the readers read
columns by name. Values the statement itself binds (a `LIMIT 1`) come along as constants.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, ClassVar, Literal

from sqlalchemy import ColumnElement, literal_column
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine.interfaces import BindTyping, Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import Select, TextualSelect
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import String

DialectName = Literal["sqlite", "postgresql"]


def _postgresql() -> Dialect:
    # asyncpg's `$n`, and no `::TYPE` casts on parameters (asyncpg infers each parameter's type from the
    # statement, as it did for the hand-written text).
    dialect = PGDialect(paramstyle="numeric_dollar")
    dialect.bind_typing = BindTyping.NONE
    return dialect


DIALECTS: dict[str, Dialect] = {"sqlite": sqlite.dialect(paramstyle="qmark"), "postgresql": _postgresql()}


@dataclass(frozen=True, slots=True)
class Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters' names, in the order the driver takes them
    args: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    row: Callable[[Any], Any]  # a driver's row as a namedtuple of `keys`
    keys: tuple[str, ...]


class Statement:
    """A select compiled at first use on each dialect, and kept."""

    __slots__ = ("_compiled", "name", "query")

    def __init__(self, name: str, query: Select[Any] | TextualSelect) -> None:
        self.name, self.query = name, query
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect: str) -> Compiled:
        found = self._compiled.get(dialect)
        if found is None:
            found = self._compiled[dialect] = _compile(self.name, self.query, DIALECTS[dialect])
        return found

    def sql(self, dialect: str) -> str:
        return self.compiled(dialect).sql


def _compile(name: str, query: Select[Any] | TextualSelect, dialect: Dialect) -> Compiled:
    compiled = query.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    names = tuple(compiled.positiontup or ())
    constants = {n: compiled.binds[n].value for n in names if not compiled.binds[n].required}
    keys = tuple(query.selected_columns.keys())
    if len(set(keys)) != len(keys) or any(not k.isidentifier() or k.startswith("_") for k in keys):
        raise ValueError(f"{name}: label every column with its own name: {keys}")
    return Compiled(compiled.string, names, _args(names, constants), namedtuple(name, keys)._make, keys)


def _args(names: tuple[str, ...], constants: dict[str, Any]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if not names:
        return lambda params: ()
    get = itemgetter(*names)
    if len(names) == 1:
        one = names[0]
        if constants:
            return lambda params: (constants[one],)
        return lambda params: (params[one],)
    if constants:
        return lambda params: get({**constants, **params})
    return get  # type: ignore[return-value]


def inline(value: str) -> ColumnElement[str]:
    """A constant written into the statement's text, not bound: SQLite matches a partial index (or an
    expression) against the statement only when it can see the value when planning it."""
    if "'" in value:
        raise ValueError(value)
    return literal_column(f"'{value}'", String)


class CodePointOrder(ColumnElement[str]):
    """`expr` collated in code-point order, the collation a name index is built with: BINARY on SQLite
    (its default), "C" on PostgreSQL (identity/models.py ix_insured_persons_name)."""

    inherit_cache = True
    _traverse_internals: ClassVar[list[tuple[str, Any]]] = [("expr", InternalTraversal.dp_clauseelement)]
    type = String()

    def __init__(self, expr: ColumnElement[str]) -> None:
        self.expr = expr


@compiles(CodePointOrder, "sqlite")
def _code_point_order_sqlite(element: CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.expr, **kw)} COLLATE BINARY"


@compiles(CodePointOrder, "postgresql")
def _code_point_order_postgresql(element: CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return f'{compiler.process(element.expr, **kw)} COLLATE "C"'
