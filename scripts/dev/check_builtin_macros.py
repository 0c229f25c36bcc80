#!/usr/bin/env python3
"""Developer check for sluice's builtin Jinja macros (src/render/builtins/*.sql).

Not part of CI. It renders every builtin macro for the duckdb, snowflake and
bigquery targets outside sluice, the way sluice runs them (dbt-style
adapter.dispatch, return(), `{% test %}` blocks), and:

  1. statically checks the sources: macros call each other only through their
     namespace (`dbt.x()` / `sluice.x()`), and every public macro has a one-line
     `{# ... #}` comment right above it;
  2. renders one sample call of every macro per target with Jinja2 and prints
     the outputs (--show) for eyeballing against the Snowflake/BigQuery docs;
  3. renders the same calls with MiniJinja (the `minijinja` Python binding, if
     installed) after a static rewrite of dispatch/return, and checks both
     engines produce the same SQL;
  4. runs the DuckDB outputs in DuckDB and checks their values;
  5. parses the Snowflake and BigQuery outputs with sqlglot, if installed
     (a syntax smoke test only: sqlglot is lenient).

Setup and run:
    python3 -m venv /tmp/j2 && /tmp/j2/bin/pip install jinja2 duckdb minijinja sqlglot
    /tmp/j2/bin/python scripts/dev/check_builtin_macros.py [--show] [--markdown]
"""

import datetime
import hashlib
import re
import sys
from pathlib import Path

import duckdb
import jinja2
from jinja2 import nodes

try:
    import minijinja
except ImportError:  # optional
    minijinja = None
try:
    import sqlglot
except ImportError:  # optional
    sqlglot = None

ROOT = Path(__file__).resolve().parents[2]
BUILTINS = ROOT / "src" / "render" / "builtins"
# file -> namespace, as sluice loads them
FILES = {"dbt.sql": "dbt", "sluice.sql": "sluice", "tests.sql": "dbt"}
TARGETS = ("duckdb", "snowflake", "bigquery")
IMPL_PREFIXES = ("default__", "duckdb__", "snowflake__", "bigquery__")

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL:", msg)


# --------------------------------------------------------------- sources --

def test_shim(src):
    """sluice turns `{% test x(...) %}` into the macro `test_x`."""
    src = re.sub(r"\{%(-?)\s*test\s+(\w+)\s*\(", r"{%\1 macro test_\2(", src)
    return re.sub(r"\{%(-?)\s*endtest\s*(-?)%\}", r"{%\1 endmacro \2%}", src)


def load_sources():
    return {name: test_shim((BUILTINS / name).read_text()) for name in FILES}


def macro_names(env, src):
    return [m.name for m in env.parse(src).find_all(nodes.Macro)]


def static_checks(env, sources):
    all_macros = set()
    for src in sources.values():
        all_macros.update(macro_names(env, src))
    for name, src in sources.items():
        tree = env.parse(src)
        for call in tree.find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name in all_macros:
                fail(f"{name}:{call.lineno}: bare call to macro {call.node.name}(); "
                     f"use its namespace ({FILES[name]}.{call.node.name})")
        raw = (BUILTINS / name).read_text().splitlines()
        for i, line in enumerate(raw):
            m = re.match(r"\{%-?\s*(macro|test)\s+(\w+)", line)
            if not m or m.group(2).startswith(IMPL_PREFIXES) or m.group(2).startswith("_"):
                continue
            prev = raw[i - 1].strip() if i else ""
            if not (prev.startswith("{#") and prev.endswith("#}") and not prev.startswith("{#-")):
                fail(f"{name}:{i + 1}: public macro {m.group(2)} lacks a one-line {{# ... #}} comment above it")


# ------------------------------------------------------ Jinja2 renderer --

class ReturnValue(Exception):
    def __init__(self, value):
        super().__init__()
        self.value = value


def do_return(value):
    raise ReturnValue(value)


class CompilerError(Exception):
    pass


class Exceptions:
    @staticmethod
    def raise_compiler_error(msg):
        raise CompilerError(msg)


class Target:
    def __init__(self, type_):
        self.type = type_
        self.name = "dev"
        self.schema = "main"


