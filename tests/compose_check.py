#!/usr/bin/env python3
"""tests/compose_check.py TOP DOCKERFILE COMPOSE... — structural checks of the
container deployment (run by tests/compose.sh; docs/deploy-compose.md).

The Dockerfile is read into stages and its runtime stage replayed onto a
virtual file system: files copied from the build context are the source
tree's (minus .dockerignore), files copied from the build stage are what
`make` built here (the build stage runs the same `make` in the same tree).
Then every compose file must only run programs that exist in that image and
answer --describe with the very options the compose file gives them, reach
the bus container on the ports it binds, publish and expose the ports its
services listen on, and name files that exist in the image.

Prints one line per problem and exits 1 if there is any; exits 0 silently."""
import fnmatch
import os
import re
import shlex
import subprocess
import sys

import yaml

problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


# ---- the Dockerfile -----------------------------------------------------------

def dockerfile_stages(path):
    """[(name, base, [(instruction, args-text)])], continuation lines joined."""
    stages, lines, cur = [], [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not cur and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                cur += line[:-1] + " "
                continue
            lines.append(cur + line)
            cur = ""
    for line in lines:
        word, _, rest = line.strip().partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?\s*$", rest.strip(), re.I)
            stages.append((m.group(2) if m else None, m.group(1) if m else rest, []))
        elif stages:
            stages[-1][2].append((word, rest.strip()))
    return stages


def dockerignore(top):
    pats = []
    p = os.path.join(top, ".dockerignore")
    if os.path.exists(p):
        for line in open(p):
            line = line.strip()
            if line and not line.startswith("#"):
                pats.append(line.rstrip("/"))
    return pats


def context_files(top):
    """Files of the build context, relative to it."""
    ignore = dockerignore(top)
    out = set()
    for root, dirs, files in os.walk(top):
        rel = os.path.relpath(root, top)
        rel = "" if rel == "." else rel + "/"
        dirs[:] = [d for d in dirs if not any(fnmatch.fnmatch(rel + d, p) for p in ignore)]
        for f in files:
            if not any(fnmatch.fnmatch(rel + f, p) for p in ignore):
                out.add(rel + f)
    return out


def image_fs(top, stages, where):
    """Replays the last stage's WORKDIR and COPY onto a virtual file system:
    {image path: local file}. Returns (fs, workdir)."""
    fs, workdir = {}, "/"
    ctx = context_files(top)
    build_names = {s[0] for s in stages[:-1] if s[0]}
    # The build stage's WORKDIR maps to the tree: its `COPY . .` puts the
    # sources there and `make` builds build/ under it.
    build_dir = {}
    for name, _, instrs in stages[:-1]:
        wd = "/"
        for word, rest in instrs:
            if word == "WORKDIR":
                wd = os.path.join(wd, rest)
        build_dir[name] = wd
    for word, rest in stages[-1][2]:
        if word == "WORKDIR":
            workdir = os.path.normpath(os.path.join(workdir, rest))
        if word != "COPY":
            continue
        args = shlex.split(rest)
        src_stage = None
        while args and args[0].startswith("--"):
            m = re.match(r"--from=(\S+)", args[0])
            if m:
                src_stage = m.group(1)
            args.pop(0)
        if len(args) < 2:
            problem(where, f"COPY {rest}: needs a source and a destination")
            continue
        *srcs, dest = args
        dest = dest if dest.startswith("/") else os.path.join(workdir, dest)
        for src in srcs:
            if src_stage is not None:
                if src_stage not in build_names:
                    problem(where, f"COPY --from={src_stage}: no such stage")
                    continue
                base = build_dir[src_stage]
                if not src.startswith(base.rstrip("/") + "/"):
                    continue     # outside the tree (e.g. /etc): not modelled
                rel = src[len(base.rstrip("/")) + 1:]
                # The image's build/ is what `make` built here ($BUILD).
                if rel == "build" or rel.startswith("build/"):
                    rel = os.environ.get("BUILD", "build") + rel[len("build"):]
                local = os.path.join(top, rel)
                files = []
                if os.path.isdir(local):
                    for root, _, fl in os.walk(local):
                        files += [os.path.relpath(os.path.join(root, f), top) for f in fl]
                elif os.path.exists(local):
                    files = [rel]
                root_rel = rel.rstrip("/")
            else:
                root_rel = os.path.normpath(src).lstrip("./") if src not in (".", "./") else ""
                files = [f for f in ctx if root_rel == "" or f == root_rel or f.startswith(root_rel + "/")]
            made = src_stage is not None and any(
                word == "RUN" and src.split("/")[-1] in rest
                for n, _, instrs in stages if n == src_stage for word, rest in instrs)
            if not files and not made:
                problem(where, f"COPY {src}: copies nothing")
            for f in files:
                if f == root_rel:          # a file: to dest (a directory when it ends with /)
                    target = os.path.join(dest, os.path.basename(f)) if dest.endswith("/") else dest
                else:                      # a directory's contents go under dest
                    target = os.path.join(dest, f[len(root_rel):].lstrip("/"))
                fs[os.path.normpath(target)] = os.path.join(top, f)
    return fs, workdir


def check_dockerfile(top, path):
    where = os.path.relpath(path, top)
    stages = dockerfile_stages(path)
    if len(stages) < 2:
        problem(where, "expected a build stage and a runtime stage")
        return stages
    for name, base, _ in stages:
        if base != "debian:bookworm":
            problem(where, f"stage {name or '(last)'} is FROM {base}, not debian:bookworm (Debian 12)")
    build = stages[0][2]
    readme = open(os.path.join(top, "README.md")).read()
    if "scripts/setup.sh" not in readme:
        problem("README.md", "does not name scripts/setup.sh")
    runs = [rest for word, rest in build if word == "RUN"]
    setup = [r for r in runs if re.search(r"(^|[\s/])scripts/setup\.sh\b", r)]
    if not setup:
        problem(where, "the build stage does not run scripts/setup.sh (the set-up the README uses)")
    if any("apt-get" in r for r in runs):
        problem(where, "the build stage installs packages itself; scripts/setup.sh is the one list")
    make_runs = [i for i, r in enumerate(runs) if re.match(r"make(\s|$)", r)]
    if not make_runs:
        problem(where, "the build stage does not run make")
    elif setup and runs.index(setup[0]) > make_runs[0]:
        problem(where, "make runs before scripts/setup.sh")
    runtime = stages[-1][2]
    installs = " ".join(rest for word, rest in runtime if word == "RUN" and "apt-get install" in rest)
    for need in ("pocketsphinx-en-us", "$(cat /tmp/runtime-packages)"):
        if need not in installs:
            problem(where, f"the runtime stage does not install {need}")
    if not any("deploy/runtime-packages.sh" in r for r in runs):
        problem(where, "the build stage does not list the runtime packages with deploy/runtime-packages.sh")
    return stages


# ---- a compose file -----------------------------------------------------------

def opt(args, name):
    for a in args:
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return None


def unescape(s):
    """What compose passes for a string of the file: $$ is a literal $."""
    return s.replace("$$", "$")


def check_compose(top, path, fs, workdir, bindir):
    where = os.path.relpath(path, top)
    doc = yaml.safe_load(open(path))
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        problem(where, "no services")
        return
    svcs = doc["services"]
    on_path = lambda prog: next((d + "/" + prog for d in ("/usr/local/bin", "/usr/bin", "/bin")
                                 if d + "/" + prog in fs), None)

    def in_image(p):
        return os.path.normpath(p if p.startswith("/") else os.path.join(workdir, p)) in fs

    check = svcs.get("check")
    graph = None
    if not check or check.get("command", [])[:2] != ["voxmesh", "check"] or len(check["command"]) != 3:
        problem(where, "no 'check' service running `voxmesh check GRAPH`")
    else:
        graph = check["command"][2]
        if not in_image(graph):
            problem(where, f"check: the graph {graph} is not in the image")
    bus = svcs.get("bus")
    bus_pub = bus_sub = None
    if bus:
        cmd = bus.get("command", [])
        pub, sub = opt(cmd, "pub"), opt(cmd, "sub")
        if cmd[:2] != ["voxmesh", "bus"] or not pub or not sub or cmd[-1] != graph:
            problem(where, f"bus: expected `voxmesh bus --pub=EP --sub=EP {graph}`, not {cmd}")
        else:
            m1, m2 = re.match(r"tcp://0\.0\.0\.0:(\d+)$", pub), re.match(r"tcp://0\.0\.0\.0:(\d+)$", sub)
            if not m1 or not m2:
                problem(where, f"bus: binds {pub} {sub}, not tcp on every address")
            else:
                bus_pub, bus_sub = f"tcp://bus:{m1.group(1)}", f"tcp://bus:{m2.group(1)}"
                for port in (m1.group(1), m2.group(1)):
                    if port not in [str(p) for p in bus.get("expose", [])]:
                        problem(where, f"bus: port {port} is not exposed")
        if bus.get("depends_on", {}).get("check", {}).get("condition") != "service_completed_successfully":
            problem(where, "bus: does not wait for the check")
    names = set()
    for name, svc in svcs.items():
        if name in ("check", "bus"):
            continue
        w = f"{where}: {name}"
        args = [unescape(a) for a in svc.get("command", [])]
        if not args:
            problem(w, "no command")
            continue
        # The program: in the image, and the same binary answers --describe
        # here with the options the container gets.
        prog = args[0]
        image_path = prog if prog.startswith("/") else (on_path(prog) if "/" not in prog else os.path.join(workdir, prog))
        if not image_path or os.path.normpath(image_path) not in fs:
            problem(w, f"program {prog} is not in the image")
            continue
        local = fs[os.path.normpath(image_path)]
        if "/" not in prog and os.path.dirname(local) != bindir:
            problem(w, f"program {prog} does not come from {bindir}")
        r = subprocess.run([local, "--describe"] + args[1:], capture_output=True, text=True, timeout=20, cwd=top)
        if r.returncode != 0 or not r.stdout.startswith("service = "):
            problem(w, f"`{prog} --describe` with its options failed ({r.returncode}): {r.stderr.strip()[:200]}")
        # The bus, over tcp to the bus container (or the graph's external one).
        pub, sub = opt(args, "bus-pub"), opt(args, "bus-sub")
        if bus and (pub != bus_pub or sub != bus_sub):
            problem(w, f"bus endpoints {pub} {sub}, but the bus container serves {bus_pub} {bus_sub}")
        if not bus and not (pub or "").startswith("tcp://"):
            problem(w, f"no bus container and the bus endpoint {pub} is not tcp")
        deps = svc.get("depends_on", {})
        if deps.get("check", {}).get("condition") != "service_completed_successfully":
            problem(w, "does not wait for the check")
        if bus and "bus" not in deps:
            problem(w, "does not depend on the bus")
        # A unique instance name per container, from its hostname.
        entry = [unescape(a) for a in svc.get("entrypoint", [])]
        seen = []
        for host in ("c0ffee000001", "c0ffee000002"):
            if entry[:2] != ["/bin/sh", "-c"] or len(entry) != 3:
                break
            r = subprocess.run(["/bin/sh", "-c", entry[2], "printf", "%s\\n"] + args[1:],
                               capture_output=True, text=True, env={"HOSTNAME": host, "PATH": "/usr/bin:/bin"})
            seen.append([a for a in r.stdout.split("\n") if a.startswith("--name=")])
        if len(seen) != 2 or seen[0] != [f"--name={name}.c0ffee000001"] or seen[1] != [f"--name={name}.c0ffee000002"]:
            problem(w, f"the container does not name itself {name}.HOSTNAME: {svc.get('entrypoint')} gave {seen}")
        if opt(args, "name"):
            problem(w, "the command fixes --name: scaled containers would share it")
        names.add(name)
        # Metrics on every address of the container, its port exposed.
        mport = opt(args, "metrics-port")
        if opt(args, "metrics-addr") != "0.0.0.0" or not mport:
            problem(w, "metrics are not served on 0.0.0.0")
        elif mport not in [str(p) for p in svc.get("expose", [])]:
            problem(w, f"metrics port {mport} is not exposed")
        # Listen addresses: every address inside, published on the host.
        published = [str(p) for p in svc.get("ports", [])]
        for a in args[1:]:
            m = re.match(r"--([a-z-]*listen)=(.*)$", a)
            if m:
                lm = re.match(r"0\.0\.0\.0:(\d+)$", m.group(2))
                if not lm:
                    problem(w, f"--{m.group(1)}={m.group(2)}: not on every address of the container")
                elif not any(re.match(rf"(.*:)?{lm.group(1)}:{lm.group(1)}$", p) for p in published):
                    problem(w, f"listens on {lm.group(1)} but does not publish it")
        # Files the settings name must be in the image, where the relative
        # ones are read from the working directory.
        for a in args[1:]:
            v = a.split("=", 1)[1] if "=" in a else ""
            if "/" in v and "://" not in v and not re.match(r"^[\d.:\[\]*]+$", v):
                if not in_image(v):
                    problem(w, f"{a}: {v} is not in the image (working directory {workdir})")
        reps = svc.get("deploy", {}).get("replicas", 1)
        if not isinstance(reps, int) or reps < 1:
            problem(w, f"bad replicas {reps}")
    if not names:
        problem(where, "no service besides check and bus")


def main():
    top, dockerfile, composes = sys.argv[1], sys.argv[2], sys.argv[3:]
    bindir = os.path.join(top, os.environ.get("BUILD", "build"), "bin")
    stages = check_dockerfile(top, dockerfile)
    if len(stages) >= 2:
        fs, workdir = image_fs(top, stages, os.path.relpath(dockerfile, top))
        for c in composes:
            check_compose(top, c, fs, workdir, bindir)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
