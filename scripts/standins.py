#!/usr/bin/env python3
"""Local warehouse stand-ins for the adapter tests: fakesnow (Snowflake) and
bqemulator (BigQuery REST). Standard library only; runs with the system python3.

    python3 scripts/standins.py install [--only NAME]
        Create .venv-fakesnow and .venv-bqemulator in the repository (two venvs:
        they need different duckdb versions) with the pinned packages, and
        pre-install DuckDB's spatial + avro extensions for bqemulator from their
        wheels, so that bqemulator starts without network access. Quick no-op
        when the marker file in a venv records the same pin set.

    python3 scripts/standins.py start --env-file PATH [--log-dir DIR] [--require]
                                      [--timeout SECONDS] [--only NAME]
        Start the stand-ins on free 127.0.0.1 ports, each in its own process
        group, wait until they answer HTTP, and write a shell-sourceable env file:
            export SLUICE_FAKESNOW_URL=http://127.0.0.1:PORT
            export SLUICE_FAKESNOW_PID=PID
            export SLUICE_BQEMULATOR_URL=http://127.0.0.1:PORT
            export SLUICE_BQEMULATOR_PROJECT=sluice-test
            export SLUICE_BQEMULATOR_PID=PID
        A stand-in that fails to start is reported on stderr (with the tail of its
        log) and its variables are left out, so tests can skip with a message.
        Exit status is non-zero then only with --require or SLUICE_REQUIRE_STANDINS=1.
        An env file left over from an earlier start is stopped first.

    python3 scripts/standins.py stop --env-file PATH
        SIGTERM the recorded process groups, SIGKILL whatever is left after a few
        seconds, delete the env file. Never fails when they are already gone.

    python3 scripts/standins.py status --env-file PATH
        Print each recorded stand-in and whether its process group is alive.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "sluice-test"
MARKER = ".sluice-standins-pins"

# Exact pins (resolved and tested offline on 2026-11-25). fakesnow 0.12.1 breaks
# with snowflake-connector-python 5.x (snowflake.connector.converter was removed).
# bqemulator needs DuckDB's spatial extension at startup; the newest
# duckdb-extension-spatial wheel is 1.5.5, so duckdb is pinned to match; numpy is
# an undeclared runtime dependency of bqemulator. sqlglot and duckdb are pinned
# because they decide which SQL the stand-ins accept.
STANDINS = {
    "fakesnow": {
        "venv": ".venv-fakesnow",
        "pins": [
            "fakesnow[server]==0.12.1",
            "snowflake-connector-python==4.8.1",
            "duckdb==2.0.1",
            "sqlglot==30.22.0",
        ],
        "extensions": [],
    },
    "bqemulator": {
        "venv": ".venv-bqemulator",
        "pins": [
            "bqemulator==1.4.0",
            "duckdb==1.5.5",
            "duckdb-extension-spatial==1.5.5",
            "duckdb-extension-avro==1.5.5",
            "numpy==2.4.6",
            "sqlglot==30.11.0",
        ],
        # module name of the wheel, DuckDB extension name
        "extensions": [("duckdb_extension_spatial", "spatial"), ("duckdb_extension_avro", "avro")],
    },
}

# Installs each extension wheel's file with INSTALL '<file>' into DuckDB's default
# extension directory (~/.duckdb/extensions/v<duckdb>/<platform>/), where the
# plain `INSTALL spatial` / `INSTALL avro` run by bqemulator at startup finds it
# and does not download anything. Then checks that both load.
EXT_INSTALL = r"""
import glob, importlib, os, sys, duckdb
con = duckdb.connect()
for mod_name, ext in [tuple(a.split(":")) for a in sys.argv[1:]]:
    mod = importlib.import_module(mod_name)
    files = glob.glob(os.path.join(os.path.dirname(mod.__file__), "extensions", "*", "*.duckdb_extension"))
    files = [f for f in files if os.path.basename(f).startswith(ext + ".")] or files
    if len(files) != 1:
        sys.exit(f"{mod_name}: expected one .duckdb_extension file, found {files}")
    con.execute(f"FORCE INSTALL '{files[0]}'")
    con.execute(f"LOAD {ext}")
    print(f"standins:   duckdb {duckdb.__version__}: {ext} installed from {files[0]}", file=sys.stderr)
