"""Start-up: `netdsl validate specs/lenet.yaml` next to `python -c pass`, both as fresh processes.

Target (issue 21, item 2): validate under 3x `python -c pass`. The two commands run interleaved, so that
a slow moment of the machine hits both; the figures are medians. Two settings:

- "no bytecode cache": the environment as given. This machine sets PYTHONDONTWRITEBYTECODE, so every run
  compiles netdsl's modules from source (the standard library and site-packages keep their .pyc files).
- "bytecode cached": what an installed netdsl sees (pip writes .pyc files at install). PYTHONPYCACHEPREFIX
  points at a temporary folder, so the working tree is not touched; both commands use it.

Then a median `-X importtime` profile: cumulative milliseconds of the top-level imports of the validate
command (netdsl.ops is the registry of layer kinds).

With --all: every spec in specs/ and specs/zoo (bytecode cached only), each `netdsl validate SPEC` interleaved
with `python -c pass` in the same loop; median and minimum of each, ratio of the medians and of the minimums,
and the ratio of the median CPU times (user + system of the child process), which other processes' load moves
far less than wall time on a shared machine. Targets (issue 28): lenet <= 2x, yolov8.yaml <= 3x, every zoo spec
<= 3x.

With --wheel: netdsl as a user who installed it has it. This project's venv installs netdsl in editable
mode, and setuptools' editable finder (a .pth file) imports pathlib, re, enum, collections... at every
interpreter start, so there `python -c pass` already carries much of validate's start-up. --wheel builds a
throwaway venv (python3 -m venv) in a temporary folder, installs a copy of the checkout into it as a regular,
non-editable package (`pip install --no-deps`, so no editable finder) with PyYAML and numpy at the versions
this interpreter has (from pip's cache when it holds them), compiles the installed package's bytecode, and
times that venv's `netdsl` console script against that venv's `python -c pass`, neither with
PYTHONDONTWRITEBYTECODE nor PYTHONPYCACHEPREFIX: the .pyc files pip and compileall wrote are the cache. With
--all --before OLD, OLD gets a venv of its own. Without --all, the wheel venv is a third setting next to the
two above, and the import profile is taken there.

Run: python benchmarks/startup.py [--runs N] [--spec PATH] [--wheel] [--all [--before OLD_CHECKOUT]]
"""

import argparse
import glob
import importlib.metadata
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WATCHED = ("yaml", "argparse", "dataclasses", "netdsl.cli", "netdsl.diagnostics", "netdsl.yamlnodes",
           "netdsl.params", "netdsl.ops", "netdsl.graph", "netdsl.spec.blocks", "netdsl.spec", "netdsl.shapes",
           "netdsl.render")


def preloaded_note(env: dict, python: str = sys.executable) -> str | None:
    """A warning when this interpreter's `site` imports, before `python -c pass` runs, standard modules that
    `netdsl validate` needs (an editable install's `.pth` finder imports pathlib, re, enum, collections...):
    the baseline then carries them, and the ratio looks better than with a plain install, where they are
    validate's own start-up (in this project's venv: `python -c pass` 26 against 12 ms of CPU, lenet x1.5
    against x3.0)."""
    watched = ("re", "enum", "collections", "functools", "contextlib", "pathlib", "typing")
    code = f"import sys; print(len(sys.modules), *(m for m in {watched!r} if m in sys.modules))"
    count, *found = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env,
                                   check=True).stdout.split()
    if not found:
        return None
    return (f"note: `python -c pass` here starts with {count} modules, {', '.join(found)} among them (a .pth file "
            "in site-packages: an editable install's finder?); netdsl validate needs them too, so the ratios are "
            "lower than with a plain install of netdsl, where they count on validate's side")