class Namespace:
    def __init__(self, renderer, name):
        self._renderer = renderer
        self._name = name

    def __getattr__(self, item):
        macro = self._renderer.lookup(self._name, item)
        if macro is None:
            raise AttributeError(item)
        return macro


class Adapter:
    def __init__(self, renderer):
        self._renderer = renderer

    def dispatch(self, name, macro_namespace="dbt"):
        r = self._renderer
        for candidate in (f"{r.target.type}__{name}", f"default__{name}"):
            macro = r.lookup(macro_namespace, candidate)
            if macro is not None:
                return macro
        raise CompilerError(f"no implementation of {macro_namespace}.{name} for {r.target.type}")

    @staticmethod
    def quote(identifier):
        return '"' + str(identifier).replace('"', '""') + '"'


class Jinja2Renderer:
    """dbt-like runtime: namespaces of macros, dispatch, and return()."""

    def __init__(self, sources, target_type, variables=None):
        self.target = Target(target_type)
        self.variables = variables or {}
        self.env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        self.env.globals.update(
            adapter=Adapter(self),
            target=self.target,
            exceptions=Exceptions(),
            var=self.var,
            env_var=lambda name, default=None: default,
            dbt=Namespace(self, "dbt"),
            sluice=Namespace(self, "sluice"),
            **{"return": do_return},
        )
        self.modules = {"dbt": [], "sluice": []}
        for name, src in sources.items():
            module = self.env.from_string(src).make_module()
            self.modules[FILES[name]].append(module)

    def var(self, name, default=None):
        return self.variables.get(name, default)

    def lookup(self, namespace, name):
        for module in self.modules[namespace]:
            macro = getattr(module, name, None)
            if isinstance(macro, jinja2.runtime.Macro):
                return self._wrap(macro)
        return None

    @staticmethod
    def _wrap(macro):
        def call(*args, **kwargs):
            try:
                return macro(*args, **kwargs)
            except ReturnValue as r:
                return r.value
        return call

    def render(self, expr):
        out = self.env.from_string("{{ " + expr + " }}").render()
        return out


# ---------------------------------------------------- MiniJinja renderer --