"""

# Exit 0 iff every named extension is installed where a fresh connection finds it.
EXT_CHECK = r"""
import sys, duckdb
want = set(sys.argv[1:])
rows = duckdb.connect().execute("select extension_name, installed from duckdb_extensions()").fetchall()
have = {name for name, installed in rows if installed}
sys.exit(0 if want <= have else 1)
"""


def log(msg: str) -> None:
    print(f"standins: {msg}", file=sys.stderr, flush=True)


def venv_dir(name: str) -> Path:
    return ROOT / STANDINS[name]["venv"]


def venv_bin(name: str, exe: str) -> Path:
    return venv_dir(name) / "bin" / exe


def marker_text(name: str) -> str:
    spec = STANDINS[name]
    lines = [f"python {sys.version_info.major}.{sys.version_info.minor}"] + spec["pins"]
    lines += [f"extension {ext}" for _, ext in spec["extensions"]]
    return "\n".join(lines) + "\n"


def extensions_ok(name: str) -> bool:
    exts = [ext for _, ext in STANDINS[name]["extensions"]]
    if not exts:
        return True
    r = subprocess.run([str(venv_bin(name, "python")), "-c", EXT_CHECK, *exts],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


def install_one(name: str, force: bool) -> None:
    spec = STANDINS[name]
    vdir = venv_dir(name)
    marker = vdir / MARKER
    want = marker_text(name)
    exe = venv_bin(name, name)
    if not force and marker.is_file() and marker.read_text() == want and exe.exists():
        if extensions_ok(name):
            log(f"{name}: up to date ({spec['venv']})")
            return
        log(f"{name}: packages up to date, DuckDB extensions missing; installing them")
        install_extensions(name)
        return
    t0 = time.monotonic()
    if vdir.exists():
        log(f"{name}: pins changed or install incomplete; recreating {spec['venv']}")
        shutil.rmtree(vdir)
    log(f"{name}: creating {spec['venv']} and installing {' '.join(spec['pins'])}")
    venv.EnvBuilder(with_pip=True, clear=True).create(vdir)
    subprocess.run([str(venv_bin(name, "python")), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", *spec["pins"]], check=True)
    install_extensions(name)
    marker.write_text(want)
    log(f"{name}: installed in {time.monotonic() - t0:.1f} s")


def install_extensions(name: str) -> None:
    exts = STANDINS[name]["extensions"]
    if not exts:
        return
    subprocess.run([str(venv_bin(name, "python")), "-c", EXT_INSTALL,
                    *[f"{mod}:{ext}" for mod, ext in exts]], check=True)
    if not extensions_ok(name):
        raise SystemExit(f"standins: {name}: DuckDB extensions still not installed after INSTALL")


# -- processes ----------------------------------------------------------------

def free_ports(n: int) -> list[int]:
    """n distinct free ports on 127.0.0.1 (all sockets held until all are picked)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_answers(url: str, method: str) -> bool:
    """True once anything answers HTTP at url (any status code)."""
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def group_alive(pgid: int) -> bool:
    """Is any non-zombie process left in process group pgid?"""
    proc = Path("/proc")
    if proc.is_dir():
        for stat in proc.glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            # pid (comm) state ppid pgrp ...; comm may contain spaces/parens
            fields = text[text.rfind(")") + 2:].split()
            if len(fields) >= 3 and fields[2] == str(pgid) and fields[0] != "Z":
                return True
        return False
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def kill_group(pgid: int, grace: float = 5.0) -> None:
    if not group_alive(pgid):
        return
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and group_alive(pgid):
        time.sleep(0.1)


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(log is empty)"


def read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    if not path.is_file():
        return env
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, sep, value = line.partition("=")
        if sep:
            parts = shlex.split(value)
            env[key.strip()] = parts[0] if parts else ""
    return env


def stop_from_env(path: Path) -> None:
    env = read_env_file(path)
    for name in STANDINS:
        pid = env.get(f"SLUICE_{name.upper()}_PID")
        if not pid or not pid.isdigit():
            continue
        pgid = int(pid)
        if group_alive(pgid):
            kill_group(pgid)
            log(f"{name}: stopped (process group {pgid})")
        else:
            log(f"{name}: already gone (process group {pgid})")
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def wait_ready(procs: dict, plans: dict, failed: dict, deadline: float, timeout: float) -> dict[str, float]:
    """Poll until every started process answers HTTP, exits, or the deadline passes.
    Returns {name: seconds to ready}; records failures in failed."""
    t0 = time.monotonic()
    ready: dict[str, float] = {}
    while len(ready) + len([n for n in procs if n in failed]) < len(procs):
        for name, proc in procs.items():
            if name in ready or name in failed:
                continue
            if proc.poll() is not None:
                failed[name] = f"exited with status {proc.returncode} before answering HTTP"
                continue
            path, method = plans[name]["probe"]
            if http_answers(plans[name]["url"] + path, method):
                ready[name] = time.monotonic() - t0
        if time.monotonic() > deadline:
            for name in procs:
                if name not in ready and name not in failed:
                    failed[name] = f"no HTTP answer within {timeout:.0f} s"
            break
        time.sleep(0.1)
    return ready