def wheel_venv(tree: str, folder: str) -> str:
    """A plain venv in ``folder`` with ``tree``'s netdsl installed from a copy of its sources as a regular
    package (pip builds a wheel and installs it; no editable finder), PyYAML and numpy pinned to this
    interpreter's versions, bytecode compiled. Returns the venv's folder. A copy, so that pip's in-tree
    build writes no build/ or egg-info into the checkout (a stale build/lib would also leak into the wheel)."""
    source = os.path.join(folder, "source")
    os.makedirs(source)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(os.path.join(tree, name), source)
    shutil.copytree(os.path.join(tree, "netdsl"), os.path.join(source, "netdsl"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    venv = os.path.join(folder, "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX",
                                                             "PYTHONPATH", "VIRTUAL_ENV")}
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", venv], check=True, env=env)
    python = os.path.join(venv, "bin", "python")
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in ("PyYAML", "numpy")]
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", source,
                    *pins], check=True, env=env)
    installed = subprocess.run([python, "-c", "import netdsl, os; print(os.path.dirname(netdsl.__file__))"],
                               cwd=folder, capture_output=True, text=True, check=True, env=env).stdout.strip()
    subprocess.run([python, "-m", "compileall", "-q", installed], check=True, env=env)
    return venv


def plain_env() -> dict:
    """The environment for the wheel venv's children: bytecode read from (and written next to) the installed
    files, nothing on PYTHONPATH."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX",
                                                             "PYTHONPATH", "VIRTUAL_ENV")}


def run_once(command: list[str], env: dict, cwd: str = ROOT) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=cwd, env=env)
    return time.perf_counter() - start


def run_timed(command: list[str], env: dict, cwd: str) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = run_once(command, env, cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def interleaved(commands: list[list[str]], env: dict, runs: int) -> list[float]:
    """Median wall time of each command, runs interleaved; one warm-up run each first."""
    for command in commands:
        run_once(command, env)
    times = [[] for _ in commands]
    for _ in range(runs):
        for index, command in enumerate(commands):
            times[index].append(run_once(command, env))
    return [statistics.median(t) for t in times]


def all_specs(runs: int, before: str | None = None, wheel: bool = False) -> None:
    """Every spec of specs/ and specs/zoo next to `python -c pass`, bytecode cached, fresh processes; with
    ``before`` (another checkout), its `netdsl validate` of each spec too, in the same loop. With ``wheel``,
    each checkout installed in a plain venv of its own (see `wheel_venv`)."""
    specs = sorted(glob.glob("specs/*.yaml", root_dir=ROOT)) + sorted(glob.glob("specs/zoo/*.yaml", root_dir=ROOT))
    targets = {"specs/lenet.yaml": 2.0}
    trees = [("after", ROOT)] + ([("before", os.path.abspath(before))] if before else [])
    with tempfile.TemporaryDirectory() as scratch:
        if wheel:
            venvs = {tree: wheel_venv(tree, os.path.join(scratch, label)) for label, tree in trees}
            env = plain_env()
            envs = {tree: env for _, tree in trees}
            python = os.path.join(venvs[ROOT], "bin", "python")
            commands = [("pass", ROOT, [python, "-c", "pass"])] + [
                ((spec, label), ROOT, [os.path.join(venvs[tree], "bin", "netdsl"), "validate", spec])
                for spec in specs for label, tree in trees]
        else:
            python = sys.executable
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env["PYTHONPYCACHEPREFIX"] = scratch
            envs = {tree: {**env, "PYTHONPATH": tree} for _, tree in trees}  # each tree's netdsl, not the installed one
            commands = [("pass", ROOT, [python, "-c", "pass"])] + [
                ((spec, label), tree, [python, "-m", "netdsl", "validate", spec])
                for spec in specs for label, tree in trees]
        for key, tree, command in commands:  # warm-up: fills the bytecode cache
            run_once(command, envs[tree], tree)
        times = {key: [] for key, _, _ in commands}
        cpu = {key: [] for key, _, _ in commands}
        for _ in range(runs):
            for key, tree, command in commands:
                wall, used = run_timed(command, envs[tree], tree)
                times[key].append(wall)
                cpu[key].append(used)
        note = preloaded_note(env, python)
    base_med, base_min = statistics.median(times["pass"]), min(times["pass"])
    base_cpu = statistics.median(cpu["pass"])
    setting = ("netdsl installed from a wheel in a plain venv" if wheel
               else "this interpreter, each checkout on PYTHONPATH")
    print(f"validate every spec, bytecode cached, {setting}, {runs} interleaved runs each (fresh processes)")
    if note:
        print(f"  {note}")
    print(f"  {'python -c pass':<36} median {base_med * 1000:6.1f} ms  min {base_min * 1000:6.1f} ms  "
          f"cpu {base_cpu * 1000:6.1f} ms")
    for spec in specs:
        for label, _ in trees:
            samples = times[(spec, label)]
            med, low = statistics.median(samples), min(samples)
            target = targets.get(spec, 3.0)
            used = statistics.median(cpu[(spec, label)])
            verdict = "met" if med / base_med <= target else "NOT met"
            name = spec if not before else f"{spec} ({label})"
            print(f"  {name:<45} median {med * 1000:6.1f} ms  min {low * 1000:6.1f} ms  "
                  f"x{med / base_med:.2f} (min/min x{low / base_min:.2f}; cpu {used * 1000:.1f} ms "
                  f"x{used / base_cpu:.2f}; target <= {target:g}: {verdict})")


def import_profile(command: list[str], env: dict, runs: int) -> dict[str, float]:
    """Median cumulative import time (ms) of each watched module, from `-X importtime`."""
    samples: dict[str, list[float]] = {name: [] for name in WATCHED}
    for _ in range(runs):
        result = subprocess.run([command[0], "-X", "importtime", *command[1:]], capture_output=True, text=True,
                                cwd=ROOT, env=env)
        seen = {}
        for line in result.stderr.splitlines():
            if not line.startswith("import time:") or "|" not in line:
                continue
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit():
                seen[name.strip()] = int(cumulative) / 1000
        for name in WATCHED:
            samples[name].append(seen.get(name, 0.0))  # 0: not imported, or imported by another watched module
    return {name: statistics.median(values) for name, values in samples.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--spec", default="specs/lenet.yaml")
    parser.add_argument("--all", action="store_true", help="every spec in specs/ and specs/zoo, bytecode cached")
    parser.add_argument("--before", help="with --all: another checkout (the tree before a change), timed in the "
                        "same loop")
    parser.add_argument("--wheel", action="store_true", help="netdsl installed from a wheel in a throwaway plain "
                        "venv, as a user has it (no editable finder)")
    args = parser.parse_args()
    if args.all:
        all_specs(args.runs, args.before, args.wheel)
        return

    plain = dict(os.environ)
    print(f"start-up, {args.runs} interleaved runs each, medians")
    with tempfile.TemporaryDirectory() as cache:
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = cache
        settings = [("no bytecode cache" if plain.get("PYTHONDONTWRITEBYTECODE") else "as configured", plain,
                     sys.executable, [sys.executable, "-m", "netdsl"]),
                    ("bytecode cached", cached, sys.executable, [sys.executable, "-m", "netdsl"])]
        if args.wheel:
            venv = wheel_venv(ROOT, os.path.join(cache, "wheel"))
            settings.append(("installed from a wheel, plain venv, bytecode cached", plain_env(),
                             os.path.join(venv, "bin", "python"), [os.path.join(venv, "bin", "netdsl")]))
        for label, env, python, netdsl in settings:
            base, ours = interleaved([[python, "-c", "pass"], [*netdsl, "validate", args.spec]], env, args.runs)
            verdict = "met" if ours / base < 3 else "NOT met"
            print(f"  {label}:")
            print(f"    python -c pass:                  {base * 1000:7.1f} ms")
            print(f"    netdsl validate {args.spec}: {ours * 1000:7.1f} ms  x{ours / base:.2f} (target < 3: {verdict})")
            note = preloaded_note(env, python)
            if note:
                print(f"    {note}")
        _, env, python, netdsl = settings[-1]
        profile = import_profile([python, *netdsl[1:], "validate", args.spec] if netdsl[0] == python
                                 else [python, netdsl[0], "validate", args.spec], env, max(5, args.runs // 3))
    print(f"import profile of validate ({settings[-1][0]}; cumulative ms, medians; 0 = not imported at top level):")
    for name, ms in profile.items():
        print(f"  {name:<22} {ms:6.1f}")


if __name__ == "__main__":
    main()