def _match_paren(s, open_idx):
    """Index of the ')' closing the '(' at open_idx, skipping quoted strings."""
    depth, i, quote = 0, open_idx, None
    while i < len(s):
        c = s[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError("unbalanced parentheses")


class MiniJinjaRenderer:
    """Renders with the real MiniJinja engine. The Python binding cannot hand
    macros back from Python, so dispatch is resolved statically for the target,
    `{{ return(x) }}` becomes `{{ x }}` and namespace prefixes are dropped
    (all files are rendered as one template)."""

    def __init__(self, sources, target_type, variables=None):
        self.target_type = target_type
        defined = set()
        env = jinja2.Environment()
        for src in sources.values():
            defined.update(macro_names(env, src))
        combined = "\n".join(sources.values())

        def resolve(m):
            name = m.group(1)
            for candidate in (f"{target_type}__{name}", f"default__{name}"):
                if candidate in defined:
                    return candidate
            raise KeyError(name)

        combined = re.sub(r"adapter\.dispatch\('(\w+)',\s*'\w+'\)", resolve, combined)
        while True:
            m = re.search(r"\{\{\s*return\(", combined)
            if not m:
                break
            open_idx = m.end() - 1
            close = _match_paren(combined, open_idx)
            combined = combined[:m.start()] + "{{ " + combined[open_idx + 1:close] + combined[close + 1:]
        self.source = self.strip_ns(combined)
        variables = variables or {}

        class Exc:
            @staticmethod
            def raise_compiler_error(msg):
                raise CompilerError(msg)

        class Tgt:
            type = target_type
            name = "dev"
            schema = "main"

        self.env = minijinja.Environment(
            undefined_behavior="strict",
            globals={
                "target": Tgt(),
                "exceptions": Exc(),
                "var": lambda name, default=None: variables.get(name, default),
                "env_var": lambda name, default=None: default,
            },
        )

    @staticmethod
    def strip_ns(src):
        return re.sub(r"\b(?:dbt|sluice)\.(\w+)\(", r"\1(", src)

    def render(self, expr):
        return self.env.render_str(self.source + "{{ " + self.strip_ns(expr) + " }}")


# ------------------------------------------------------------- samples --

D = "cast('2024-01-31' as date)"
D2 = "cast('2024-03-15' as date)"

# One sample call per macro: (macro signature, Jinja expression).
SAMPLES = [
    ("dbt.type_string()", "dbt.type_string()"),
    ("dbt.type_int()", "dbt.type_int()"),
    ("dbt.type_bigint()", "dbt.type_bigint()"),
    ("dbt.type_float()", "dbt.type_float()"),
    ("dbt.type_numeric()", "dbt.type_numeric()"),
    ("dbt.type_timestamp()", "dbt.type_timestamp()"),
    ("dbt.type_boolean()", "dbt.type_boolean()"),
    ("dbt.cast(field, type)", "dbt.cast('x', 'integer')"),
    ("dbt.safe_cast(field, type)", "dbt.safe_cast('x', 'integer')"),
    ("dbt.cast_bool_to_text(field)", "dbt.cast_bool_to_text('is_active')"),
    ("dbt.current_timestamp()", "dbt.current_timestamp()"),
    ("dbt.date_trunc(datepart, date)", "dbt.date_trunc('month', 'd')"),
    ("dbt.datediff(first_date, second_date, datepart)", "dbt.datediff('a', 'b', 'day')"),
    ("dbt.datediff(..., 'week')", "dbt.datediff('a', 'b', 'week')"),
    ("dbt.dateadd(datepart, interval, from_date_or_timestamp)", "dbt.dateadd('month', 1, 'd')"),
    ("dbt.last_day(date, datepart)", "dbt.last_day('d', 'month')"),
    ("dbt.date(year, month, day)", "dbt.date(2024, 1, 31)"),
    ("dbt.concat(fields)", "dbt.concat(['a', \"'-'\", 'b'])"),
    ("dbt.hash(field)", "dbt.hash('x')"),
    ("dbt.length(expression)", "dbt.length('s')"),
    ("dbt.position(substring_text, string_text)", "dbt.position(\"'b'\", 's')"),
    ("dbt.replace(field, old_chars, new_chars)", "dbt.replace('s', \"'a'\", \"'b'\")"),
    ("dbt.right(string_text, length_expression)", "dbt.right('s', 3)"),
    ("dbt.split_part(string_text, delimiter_text, part_number)", "dbt.split_part('s', \"','\", 2)"),
    ("dbt.split_part(..., -1)", "dbt.split_part('s', \"','\", -1)"),
    ("dbt.escape_single_quotes(expression)", "dbt.escape_single_quotes(\"it's\")"),
    ("dbt.string_literal(value)", "dbt.string_literal('abc')"),
    ("dbt.any_value(expression)", "dbt.any_value('x')"),
    ("dbt.bool_or(expression)", "dbt.bool_or('x')"),
    ("dbt.listagg(measure, delimiter_text, order_by_clause, limit_num)",
     "dbt.listagg('x', \"','\", 'order by x', 2)"),
    ("dbt.listagg(measure)", "dbt.listagg('x')"),
    ("sluice.safe_divide(numerator, denominator)", "sluice.safe_divide('a', 'b')"),
    ("sluice.date_spine(datepart, start_date, end_date)", "sluice.date_spine('day', 's', 'e')"),
    ("sluice.generate_surrogate_key(field_list)", "sluice.generate_surrogate_key(['a', 'b'])"),
    ("dbt.test_not_null(model, column_name)", "dbt.test_not_null('\"db\".\"main\".\"t\"', 'c')"),
    ("dbt.test_unique(model, column_name)", "dbt.test_unique('\"db\".\"main\".\"t\"', 'c')"),
    ("dbt.test_accepted_values(model, column_name, values, quote=True)",
     "dbt.test_accepted_values('\"db\".\"main\".\"t\"', 'c', ['a', \"o'k\"])"),
    ("dbt.test_relationships(model, column_name, to, field)",
     "dbt.test_relationships('\"db\".\"main\".\"t\"', 'c', '\"db\".\"main\".\"p\"', 'id')"),
]


# Branches the samples above miss; rendered by both engines for every target.
EXTRA_EXPRS = [
    "dbt.safe_cast(42, 'date')",
    "dbt.safe_cast('g', 'GEOMETRY')",
    "dbt.safe_cast('g', 'geography')",
    "dbt.safe_cast('v', 'variant')",
    "dbt.cast('g', 'geography')",
    "dbt.cast('g', 'GEOMETRY')",
    "dbt.split_part('s', \"','\", 'n')",
    "dbt.dateadd('quarter', 2, 'd')",
    "dbt.dateadd('WEEK', 'n', 'd')",
    "dbt.datediff('a', 'b', 'WEEK')",
    "dbt.listagg('x', \"','\", 'order by y')",
    "dbt.listagg('x', \"','\", none, 5)",
    "dbt.right('s', 'n')",
    "dbt.last_day('d', 'quarter')",
    "dbt.test_accepted_values('t', 'c', [1, 2], quote=False)",
    "sluice.date_spine('hour', 's', 'e')",
    "sluice.default__date_spine('week', 's', 'e')",
    "sluice.generate_surrogate_key(['a'])",
]

# ----------------------------------------------------------- DuckDB checks --

def d(s):
    return datetime.date.fromisoformat(s)


def ts(s):
    return datetime.datetime.fromisoformat(s)


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


NULL_KEY = "_dbt_utils_surrogate_key_null_"

# (Jinja template rendered for duckdb, expected rows (list of tuples) or scalar)
DUCKDB_CHECKS = [
    # datediff: boundaries crossed
    ("select {{ dbt.datediff(\"cast('2024-01-31' as date)\", \"cast('2024-03-01' as date)\", 'day') }}", 30),
    ("select {{ dbt.datediff(\"cast('2024-01-31' as date)\", \"cast('2024-02-01' as date)\", 'month') }}", 1),
    ("select {{ dbt.datediff(\"cast('2024-03-01' as date)\", \"cast('2024-01-31' as date)\", 'month') }}", -2),
    ("select {{ dbt.datediff(\"cast('2023-12-31' as date)\", \"cast('2025-01-01' as date)\", 'year') }}", 2),
    ("select {{ dbt.datediff(\"cast('2024-03-31' as date)\", \"cast('2024-04-01' as date)\", 'quarter') }}", 1),
    ("select {{ dbt.datediff(\"timestamp '2024-01-01 00:59'\", \"timestamp '2024-01-01 01:00'\", 'hour') }}", 1),
    ("select {{ dbt.datediff(\"cast('2024-01-06' as date)\", \"cast('2024-01-07' as date)\", 'week') }}", 1),  # Sat -> Sun
    ("select {{ dbt.datediff(\"cast('2024-01-07' as date)\", \"cast('2024-01-13' as date)\", 'week') }}", 0),  # Sun -> Sat
    ("select {{ dbt.datediff(\"cast('2024-01-20' as date)\", \"cast('2024-01-06' as date)\", 'week') }}", -2),
    ("select {{ dbt.datediff(\"cast('2024-01-01' as date)\", \"cast('2024-01-31' as date)\", 'DAY') }}", 30),
    # date_trunc
    ("select {{ dbt.date_trunc('month', \"cast('2024-03-15' as date)\") }}", ts("2024-03-01")),
    ("select {{ dbt.date_trunc('quarter', \"timestamp '2024-05-15 10:00'\") }}", ts("2024-04-01")),
    ("select {{ dbt.date_trunc('year', \"cast('2024-05-15' as date)\") }}", ts("2024-01-01")),
    # dateadd
    ("select {{ dbt.dateadd('day', 1, \"cast('2024-02-28' as date)\") }}", ts("2024-02-29")),
    ("select {{ dbt.dateadd('month', 1, \"cast('2024-01-31' as date)\") }}", ts("2024-02-29")),
    ("select {{ dbt.dateadd('quarter', 1, \"cast('2024-01-31' as date)\") }}", ts("2024-04-30")),
    ("select {{ dbt.dateadd('week', 2, \"cast('2024-01-01' as date)\") }}", ts("2024-01-15")),
    ("select {{ dbt.dateadd('year', -1, \"cast('2024-02-29' as date)\") }}", ts("2023-02-28")),
    ("select {{ dbt.dateadd('hour', '-1', \"timestamp '2024-01-01 00:30'\") }}", ts("2023-12-31 23:30")),
    ("select {{ dbt.dateadd('day', 'n', \"cast('2024-01-01' as date)\") }} from (values (3)) t(n)", ts("2024-01-04")),
    # last_day
    ("select {{ dbt.last_day(\"cast('2024-02-10' as date)\", 'month') }}", d("2024-02-29")),
    ("select {{ dbt.last_day(\"cast('2024-02-10' as date)\", 'quarter') }}", d("2024-03-31")),
    ("select {{ dbt.last_day(\"cast('2024-02-10' as date)\", 'year') }}", d("2024-12-31")),
    # types
    ("select typeof(cast(1 as {{ dbt.type_string() }}))", "VARCHAR"),
    ("select typeof(cast(1 as {{ dbt.type_int() }}))", "INTEGER"),
    ("select typeof(cast(1 as {{ dbt.type_bigint() }}))", "BIGINT"),
    ("select typeof(cast(1 as {{ dbt.type_float() }}))", "DOUBLE"),
    ("select typeof(cast(1 as {{ dbt.type_numeric() }}))", "DECIMAL(28,6)"),
    ("select typeof(cast('2024-01-01' as {{ dbt.type_timestamp() }}))", "TIMESTAMP"),
    ("select typeof(cast(1 as {{ dbt.type_boolean() }}))", "BOOLEAN"),
    # casts
    ("select {{ dbt.cast(\"'42'\", dbt.type_int()) }}", 42),
    ("select {{ dbt.safe_cast(\"'abc'\", dbt.type_int()) }}", None),
    ("select {{ dbt.safe_cast(\"'17'\", dbt.type_int()) }}", 17),
    ("select {{ dbt.cast_bool_to_text('1 = 1') }}", "true"),
    ("select typeof({{ dbt.current_timestamp() }})", "TIMESTAMP WITH TIME ZONE"),
    ("select {{ dbt.date(2024, 2, 29) }}", d("2024-02-29")),
    # strings
    ("select {{ dbt.concat([\"'a'\", \"'-'\", \"'b'\"]) }}", "a-b"),
    ("select {{ dbt.hash(\"'abc'\") }}", md5("abc")),
    ("select {{ dbt.hash('42') }}", md5("42")),
    ("select {{ dbt.length(\"'abcd'\") }}", 4),
    ("select {{ dbt.position(\"'c'\", \"'abcd'\") }}", 3),
    ("select {{ dbt.replace(\"'a-b-c'\", \"'-'\", \"'+'\") }}", "a+b+c"),
    ("select {{ dbt.right(\"'abcd'\", 2) }}", "cd"),
    ("select {{ dbt.right(\"'abcd'\", 0) }}", ""),
    ("select {{ dbt.split_part(\"'a,b,c'\", \"','\", 2) }}", "b"),
    ("select {{ dbt.split_part(\"'a,b,c'\", \"','\", -1) }}", "c"),
    ("select '{{ dbt.escape_single_quotes(\"it's\") }}'", "it's"),
    ("select {{ dbt.string_literal('abc') }}", "abc"),
    # aggregates
    ("select {{ dbt.any_value('x') }} from (values (7), (7)) t(x)", 7),
    ("select {{ dbt.bool_or('x') }} from (values (false), (true)) t(x)", True),
    ("select {{ dbt.bool_or('x') }} from (values (false), (false)) t(x)", False),
    ("select {{ dbt.listagg('x') }} from (values ('a')) t(x)", "a"),
    ("select {{ dbt.listagg('x', \"'|'\", 'order by x desc') }} from (values ('a'), ('c'), ('b')) t(x)", "c|b|a"),
    ("select {{ dbt.listagg('x', \"'|'\", 'order by x', 2) }} from (values ('a'), ('c'), ('b')) t(x)", "a|b"),
    # sluice.safe_divide
    ("select {{ sluice.safe_divide(1, 0) }}", None),
    ("select {{ sluice.safe_divide(1, 0.0) }}", None),
    ("select {{ sluice.safe_divide(1, 'null') }}", None),
    ("select {{ sluice.safe_divide('null', 2) }}", None),
    ("select {{ sluice.safe_divide(1, 4) }}", 0.25),
    ("select {{ sluice.safe_divide(1, 3) }}", 1 / 3),
    ("select {{ sluice.safe_divide('a + 1', 'b - 2') }} from (values (5, 2)) t(a, b)", None),
    ("select {{ sluice.safe_divide('a + 1', 'b - 2') }} from (values (5, 5)) t(a, b)", 2.0),
    ("select typeof({{ sluice.safe_divide(1, 4) }})", "DOUBLE"),
    # sluice.date_spine
    ("select count(*), min(date_day), max(date_day) from ({{ sluice.date_spine('day', \"cast('2024-01-01' as date)\", \"cast('2024-02-01' as date)\") }})",
     [(31, ts("2024-01-01"), ts("2024-01-31"))]),
    ("select count(*), min(date_month), max(date_month) from ({{ sluice.date_spine('month', \"cast('2024-01-01' as date)\", \"cast('2025-01-01' as date)\") }})",
     [(12, ts("2024-01-01"), ts("2024-12-01"))]),
    ("select date_month from ({{ sluice.date_spine('month', \"cast('2024-01-31' as date)\", \"cast('2024-05-01' as date)\") }}) order by 1",
     [(ts("2024-01-31"),), (ts("2024-02-29"),), (ts("2024-03-31"),), (ts("2024-04-30"),)]),
    ("select count(*) from ({{ sluice.date_spine('week', \"cast('2024-01-07' as date)\", \"cast('2024-02-04' as date)\") }})", 4),
    ("select count(*) from ({{ sluice.date_spine('quarter', \"cast('2024-01-01' as date)\", \"cast('2025-01-01' as date)\") }})", 4),
    ("select count(*) from ({{ sluice.date_spine('year', \"cast('2020-01-01' as date)\", \"cast('2024-01-01' as date)\") }})", 4),
    ("select count(*), max(date_hour) from ({{ sluice.date_spine('hour', \"timestamp '2024-01-01 00:00'\", \"timestamp '2024-01-02 00:00'\") }})",
     [(24, ts("2024-01-01 23:00"))]),
    ("select count(*) from ({{ sluice.date_spine('day', \"cast('2024-01-01' as date)\", \"cast('2024-01-01' as date)\") }})", 0),
    ("select count(*) from ({{ sluice.date_spine('day', \"cast('2024-02-01' as date)\", \"cast('2024-01-01' as date)\") }})", 0),
    ("select count(*) from ({{ sluice.date_spine('day', \"cast('2024-01-01' as date)\", '(select max(d) from (values (date \\'2024-01-11\\')) t(d))') }})", 10),
    # the portable recursive-CTE fallback, run on DuckDB (with DuckDB's datediff/dateadd)
    ("select count(*), max(date_day) from ({{ sluice.default__date_spine('day', \"cast('2024-01-01' as date)\", \"cast('2024-02-01' as date)\") }})",
     [(31, ts("2024-01-31"))]),
    ("select count(*) from ({{ sluice.default__date_spine('month', \"cast('2024-01-01' as date)\", \"cast('2024-01-01' as date)\") }})", 0),
    # sluice.generate_surrogate_key
    ("select {{ sluice.generate_surrogate_key(['a', 'b']) }} from (values ('x', 1)) t(a, b)", md5("x-1")),
    ("select {{ sluice.generate_surrogate_key(['a', 'b']) }} from (values ('x', null)) t(a, b)", md5("x-" + NULL_KEY)),
    ("select {{ sluice.generate_surrogate_key(['a', 'b', 'c']) }} from (values (null, null, true)) t(a, b, c)",
     md5(f"{NULL_KEY}-{NULL_KEY}-true")),
    ("select {{ sluice.generate_surrogate_key(['a']) }} from (values (cast(null as int))) t(a)", md5(NULL_KEY)),
    # generic tests (fixtures below); value = number of failing rows
    ("select count(*) from ({{ dbt.test_not_null('\"memory\".\"main\".\"orders\"', 'customer_id') }})", 1),
    ("select count(*) from ({{ dbt.test_not_null('\"memory\".\"main\".\"orders\"', 'id') }})", 0),
    ("select count(*) from ({{ dbt.test_unique('\"memory\".\"main\".\"orders\"', 'id') }})", 0),
    ("select count(*) from ({{ dbt.test_unique('\"memory\".\"main\".\"orders\"', 'customer_id') }})", 1),
    ("select count(*) from ({{ dbt.test_unique('\"memory\".\"main\".\"orders\"', 'status') }})", 1),
    ("select count(*) from ({{ dbt.test_accepted_values('\"memory\".\"main\".\"orders\"', 'status', ['placed', 'shipped']) }})", 1),
    ("select count(*) from ({{ dbt.test_accepted_values('\"memory\".\"main\".\"orders\"', 'status', ['placed', 'shipped', \"o'k\"]) }})", 0),
    ("select count(*) from ({{ dbt.test_accepted_values('\"memory\".\"main\".\"orders\"', 'id', [1, 2, 3], quote=False) }})", 1),
    ("select count(*) from ({{ dbt.test_relationships('\"memory\".\"main\".\"orders\"', 'customer_id', '\"memory\".\"main\".\"customers\"', 'id') }})", 1),
    ("select count(*) from ({{ dbt.test_relationships('\"memory\".\"main\".\"orders\"', 'id', '\"memory\".\"main\".\"orders\"', 'id') }})", 0),
]

FIXTURES = """
create table orders (id integer, customer_id integer, status varchar);
insert into orders values (1, 10, 'placed'), (2, 10, 'shipped'), (3, null, 'o''k'), (4, 99, 'shipped');
create table customers (id integer);
insert into customers values (10), (20);
"""

# Renders that must raise a compiler error: (target, expression).
ERROR_CHECKS = [
    ("duckdb", "sluice.generate_surrogate_key('a')"),
    ("duckdb", "sluice.generate_surrogate_key([])"),
    ("duckdb", "dbt.test_accepted_values('t', 'c', [])"),
    ("snowflake", "dbt.date(2024, 13, 1)"),
    ("snowflake", "dbt.date('y', 1, 1)"),
]


def compare(got, expected):
    if isinstance(expected, list):
        return got == expected
    if len(got) != 1 or len(got[0]) != 1:
        return False
    value = got[0][0]
    if expected is None:
        return value is None
    if isinstance(expected, float):
        return isinstance(value, float) and abs(value - expected) < 1e-12
    return value == expected and type(value) is type(expected)


def duckdb_week_reference(a, b):
    """dbt-duckdb's week datediff (Sunday boundaries), in Python."""
    sun = lambda x: x - datetime.timedelta(days=(x.weekday() + 1) % 7)
    return (sun(b) - sun(a)).days // 7


def run_duckdb_checks(renderer):
    con = duckdb.connect()
    con.execute(FIXTURES)
    for template, expected in DUCKDB_CHECKS:
        try:
            sql = renderer.env.from_string(template).render()
            got = con.execute(sql).fetchall()
        except Exception as e:  # noqa: BLE001
            fail(f"duckdb: {template}\n    error: {e}")
            continue
        if not compare(got, expected):
            fail(f"duckdb: {template}\n    sql: {sql}\n    got {got!r}, expected {expected!r}")
    # week datediff against dbt-duckdb's semantics over every pair in 4 weeks
    start = datetime.date(2024, 1, 1)
    days = [start + datetime.timedelta(days=i) for i in range(28)]
    sql = renderer.render("dbt.datediff('a', 'b', 'week')")
    got = con.execute(
        f"select a, b, {sql} from range(date '2024-01-01', date '2024-01-29', interval 1 day) x(a), "
        f"range(date '2024-01-01', date '2024-01-29', interval 1 day) y(b)"
    ).fetchall()
    bad = [(a, b, n) for a, b, n in got if n != duckdb_week_reference(a.date(), b.date())]
    if bad or len(got) != len(days) ** 2:
        fail(f"duckdb week datediff differs from dbt-duckdb for {len(bad)} pairs, e.g. {bad[:3]}")
    for target, expr in ERROR_CHECKS:
        try:
            Jinja2Renderer(load_sources(), target).render(expr)
            fail(f"expected a compiler error from {expr}")
        except CompilerError:
            pass
    # var('surrogate_key_treat_nulls_as_empty_strings')
    r2 = Jinja2Renderer(load_sources(), "duckdb", {"surrogate_key_treat_nulls_as_empty_strings": True})
    sql = r2.render("sluice.generate_surrogate_key(['a', 'b'])")
    got = con.execute(f"select {sql} from (values ('x', null)) t(a, b)").fetchall()
    if got[0][0] != md5("x-"):
        fail("surrogate_key_treat_nulls_as_empty_strings not honoured")
    return len(DUCKDB_CHECKS) + 2 + len(ERROR_CHECKS)


# ------------------------------------------------------------------ main --

def norm(s):
    return re.sub(r"\s+", " ", str(s)).strip()


def main(argv):
    show = "--show" in argv
    markdown = "--markdown" in argv
    sources = load_sources()
    static_checks(jinja2.Environment(), sources)

    outputs = {}
    for t in TARGETS:
        r = Jinja2Renderer(sources, t)
        for sig, expr in SAMPLES:
            try:
                outputs[(sig, t)] = norm(r.render(expr))
            except Exception as e:  # noqa: BLE001
                fail(f"jinja2 [{t}] {expr}: {e!r}")
                outputs[(sig, t)] = "<error>"
    # the portable fallbacks (default__*) render too
    rdefault = Jinja2Renderer(sources, "postgres")
    for sig, expr in SAMPLES:
        try:
            rdefault.render(expr)
        except Exception as e:  # noqa: BLE001
            fail(f"jinja2 [default] {expr}: {e!r}")

    n_mj = 0
    if minijinja is None:
        print("note: minijinja not installed, skipping the MiniJinja cross-check")
    else:
        for t in TARGETS + ("postgres",):
            mr = MiniJinjaRenderer(sources, t)
            jr = Jinja2Renderer(sources, t)
            for expr in [e for _, e in SAMPLES] + EXTRA_EXPRS:
                try:
                    got = norm(mr.render(expr))
                except Exception as e:  # noqa: BLE001
                    fail(f"minijinja [{t}] {expr}: {e}")
                    continue
                want = norm(jr.render(expr))
                n_mj += 1
                if got != want:
                    fail(f"minijinja [{t}] {expr}:\n    minijinja: {got}\n    jinja2:    {want}")

    n_glot = 0
    if sqlglot is None:
        print("note: sqlglot not installed, skipping the Snowflake/BigQuery parse check")
    else:
        for (sig, t), sql in outputs.items():
            if t == "duckdb" or sig.startswith("dbt.type_"):
                continue
            if sig.startswith("dbt.escape_single_quotes"):
                sql = f"'{sql}'"
            stmt = sql if sql.lstrip().lower().startswith(("select", "with")) else f"select {sql} from t"
            try:
                sqlglot.parse_one(stmt, read=t)
                n_glot += 1
            except Exception as e:  # noqa: BLE001
                fail(f"sqlglot could not parse [{t}] {sig}: {stmt}\n    {str(e).splitlines()[0]}")

    n_duck = run_duckdb_checks(Jinja2Renderer(sources, "duckdb"))

    if show or markdown:
        for sig, _ in SAMPLES:
            if markdown:
                cells = " | ".join("`" + outputs[(sig, t)].replace("|", "\\|") + "`" for t in TARGETS)
                print(f"| `{sig}` | {cells} |")
            else:
                print(f"\n== {sig}")
                for t in TARGETS:
                    print(f"  {t:9}: {outputs[(sig, t)]}")

    print(f"\nsamples rendered: {len(SAMPLES)} x {len(TARGETS)} targets; "
          f"minijinja cross-checks: {n_mj}; sqlglot parses: {n_glot}; duckdb checks: {n_duck}")
    if FAILURES:
        print(f"{len(FAILURES)} failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
