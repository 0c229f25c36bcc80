#!/usr/bin/env python3
"""Developer check for the staging models (models/staging/*.sql + _staging.yml).

Not part of CI, and independent of sluice: it renders the models the way a
dbt-style compiler does and runs them in DuckDB, so the SQL and the declared
tests can be checked while the compiler is being built.

  1. loads every seed of seeds/_seeds.yml into DuckDB with its declared
     column_types (schema main_raw, as the project's `+schema: raw` does);
  2. renders each staging model with Jinja2 for the duckdb target: ref() gives
     main_raw.<seed> or main.<model>, the dbt.* cross-database macros are a
     Python mirror of sluice's duckdb variants (or, with --sluice-builtins, the
     real src/render/builtins/dbt.sql), and project macros (macros/*.sql, e.g.
     to_utc) are loaded with adapter.dispatch picking duckdb__ / default__;
  3. creates each model as a view in schema main (refs first);
  4. runs every column-level data test declared in models/staging/*.yml
     (unique / not_null / accepted_values with quote / relationships), with the
     same SQL as sluice's builtin tests, and reports the failing-row count;
  5. lints the model sources for non-portable SQL (`::` casts, iff, nvl,
     date_diff, literal varchar/double/string type names, try_cast ...);
  6. with --dialects, also renders the models for duckdb, snowflake and
     bigquery with sluice's builtin macros and parses them with sqloxide
     (sqlparser-rs) and sqlglot, where installed: a syntax smoke test only;
     sluice's own check of the compiled SQL is the real one.

The session TimeZone is set to a non-UTC zone (--timezone) to show that the
UTC conversions do not depend on it.

Setup and run (from the repo root):
    python3 -m venv /tmp/stgvenv && /tmp/stgvenv/bin/pip install duckdb jinja2 pyyaml
    /tmp/stgvenv/bin/pip install sqloxide sqlglot    # optional, for --dialects
    /tmp/stgvenv/bin/python scripts/dev/check_staging.py
    /tmp/stgvenv/bin/python scripts/dev/check_staging.py --seeds tests/fixtures/gtm_tiny/seeds
    /tmp/stgvenv/bin/python scripts/dev/check_staging.py --show stg_users   # print compiled SQL
    /tmp/stgvenv/bin/python scripts/dev/check_staging.py --sluice-builtins --dialects

Exit status 0 when every model builds and every test passes, 1 otherwise.
"""

import argparse
import glob
import os
import re
import sys
from pathlib import Path

import duckdb
import jinja2
import yaml

ROOT = Path(__file__).resolve().parents[2]
SEED_SCHEMA = "main_raw"
MODEL_SCHEMA = "main"
MODEL_DIR = ROOT / "models" / "staging"
BUILTINS = ROOT / "src" / "render" / "builtins" / "dbt.sql"


# ------------------------------------------------------------------ macros --

def _duckdb_datediff(first, second, part):
    part = part.lower()
    if part == "week":
        return (f"(date_diff('day', date_trunc('week', cast({first} as date) + 1), "
                f"date_trunc('week', cast({second} as date) + 1)) // 7)")
    return f"date_diff('{part}', cast({first} as timestamp), cast({second} as timestamp))"


def _duckdb_dateadd(part, n, expr):
    part = part.lower()
    if part == "quarter":
        return f"({expr} + cast({n} as bigint) * interval 3 month)"
    if part == "week":
        return f"({expr} + cast({n} as bigint) * interval 7 day)"
    return f"({expr} + cast({n} as bigint) * interval 1 {part})"


# Mirror of the duckdb (or default) variants in src/render/builtins/dbt.sql.
DUCKDB_DBT = dict(
    type_string=lambda: "varchar",
    type_int=lambda: "integer",
    type_bigint=lambda: "bigint",
    type_float=lambda: "double",
    type_numeric=lambda: "numeric(28,6)",
    type_timestamp=lambda: "timestamp",
    type_boolean=lambda: "boolean",
    cast=lambda f, t: f"cast({f} as {t})",
    safe_cast=lambda f, t: f"try_cast({f} as {t})",
    date_trunc=lambda p, d: f"date_trunc('{p}', {d})",
    datediff=_duckdb_datediff,
    dateadd=_duckdb_dateadd,
    current_timestamp=lambda: "now()",
)


