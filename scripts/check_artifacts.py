#!/usr/bin/env python3
"""Check that sluice's dbt artifacts load with the PyPI package `dbt-artifacts-parser`.

Usage:
    python scripts/check_artifacts.py TARGET_DIR
    python scripts/check_artifacts.py TARGET_DIR --manifest other.json --run-results rr.json
    python scripts/check_artifacts.py TARGET_DIR --cross-check

Parses TARGET_DIR/manifest.json with `parse_manifest` and TARGET_DIR/run_results.json with
`parse_run_results`, and prints one line per file, e.g.

    manifest.json: OK manifest v12 (nodes=4 sources=1 macros=1)
    run_results.json: OK run-results v6 (results=8)

On any failure it prints the pydantic error (plus, for a bad node, the error against the one
node model that matches its resource_type, which is far shorter than the union error) to
stderr and exits 1. Exit 2 means dbt-artifacts-parser is not installed.

--cross-check additionally fails when a run_results unique_id is in none of the manifest's
nodes, sources and unit_tests.

Setup:  python3 -m venv /tmp/artvenv && /tmp/artvenv/bin/pip install dbt-artifacts-parser
"""

import argparse
import json
import os
import re
import sys
import typing

try:
    from dbt_artifacts_parser.parser import parse_manifest, parse_run_results
except ImportError:  # pragma: no cover
    print(
        "dbt-artifacts-parser is not installed: pip install dbt-artifacts-parser",
        file=sys.stderr,
    )
    sys.exit(2)


def _schema_label(doc: dict) -> str:
    url = str((doc.get("metadata") or {}).get("dbt_schema_version", "?"))
    m = re.search(r"/dbt/([a-z-]+)/(v\d+)\.json$", url)
    return f"{m.group(1)} {m.group(2)}" if m else url


def _node_classes(parsed_cls) -> list:
    """Member classes of the manifest's `nodes` union (Seed, Model, tests, ...)."""
    try:
        dict_type = parsed_cls.model_fields["nodes"].annotation
        value_type = typing.get_args(dict_type)[1]
        return [c for c in typing.get_args(value_type) if hasattr(c, "model_fields")]
    except Exception:
        return []


def _focused_node_errors(doc: dict) -> list:
    """Validate each node against the single model matching its resource_type.

    pydantic reports a failing union member for *every* node type, which buries the real
    problem; this narrows it down to the model dbt would use for that node.
    """
    try:
        from dbt_artifacts_parser.parsers.manifest.manifest_v12 import ManifestV12
    except Exception:
        return []
    if _schema_label(doc) != "manifest v12":
        return []
    by_type = {}
    for cls in _node_classes(ManifestV12):
        field = cls.model_fields.get("resource_type")
        if field is None:
            continue
        for literal in typing.get_args(field.annotation):
            by_type.setdefault(literal, []).append(cls)
    out = []
    for uid, node in (doc.get("nodes") or {}).items():
        if not isinstance(node, dict):
            out.append(f"{uid}: node is not an object")
            continue
        candidates = by_type.get(node.get("resource_type"), [])
        if not candidates:
            out.append(
                f"{uid}: resource_type {node.get('resource_type')!r} is not one of "
                f"{sorted(by_type)}"
            )
            continue
        if len(candidates) > 1:  # "test": generic (has test_metadata) vs singular
            want_generic = "test_metadata" in node
            picked = [c for c in candidates if ("test_metadata" in c.model_fields) == want_generic]
            candidates = picked or candidates
        try:
            candidates[0].model_validate(node)
        except Exception as exc:  # pydantic.ValidationError
            out.append(f"{uid} (as {node.get('resource_type')}):\n{exc}")
    return out


def check_manifest(path: str):
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    try:
        parsed = parse_manifest(doc)
    except Exception as exc:
        detail = _focused_node_errors(doc)
        if detail:
            exc_text = "\n\n".join(detail) + "\n\n--- full error ---\n" + str(exc)
        else:
            exc_text = str(exc)
        return None, f"{type(exc).__name__}: {exc_text}"
    summary = (
        f"OK {_schema_label(doc)} (nodes={len(parsed.nodes)} "
        f"sources={len(parsed.sources)} macros={len(parsed.macros)})"
    )
    return parsed, summary


def check_run_results(path: str):
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    try:
        parsed = parse_run_results(doc)
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return parsed, f"OK {_schema_label(doc)} (results={len(parsed.results)})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target_dir", help="directory holding manifest.json and run_results.json")
    ap.add_argument("--manifest", help="manifest file name/path (default: manifest.json)")
    ap.add_argument("--run-results", help="run results file name/path (default: run_results.json)")
    ap.add_argument(
        "--cross-check",
        action="store_true",
        help="fail if a run_results unique_id is not a manifest node or source",
    )
    args = ap.parse_args(argv)

    manifest_path = os.path.join(args.target_dir, args.manifest or "manifest.json")
    rr_path = os.path.join(args.target_dir, args.run_results or "run_results.json")

    failed = False
    parsed = {}
    for label, path, fn in (
        ("manifest", manifest_path, check_manifest),
        ("run_results", rr_path, check_run_results),
    ):
        name = os.path.basename(path)
        try:
            obj, msg = fn(path)
        except FileNotFoundError:
            obj, msg = None, f"missing file {path}"
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            obj, msg = None, f"not valid JSON: {exc}"
        if obj is None:
            failed = True
            print(f"{name}: FAIL", flush=True)
            print(f"{name}: {msg}", file=sys.stderr, flush=True)
        else:
            parsed[label] = obj
            print(f"{name}: {msg}", flush=True)

    if args.cross_check and len(parsed) == 2:
        manifest = parsed["manifest"]
        known = set(manifest.nodes) | set(manifest.sources) | set(manifest.unit_tests or {})
        missing = [r.unique_id for r in parsed["run_results"].results if r.unique_id not in known]
        if missing:
            failed = True
            print(
                "cross-check: FAIL run_results unique_ids not in manifest: " + ", ".join(missing),
                file=sys.stderr,
            )
        else:
            print("cross-check: OK")

    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