def start(args: argparse.Namespace) -> int:
    env_file = Path(args.env_file).resolve()
    log_dir = Path(args.log_dir).resolve() if args.log_dir else ROOT / "target" / "standins"
    log_dir.mkdir(parents=True, exist_ok=True)
    if env_file.exists():
        stop_from_env(env_file)
    names = [args.only] if args.only else list(STANDINS)
    ports = free_ports(3)
    plans = {
        "fakesnow": {
            "cmd": [str(venv_bin("fakesnow", "fakesnow")), "-s", "--host", "127.0.0.1", "-p", str(ports[0])],
            "url": f"http://127.0.0.1:{ports[0]}",
            "probe": ("/session", "POST"),  # 401 when up
        },
        "bqemulator": {
            "cmd": [str(venv_bin("bqemulator", "bqemulator")), "start", "--ephemeral",
                    "--rest-host", "127.0.0.1", "--rest-port", str(ports[1]),
                    "--grpc-host", "127.0.0.1", "--grpc-port", str(ports[2]),
                    "--project", PROJECT],
            "url": f"http://127.0.0.1:{ports[1]}",
            "probe": ("/", "GET"),  # 404 when up
        },
    }
    t0 = time.monotonic()
    procs: dict[str, subprocess.Popen] = {}
    failed: dict[str, str] = {}
    for name in names:
        plan = plans[name]
        logfile = log_dir / f"{name}.log"
        if not Path(plan["cmd"][0]).exists():
            failed[name] = f"{plan['cmd'][0]} not found (run: python3 scripts/standins.py install)"
            continue
        with open(logfile, "wb") as out:
            procs[name] = subprocess.Popen(plan["cmd"], stdin=subprocess.DEVNULL, stdout=out,
                                           stderr=subprocess.STDOUT, start_new_session=True,
                                           cwd=str(log_dir))
    try:
        ready = wait_ready(procs, plans, failed, t0 + args.timeout, args.timeout)
    except BaseException:  # eg Ctrl-C: don't leave unrecorded servers behind
        for proc in procs.values():
            kill_group(proc.pid, grace=2)
        raise

    lines = [f"# written by scripts/standins.py start; stop with: python3 scripts/standins.py stop --env-file {shlex.quote(str(env_file))}",
             f"export SLUICE_STANDINS_LOG_DIR={shlex.quote(str(log_dir))}"]
    for name in names:
        upper = name.upper()
        if name in ready:
            lines.append(f"export SLUICE_{upper}_URL={plans[name]['url']}")
            if name == "bqemulator":
                lines.append(f"export SLUICE_BQEMULATOR_PROJECT={PROJECT}")
            lines.append(f"export SLUICE_{upper}_PID={procs[name].pid}")
            log(f"{name}: ready at {plans[name]['url']} after {ready[name]:.1f} s "
                f"(pid {procs[name].pid}, log {log_dir / (name + '.log')})")
        else:
            if name in procs:
                kill_group(procs[name].pid, grace=2)
            log(f"{name}: FAILED to start: {failed[name]}")
            logfile = log_dir / f"{name}.log"
            if name in procs:
                print(f"---- tail of {logfile} ----\n{log_tail(logfile)}\n----", file=sys.stderr)
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.write_text("\n".join(lines) + "\n")
    require = args.require or os.environ.get("SLUICE_REQUIRE_STANDINS") == "1"
    if failed and require:
        log("a stand-in failed and --require / SLUICE_REQUIRE_STANDINS=1 is set")
        return 1
    return 0


def status(args: argparse.Namespace) -> int:
    env = read_env_file(Path(args.env_file))
    if not env:
        print("no env file (nothing started)")
        return 0
    for name in STANDINS:
        upper = name.upper()
        pid = env.get(f"SLUICE_{upper}_PID")
        url = env.get(f"SLUICE_{upper}_URL", "-")
        alive = bool(pid and pid.isdigit() and group_alive(int(pid)))
        print(f"{name}: url={url} pid={pid or '-'} {'running' if alive else 'not running'}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("install", help="create/refresh the stand-in venvs")
    p.add_argument("--only", choices=list(STANDINS))
    p.add_argument("--force", action="store_true", help="reinstall even if the pins match")
    p = sub.add_parser("start", help="start the stand-ins and write an env file")
    p.add_argument("--env-file", required=True)
    p.add_argument("--log-dir", help="default: target/standins/")
    p.add_argument("--require", action="store_true",
                   help="exit non-zero if a stand-in fails (also SLUICE_REQUIRE_STANDINS=1)")
    p.add_argument("--timeout", type=float, default=60.0, help="readiness timeout in seconds")
    p.add_argument("--only", choices=list(STANDINS))
    p = sub.add_parser("stop", help="stop the stand-ins recorded in the env file")
    p.add_argument("--env-file", required=True)
    p = sub.add_parser("status", help="show the stand-ins recorded in the env file")
    p.add_argument("--env-file", required=True)
    args = ap.parse_args()
    if args.cmd == "install":
        for name in ([args.only] if args.only else list(STANDINS)):
            install_one(name, args.force)
        return 0
    if args.cmd == "start":
        return start(args)
    if args.cmd == "stop":
        stop_from_env(Path(args.env_file))
        return 0
    return status(args)


if __name__ == "__main__":
    sys.exit(main())