class Namespace:
    def __init__(self, funcs):
        self.__dict__.update(funcs)


def make_env(target, use_sluice_builtins, refs):
    """A Jinja2 environment rendering models for `target` ('duckdb', 'snowflake', 'bigquery')."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.do"])
    # every macro body here is `{{ return(x) }}` (plus trimmed whitespace), so
    # returning the value as the macro's output is the same as dbt's return()
    env.globals["return"] = lambda value: value
    modules = []

    class Adapter:
        def dispatch(self, name, macro_namespace=None):
            for prefix in (f"{target}__", "default__"):
                for mod in modules:
                    fn = getattr(mod, prefix + name, None)
                    if fn is not None:
                        return fn
            raise jinja2.UndefinedError(f"no {target}__{name} or default__{name}")

    env.globals["adapter"] = Adapter()
    env.globals["target"] = Namespace(dict(type=target, name="dev", schema=MODEL_SCHEMA))
    env.globals["var"] = lambda name, default=None: {"start_date": "2023-01-01"}.get(name, default)
    env.globals["exceptions"] = Namespace(dict(raise_compiler_error=lambda msg: (_ for _ in ()).throw(RuntimeError(msg))))

    if use_sluice_builtins:
        src = re.sub(r"\{%(-?)\s*test\s+(\w+)\s*\(", r"{%\1 macro test_\2(", BUILTINS.read_text())
        dbt_mod = env.from_string(src).make_module()
        modules.append(dbt_mod)
        env.globals["dbt"] = dbt_mod
    else:
        if target != "duckdb":
            raise SystemExit("rendering for snowflake / bigquery needs --sluice-builtins")
        env.globals["dbt"] = Namespace(DUCKDB_DBT)

    project_src = "\n".join(Path(p).read_text() for p in sorted(glob.glob(str(ROOT / "macros" / "*.sql"))))
    project_mod = env.from_string(project_src).make_module()
    modules.insert(0, project_mod)
    for name in dir(project_mod):
        if not name.startswith("_") and not re.match(r"\w+__", name):
            env.globals[name] = getattr(project_mod, name)

    def ref(name):
        refs.append(name)
        if name.startswith("raw_"):
            return f"{SEED_SCHEMA}.{name}"
        return f"{MODEL_SCHEMA}.{name}"

    env.globals["ref"] = ref
    return env


def render_models(target="duckdb", use_sluice_builtins=False):
    """{model name: (compiled sql, [refs])} for every models/staging/*.sql."""
    out = {}
    for path in sorted(MODEL_DIR.glob("*.sql")):
        refs = []
        env = make_env(target, use_sluice_builtins, refs)
        sql = env.from_string(path.read_text()).render()
        out[path.stem] = (sql, refs)
    return out


# ------------------------------------------------------------------- seeds --

def load_seeds(con, seed_dir):
    spec = yaml.safe_load((seed_dir / "_seeds.yml").read_text())
    con.execute(f"create schema if not exists {SEED_SCHEMA}")
    counts = {}
    for seed in spec["seeds"]:
        name = seed["name"]
        types = seed.get("config", {}).get("column_types", {})
        cols = ", ".join(f"'{c}': '{t}'" for c, t in types.items())
        path = seed_dir / f"{name}.csv"
        con.execute(
            f"create or replace table {SEED_SCHEMA}.{name} as select * from read_csv("
            f"'{path}', header = true, auto_detect = false, columns = {{{cols}}})")
        counts[name] = con.execute(f"select count(*) from {SEED_SCHEMA}.{name}").fetchone()[0]
    return counts


# ------------------------------------------------------------------- tests --

def declared_tests():
    """(model, column, test name, args) for every column-level data test."""
    for yml in sorted(MODEL_DIR.glob("*.yml")):
        doc = yaml.safe_load(yml.read_text()) or {}
        for model in doc.get("models", []):
            for col in model.get("columns", []):
                for test in col.get("data_tests", col.get("tests", [])) or []:
                    if isinstance(test, str):
                        yield model["name"], col["name"], test, {}
                    else:
                        (kind, args), = test.items()
                        args = dict(args or {})
                        args.update(args.pop("arguments", {}) or {})
                        args.pop("config", None)
                        yield model["name"], col["name"], kind, args


def sql_literal(value, quote):
    if not quote:
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def test_sql(model, column, kind, args):
    """The failing-rows query, as sluice's builtin tests (src/render/builtins/tests.sql) write it."""
    rel = f"{MODEL_SCHEMA}.{model}"
    if kind == "not_null":
        return f"select {column} from {rel} where {column} is null"
    if kind == "unique":
        return (f"select {column} as unique_field, count(*) as n_records from {rel} "
                f"where {column} is not null group by {column} having count(*) > 1")
    if kind == "accepted_values":
        values = args["values"]
        if isinstance(values, str) or not values:
            raise ValueError("`values` must be a non-empty list")
        quote = args.get("quote", True)
        listed = ", ".join(sql_literal(v, quote) for v in values)
        return (f"with all_values as (select {column} as value_field, count(*) as n_records "
                f"from {rel} group by {column}) "
                f"select * from all_values where value_field not in ({listed})")
    if kind == "relationships":
        m = re.fullmatch(r"\s*ref\(\s*['\"](\w+)['\"]\s*\)\s*", args["to"])
        if not m:
            raise ValueError(f"relationships `to` must be ref('...'): {args['to']!r}")
        to = f"{MODEL_SCHEMA}.{m.group(1)}" if not m.group(1).startswith("raw_") else f"{SEED_SCHEMA}.{m.group(1)}"
        return (f"with child as (select {column} as from_field from {rel} where {column} is not null), "
                f"parent as (select {args['field']} as to_field from {to}) "
                f"select from_field from child left join parent on child.from_field = parent.to_field "
                f"where parent.to_field is null")
    raise ValueError(f"unknown test {kind!r}")


# -------------------------------------------------------------------- lint --

# Written literally in a model source, these tie the SQL to one warehouse.
LINT = [
    (r"::", "`::` cast (use cast(... as ...) / the dbt.type_* macros)"),
    (r"\biff\s*\(", "iff() (use case when)"),
    (r"\bnvl2?\s*\(", "nvl() (use coalesce)"),
    (r"\bifnull\s*\(", "ifnull() (use coalesce)"),
    (r"\bdate_diff\s*\(|\bdatediff\s*\(", "date_diff/datediff (use dbt.datediff)"),
    (r"\bdate_add\s*\(|\bdateadd\s*\(", "date_add/dateadd (use dbt.dateadd)"),
    (r"\btry_cast\s*\(|\bsafe_cast\s*\(", "try_cast/safe_cast (use dbt.safe_cast)"),
    (r"\b(varchar|double|string|int64|float64|text|timestamp_ntz|timestamptz)\b", "literal type name (use dbt.type_*)"),
    (r"\bqualify\b", "QUALIFY (not on every target)"),
    (r"\bstrftime\s*\(|\bstrptime\s*\(|\bepoch_\w*\s*\(|\bmake_timestamp\s*\(", "DuckDB-only function"),
    (r'"', "double-quoted identifier (quote nothing unless needed)"),
]


def lint_sources():
    problems = []
    for path in sorted(MODEL_DIR.glob("*.sql")):
        text = path.read_text()
        # drop Jinja expressions/statements/comments and SQL comments and string literals
        code = re.sub(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", " ", text, flags=re.S)
        code = re.sub(r"--[^\n]*", " ", code)
        code = re.sub(r"'(?:[^']|'')*'", "''", code)
        for pattern, why in LINT:
            for m in re.finditer(pattern, code, flags=re.I):
                line = code.count("\n", 0, m.start()) + 1
                problems.append(f"{path.name}:{line}: {why}: {m.group(0)!r}")
    return problems


# -------------------------------------------------------------------- main --

def topo_order(models):
    order, seen = [], set()

    def visit(name, stack=()):
        if name in seen:
            return
        if name in stack:
            raise SystemExit(f"ref cycle: {' -> '.join(stack + (name,))}")
        for dep in models[name][1]:
            if dep in models:
                visit(dep, stack + (name,))
        seen.add(name)
        order.append(name)

    for name in models:
        visit(name)
    return order


def dialect_smoke(failures):
    """Render for every target with sluice's builtins and parse the SQL: with sqloxide
    (Python bindings of sqlparser-rs, the parser sluice uses, though maybe not the same
    version) and with sqlglot, whichever are installed."""
    parsers = []
    try:
        import sqloxide
        parsers.append(("sqloxide", lambda sql, t: sqloxide.parse_sql(sql, dialect=t)))
    except ImportError:
        print("  (sqloxide not installed: skipping the sqlparser-rs parse)")
    try:
        import sqlglot
        parsers.append(("sqlglot", lambda sql, t: sqlglot.parse_one(sql, read=t)))
    except ImportError:
        print("  (sqlglot not installed: skipping the sqlglot parse)")
    for target in ("duckdb", "snowflake", "bigquery"):
        try:
            models = render_models(target, use_sluice_builtins=True)
        except Exception as e:  # noqa: BLE001 - report and go on
            failures.append(f"render for {target}: {e}")
            print(f"  FAIL render for {target}: {e}")
            continue
        for parser, parse in parsers:
            bad = 0
            for name, (sql, _) in models.items():
                try:
                    parse(sql, target)
                except Exception as e:  # noqa: BLE001
                    bad += 1
                    failures.append(f"{parser} {target} parse {name}")
                    print(f"  FAIL {parser} {target:9s} {name}: {str(e).splitlines()[0]}")
            print(f"  {parser:8s} parsed {len(models) - bad}/{len(models)} models for {target}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default=str(ROOT / "seeds"), help="seed directory (with _seeds.yml)")
    ap.add_argument("--db", default=":memory:", help="DuckDB database file (default: in memory)")
    ap.add_argument("--timezone", default="America/Los_Angeles", help="session TimeZone ('' to leave it)")
    ap.add_argument("--sluice-builtins", action="store_true",
                    help="render dbt.* from src/render/builtins/dbt.sql instead of the Python mirror")
    ap.add_argument("--dialects", action="store_true",
                    help="also render for every target with sluice builtins and parse (sqloxide, sqlglot)")
    ap.add_argument("--show", nargs="*", metavar="MODEL", help="print the compiled DuckDB SQL (of MODEL, or all)")
    args = ap.parse_args()

    failures = []

    print("lint:")
    problems = lint_sources()
    for p in problems:
        print("  FAIL", p)
    failures += problems
    if not problems:
        print("  ok")

    models = render_models("duckdb", args.sluice_builtins)
    if args.show is not None:
        for name in args.show or models:
            print(f"-- {name}\n{models[name][0].strip()}\n")

    con = duckdb.connect(args.db)
    if args.timezone:
        try:
            con.execute(f"set TimeZone = '{args.timezone}'")
        except duckdb.Error as e:
            print(f"  (could not set TimeZone: {e})")

    seed_dir = Path(args.seeds).resolve()
    print(f"seeds ({seed_dir}):")
    counts = load_seeds(con, seed_dir)
    print(f"  loaded {len(counts)} seeds into {SEED_SCHEMA}, {sum(counts.values())} rows")

    print("models:")
    con.execute(f"create schema if not exists {MODEL_SCHEMA}")
    for name in topo_order(models):
        sql = models[name][0]
        try:
            con.execute(f"create or replace view {MODEL_SCHEMA}.{name} as {sql}")
            n = con.execute(f"select count(*) from {MODEL_SCHEMA}.{name}").fetchone()[0]
            print(f"  built  {name:32s} {n:>8d} rows")
        except duckdb.Error as e:
            failures.append(f"build {name}")
            print(f"  FAIL   {name}: {e}")

    print("tests:")
    n_tests = 0
    for model, column, kind, targs in declared_tests():
        n_tests += 1
        label = f"{kind:16s} {model}.{column}"
        try:
            bad = con.execute(f"select count(*) from ({test_sql(model, column, kind, targs)}) t").fetchone()[0]
        except (duckdb.Error, ValueError, KeyError) as e:
            failures.append(label)
            print(f"  ERROR  {label}: {e}")
            continue
        if bad:
            failures.append(label)
            print(f"  FAIL   {label} ({bad} failing rows)")
        else:
            print(f"  pass   {label}")

    if args.dialects:
        print("dialects:")
        dialect_smoke(failures)

    print(f"\n{len(models)} models, {n_tests} tests, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
