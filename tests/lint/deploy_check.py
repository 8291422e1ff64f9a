#!/usr/bin/env python3
"""Static checks of the deployment files under deploy/.

Usage: deploy_check.py REPO_DIR SERVER_BINARY

Docker cannot run here, so the Dockerfile, the systemd units, the Kubernetes
manifests and the nginx configurations are checked as text: they parse,
every custra-server flag they pass is one that `SERVER_BINARY --help` lists
(once each), and ports, paths and names agree between the files. Where the
tools are installed, `systemd-analyze verify`, `nginx -t` and `sh -n` check
them too (otherwise those checks are skipped). Prints one line per check and
exits 0 when every check passed, 1 otherwise.
"""

import base64
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:  # reported as a failed check below
    yaml = None

IMAGE_USER_ROOT = {"root", "0"}
LOOPBACK_PREFIXES = ("127.", "localhost:", "[::1]:", "unix:")
UNIT_HARDENING = {
    # key: (predicate on the last value, what is expected)
    "User": (lambda v: v not in ("", "root", "0"), "a dedicated user"),
    "StateDirectory": (lambda v: v != "", "a state directory"),
    "ProtectSystem": (lambda v: v == "strict", "strict"),
    "ProtectHome": (lambda v: v in ("yes", "true", "read-only", "tmpfs"),
                    "yes"),
    "PrivateTmp": (lambda v: v in ("yes", "true"), "yes"),
    "NoNewPrivileges": (lambda v: v in ("yes", "true"), "yes"),
    "CapabilityBoundingSet": (lambda v: v == "", "empty"),
    "RestrictAddressFamilies": (
        lambda v: not v.startswith("~") and
        bool({"AF_INET", "AF_INET6"} & set(v.split())),
        "an allow-list with AF_INET/AF_INET6"),
    "Restart": (lambda v: v in ("on-failure", "on-abnormal", "always"),
                "on-failure"),
    "LimitNOFILE": (lambda v: v.isdigit() and int(v) >= 4096, ">= 4096"),
    "KillSignal": (lambda v: v in ("SIGTERM", "TERM", "15"), "SIGTERM"),
}


class Report:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, name, problems):
        """problems: a list of strings; empty means the check passed."""
        if problems:
            self.failed += 1
            print(f"FAIL  {name}: " + "; ".join(problems))
        else:
            self.passed += 1
            print(f"PASS  {name}")

    def skip(self, name, why):
        self.skipped += 1
        print(f"SKIP  {name}: {why}")

    def run(self, name, function, *args):
        """Runs function(*args) -> problems (or None to skip), never raises."""
        try:
            problems = function(*args)
        except Exception as error:  # a broken file must not stop the rest
            problems = [f"{type(error).__name__}: {error}"]
        if problems is None:
            return
        self.check(name, problems)


# --- custra-server's flags ---------------------------------------------------

class ServerFlags:
    def __init__(self, binary):
        result = subprocess.run([binary, "--help"], capture_output=True,
                                text=True, timeout=60)
        self.help = result.stdout
        self.known = set()
        self.takes_value = set()
        for line in self.help.splitlines():
            match = re.match(r"\s+(?:-\w,)?(--[A-Za-z0-9][\w-]*)( [A-Z]{2,})?",
                             line)
            if match:
                self.known.add(match.group(1))
                if match.group(2):
                    self.takes_value.add(match.group(1))
        if "--listen" not in self.known:
            raise RuntimeError(f"{binary} --help lists no --listen flag")

    def default(self, flag):
        match = re.search(re.escape(flag) + r"\b[^\n]*?=([0-9.]+)(?:\s|$)",
                          self.help)
        return float(match.group(1)) if match else 0.0

    def parse(self, tokens):
        """[(flag, value)] of a command line's arguments (after the binary)."""
        parsed = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token.startswith("--"):
                if "=" in token:
                    flag, value = token.split("=", 1)
                elif token in self.takes_value and i + 1 < len(tokens):
                    flag, value = token, tokens[i + 1]
                    i += 1
                else:
                    flag, value = token, None
                parsed.append((flag, value))
            else:
                parsed.append((None, token))
            i += 1
        return parsed

    def command_problems(self, tokens, where):
        """Problems of custra-server arguments that would keep it from
        starting (or from being a deployment rather than a dev setup)."""
        parsed = self.parse(tokens)
        problems = []
        flags = [f for f, _ in parsed if f]
        for flag in flags:
            if flag not in self.known:
                problems.append(f"{where}: {flag} is not a custra-server flag")
        for flag in sorted({f for f in flags if flags.count(f) > 1}):
            problems.append(f"{where}: {flag} given twice (custra-server "
                            "rejects repeated flags)")
        for flag, value in parsed:
            if flag is None:
                problems.append(f"{where}: stray argument {value!r}")
        values = dict(p for p in parsed if p[0])
        listen = values.get("--listen")
        if not listen or ":" not in listen:
            problems.append(f"{where}: no --listen HOST:PORT")
        elif not listen.startswith(LOOPBACK_PREFIXES):
            tls = "--tls-cert" in values and "--tls-key" in values
            if not tls and "--plaintext" not in values:
                problems.append(f"{where}: {listen} is not loopback, so the "
                                "server needs --tls-cert/--tls-key or "
                                "--plaintext")
        if ("--tls-cert" in values) != ("--tls-key" in values):
            problems.append(f"{where}: --tls-cert and --tls-key go together")
        if "--data-dir" not in values:
            problems.append(f"{where}: no --data-dir")
        if "--admin-key-file" not in values:
            problems.append(f"{where}: no --admin-key-file")
        if "--insecure-dev" in values:
            problems.append(f"{where}: --insecure-dev is for development")
        return problems

    def stop_seconds(self, tokens):
        """--drain-delay + --shutdown-grace of a command line."""
        values = dict(p for p in self.parse(tokens) if p[0])
        total = 0.0
        for flag in ("--drain-delay", "--shutdown-grace"):
            total += float(values[flag]) if flag in values else \
                self.default(flag)
        return total


def listen_port(tokens, flags):
    values = dict(p for p in flags.parse(tokens) if p[0])
    listen = values.get("--listen", "")
    port = listen.rsplit(":", 1)[-1]
    return int(port) if port.isdigit() else None


def flag_value(tokens, flags, name):
    return dict(p for p in flags.parse(tokens) if p[0]).get(name)


# --- Dockerfile --------------------------------------------------------------

def dockerfile_instructions(text):
    """[(INSTRUCTION, arguments)] with continuation lines joined."""
    instructions = []
    buffer = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not buffer):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            parts = buffer.strip().split(None, 1)
            instructions.append((parts[0].upper(),
                                 parts[1] if len(parts) > 1 else ""))
        buffer = ""
    return instructions


def exec_form(arguments):
    """A JSON exec-form list, or None for shell form."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


class Dockerfile:
    def __init__(self, path):
        self.path = path
        self.instructions = dockerfile_instructions(open(path).read())
        self.stages = []
        for name, arguments in self.instructions:
            if name == "FROM":
                self.stages.append([(name, arguments)])
            elif self.stages:
                self.stages[-1].append((name, arguments))
        self.final = self.stages[-1] if self.stages else []

    def last(self, stage, instruction):
        values = [a for n, a in stage if n == instruction]
        return values[-1] if values else None

    def entrypoint(self):
        value = self.last(self.final, "ENTRYPOINT")
        return exec_form(value) if value else None


def check_docker_stages(docker, repo):
    problems = []
    if len(docker.stages) < 2:
        return [f"{len(docker.stages)} FROM stage(s); a multi-stage build "
                "needs a build and a runtime stage"]
    build_from = docker.stages[0][0][1].split()
    final_from = docker.final[0][1].split()
    if not build_from[0].startswith(("debian:12", "debian:bookworm")):
        problems.append(f"build stage FROM {build_from[0]}, not Debian 12")
    if final_from[0] not in ("debian:12-slim", "debian:bookworm-slim"):
        problems.append(f"runtime stage FROM {final_from[0]}, not "
                        "debian:12-slim")
    build_text = " ".join(a for _, a in docker.stages[0])
    if "deploy/setup.sh" not in build_text:
        problems.append("the build stage does not run deploy/setup.sh")
    if not re.search(r"\bcmake\b.*-G\s*Ninja", build_text):
        problems.append("the build stage does not configure CMake + Ninja")
    cmake_lists = open(os.path.join(repo, "CMakeLists.txt")).read()
    options = set(re.findall(r"option\(\s*(\w+)", cmake_lists))
    for option in re.findall(r"-D(CUSTRA_\w+)=", build_text):
        if option not in options:
            problems.append(f"-D{option} is not an option() of CMakeLists.txt")
    if not re.search(r"-DCUSTRA_BUILD_TESTS=OFF\b", build_text):
        problems.append("the build stage builds the test suite "
                        "(-DCUSTRA_BUILD_TESTS=OFF missing)")
    final_runs = " ".join(a for n, a in docker.final if n == "RUN")
    toolchain = re.findall(r"\b(build-essential|cmake|ninja-build|"
                           r"[\w.+-]+-dev)\b", final_runs)
    if toolchain:
        problems.append("the runtime stage installs build tools: " +
                        ", ".join(sorted(set(toolchain))))
    return problems


def check_docker_user(docker):
    user = docker.last(docker.final, "USER")
    if not user:
        return ["the runtime stage has no USER (it would run as root)"]
    name = user.split(":")[0]
    if name in IMAGE_USER_ROOT:
        return [f"USER {user} is root"]
    runs = " ".join(a for n, a in docker.final if n == "RUN")
    if name.isdigit():
        if not re.search(rf"useradd\b[^;&]*--uid\s+{name}\b", runs):
            return [f"USER {user}: no useradd --uid {name} in the runtime "
                    "stage"]
    elif not re.search(rf"useradd\b[^;&]*\s{re.escape(name)}\b", runs):
        return [f"USER {user}: the runtime stage creates no such user"]
    return []


def check_docker_entrypoint(docker, flags):
    entrypoint = docker.entrypoint()
    if not entrypoint:
        return ["the runtime stage has no exec-form ENTRYPOINT"]
    problems = []
    if os.path.basename(entrypoint[0]) != "custra-server":
        problems.append(f"ENTRYPOINT runs {entrypoint[0]}, not custra-server")
    cmd = exec_form(docker.last(docker.final, "CMD") or "[]") or []
    problems += flags.command_problems(entrypoint[1:] + cmd, "ENTRYPOINT")
    directory, binary = os.path.split(entrypoint[0])
    installed = False
    for name, arguments in docker.final:
        if name != "COPY":
            continue
        words = [w for w in arguments.split() if not w.startswith("--")]
        if len(words) >= 2 and words[-1].rstrip("/") == directory and any(
                os.path.basename(w) == binary for w in words[:-1]):
            installed = True
    if not installed:
        problems.append(f"no COPY puts {binary} into {directory}/")
    return problems


def check_docker_volume_port(docker, flags):
    entrypoint = docker.entrypoint() or []
    problems = []
    data_dir = flag_value(entrypoint[1:], flags, "--data-dir")
    volume = docker.last(docker.final, "VOLUME") or ""
    volumes = exec_form(volume) or volume.split()
    if data_dir not in volumes:
        problems.append(f"VOLUME {volume or '(none)'} is not the --data-dir "
                        f"{data_dir}")
    port = listen_port(entrypoint[1:], flags)
    exposed = [e.split("/")[0] for n, a in docker.final if n == "EXPOSE"
               for e in a.split()]
    if str(port) not in exposed:
        problems.append(f"EXPOSE {' '.join(exposed) or '(none)'} does not "
                        f"include the --listen port {port}")
    healthcheck = docker.last(docker.final, "HEALTHCHECK")
    if healthcheck and healthcheck.strip().upper() != "NONE":
        command = healthcheck.split(" CMD ", 1)[-1]
        if not re.search(rf"[:=]{port}\b", command):
            problems.append(f"HEALTHCHECK does not probe port {port}")
    return problems


def check_dockerignore(repo):
    path = os.path.join(repo, "deploy/docker/Dockerfile.dockerignore")
    if not os.path.exists(path):
        return ["deploy/docker/Dockerfile.dockerignore is missing (the host's "
                "build/ would be sent to the builder)"]
    patterns = {l.strip().rstrip("/") for l in open(path)
                if l.strip() and not l.startswith("#")}
    missing = [p for p in ("build", "custra-data", ".git")
               if p not in patterns]
    return [f"does not exclude {', '.join(missing)}"] if missing else []


# --- systemd -----------------------------------------------------------------

def parse_unit(text):
    """{section: [(key, value)]}, keys repeated as written."""
    sections = {}
    current = None
    buffer = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buffer and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        line = buffer + line
        buffer = ""
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
        elif "=" in line and current:
            key, value = line.split("=", 1)
            sections[current].append((key.strip(), value.strip()))
    return sections


def parse_env_file(path):
    env = {}
    for raw in open(path):
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip().strip('"')
    return env


def seconds(value):
    total = 0.0
    units = {"": 1, "s": 1, "sec": 1, "ms": 0.001, "m": 60, "min": 60,
             "h": 3600, "hr": 3600}
    for number, unit in re.findall(r"([0-9.]+)\s*([a-z]*)", value):
        if unit not in units:
            raise ValueError(f"unknown time unit in {value!r}")
        total += float(number) * units[unit]
    return total


def unit_command(service, env_example):
    """ExecStart's words with Environment=, the example environment file and
    the specifiers %S, %d, %i, %% expanded."""
    env = {}
    for key, value in service:
        if key == "Environment":
            for assignment in shlex.split(value):
                name, _, val = assignment.partition("=")
                env[name] = val
    env.update(env_example)
    exec_start = [v for k, v in service if k == "ExecStart"][-1]
    exec_start = exec_start.lstrip("-@:+!")
    specifiers = {"S": "/var/lib", "d": "/run/credentials/UNIT", "i": "1",
                  "%": "%"}
    exec_start = re.sub(r"%(.)", lambda m: specifiers.get(m.group(1),
                                                          m.group(0)),
                        exec_start)
    words = []
    for word in shlex.split(exec_start):
        alone = re.fullmatch(r"\$(\w+)", word)
        if alone:
            words += env.get(alone.group(1), "").split()
        else:
            words.append(re.sub(r"\$\{(\w+)\}",
                                lambda m: env.get(m.group(1), ""), word))
    return words


def check_unit(path, flags, env_example):
    unit = parse_unit(open(path).read())
    service = unit.get("Service", [])
    last = {}
    for key, value in service:
        last[key] = value
    problems = []
    for key, (ok, expected) in UNIT_HARDENING.items():
        if key not in last:
            problems.append(f"{key}= missing (want {expected})")
        elif not ok(last[key]):
            problems.append(f"{key}={last[key]} (want {expected})")
    filters = [v for k, v in service if k == "SystemCallFilter"]
    if not any("@system-service" in f for f in filters):
        problems.append("SystemCallFilter= has no @system-service allow-list")
    if "ExecStart" not in last:
        return problems + ["no ExecStart="]
    words = unit_command(service, env_example)
    if os.path.basename(words[0]) != "custra-server":
        problems.append(f"ExecStart runs {words[0]}, not custra-server")
    problems += flags.command_problems(words[1:], "ExecStart")
    data_dir = flag_value(words[1:], flags, "--data-dir")
    state = "/var/lib/" + last.get("StateDirectory", "").split()[0] \
        if last.get("StateDirectory") else None
    if state and data_dir and data_dir.rstrip("/") != state.replace(
            "%i", "1"):
        problems.append(f"--data-dir {data_dir} is not the StateDirectory "
                        f"{state}")
    key_file = flag_value(words[1:], flags, "--admin-key-file") or ""
    if key_file.startswith("/run/credentials/UNIT/"):
        credential = key_file.split("/")[-1]
        loaded = [v.split(":", 1)[0] for k, v in service
                  if k in ("LoadCredential", "SetCredential")]
        if credential not in loaded:
            problems.append(f"--admin-key-file names credential {credential}"
                            " but no LoadCredential= provides it")
    if "TimeoutStopSec" not in last:
        problems.append("TimeoutStopSec= missing")
    else:
        stop = flags.stop_seconds(words[1:])
        timeout = seconds(last["TimeoutStopSec"])
        if timeout <= stop:
            problems.append(f"TimeoutStopSec={last['TimeoutStopSec']} is not "
                            f"above --drain-delay + --shutdown-grace "
                            f"({stop:g} s)")
    return problems


def check_units_verify(repo, units, binary):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        return None
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in units:
            name = os.path.basename(path).replace("@.", "@1.")
            text = open(path).read().replace("/usr/local/bin/custra-server",
                                             os.path.abspath(binary))
            copy = os.path.join(tmp, name)
            with open(copy, "w") as out:
                out.write(text)
            result = subprocess.run([analyze, "verify", "--man=no", copy],
                                    capture_output=True, text=True,
                                    timeout=120)
            for line in (result.stdout + result.stderr).splitlines():
                if name in line or copy in line:
                    problems.append(line.replace(tmp + "/", ""))
    return problems


# --- Kubernetes --------------------------------------------------------------

def load_k8s(repo):
    """([(file, document)], [parse errors])."""
    docs = []
    errors = []
    directory = os.path.join(repo, "deploy/k8s")
    for name in sorted(os.listdir(directory)):
        if name.endswith((".yaml", ".yml")):
            try:
                with open(os.path.join(directory, name)) as stream:
                    loaded = [d for d in yaml.safe_load_all(stream)
                              if d is not None]
            except yaml.YAMLError as error:
                errors.append(f"{name}: " + " ".join(str(error).split()))
                continue
            for doc in loaded:
                if isinstance(doc, dict):
                    docs.append((name, doc))
                else:
                    errors.append(f"{name}: a document is not a mapping")
    return docs, errors


def of_kind(docs, kind):
    return [d for _, d in docs if d.get("kind") == kind]


def containers(workload):
    return workload["spec"]["template"]["spec"]["containers"]


def container_port(container, name_or_number):
    if isinstance(name_or_number, int):
        return name_or_number
    for port in container.get("ports", []):
        if port.get("name") == name_or_number:
            return port["containerPort"]
    return None


def check_k8s_parse(docs, errors, repo):
    problems = list(errors)
    for name, doc in docs:
        for field in ("apiVersion", "kind"):
            if field not in doc:
                problems.append(f"{name}: no {field}")
        meta = doc.get("metadata", {})
        if not meta.get("name"):
            problems.append(f"{name}: no metadata.name")
        if "namespace" in meta:
            problems.append(f"{name}: names a namespace (manifests are "
                            "namespace-agnostic)")
    files = sorted(f for f in os.listdir(os.path.join(repo, "deploy/k8s"))
                   if f.endswith((".yaml", ".yml")))
    broken = {e.split(":")[0] for e in errors}
    empty = [f for f in files if f not in {n for n, _ in docs} and
             f not in broken]
    problems += [f"{f}: no document" for f in empty]
    kinds = [d.get("kind") for _, d in docs]
    for kind in ("Secret", "StatefulSet", "ConfigMap", "Deployment"):
        if kind not in kinds:
            problems.append(f"no {kind}")
    services = of_kind(docs, "Service")
    if not any(s["spec"].get("clusterIP") == "None" for s in services):
        problems.append("no headless Service (clusterIP: None)")
    if not any(s["spec"].get("clusterIP") != "None" for s in services):
        problems.append("no Service for the proxy")
    return problems


def check_k8s_selectors(docs):
    problems = []
    templates = {}
    for kind in ("StatefulSet", "Deployment"):
        for workload in of_kind(docs, kind):
            name = workload["metadata"]["name"]
            labels = workload["spec"]["template"]["metadata"].get("labels", {})
            templates[name] = labels
            selector = workload["spec"]["selector"].get("matchLabels", {})
            if not selector or not selector.items() <= labels.items():
                problems.append(f"{kind} {name}: selector does not match its "
                                "pod labels")
    for service in of_kind(docs, "Service"):
        selector = service["spec"].get("selector", {})
        if not any(selector.items() <= l.items() for l in templates.values()):
            problems.append(f"Service {service['metadata']['name']}: selector "
                            "matches no pod template")
    for budget in of_kind(docs, "PodDisruptionBudget"):
        selector = budget["spec"]["selector"].get("matchLabels", {})
        if not any(selector.items() <= l.items() for l in templates.values()):
            problems.append(f"PodDisruptionBudget "
                            f"{budget['metadata']['name']}: selector matches "
                            "no pod template")
    return problems


class Shards:
    """The StatefulSet, its server container and the related objects."""

    def __init__(self, docs, flags):
        sets = of_kind(docs, "StatefulSet")
        if len(sets) != 1:
            raise ValueError(f"{len(sets)} StatefulSets, expected 1")
        self.set = sets[0]
        self.name = self.set["metadata"]["name"]
        self.replicas = int(self.set["spec"].get("replicas", 1))
        servers = [c for c in containers(self.set)
                   if os.path.basename((c.get("command") or [""])[0]) ==
                   "custra-server"]
        if len(servers) != 1:
            raise ValueError("the StatefulSet has no container whose command "
                             "is custra-server")
        self.container = servers[0]
        self.args = list(self.container.get("args", []))
        self.command = self.container["command"]
        self.flags = flags
        self.port = listen_port(self.command[1:] + self.args, flags)
        headless = [s for s in of_kind(docs, "Service")
                    if s["metadata"]["name"] == self.set["spec"].get(
                        "serviceName")]
        self.service = headless[0] if headless else None

    def words(self):
        return self.command[1:] + self.args


def check_k8s_server(shards):
    problems = shards.flags.command_problems(shards.words(),
                                             "StatefulSet args")
    if shards.service is None:
        problems.append(f"serviceName {shards.set['spec'].get('serviceName')}"
                        " is no Service")
    elif shards.service["spec"].get("clusterIP") != "None":
        problems.append(f"Service {shards.service['metadata']['name']} is not "
                        "headless")
    if shards.replicas < 1:
        problems.append("replicas < 1")
    return problems


def check_k8s_peers(shards):
    """Every replica gets --peer naming every replica (itself included), so
    that ListTenants through the proxy lists the whole deployment."""
    words = shards.words()
    peers = []
    for i, word in enumerate(words):
        if word.startswith("--peer="):
            peers += word.split("=", 1)[1].split(",")
        elif word == "--peer" and i + 1 < len(words):
            peers += words[i + 1].split(",")
    service = shards.service["metadata"]["name"] if shards.service else "?"
    expected = [f"{shards.name}-{i}.{service}:{shards.port}"
                for i in range(shards.replicas)]
    if peers != expected:
        return [f"--peer {peers}, expected one per replica in order: "
                f"{expected}"]
    return []


def check_k8s_ports(shards):
    port = shards.port
    problems = []
    c = shards.container
    declared = [p["containerPort"] for p in c.get("ports", [])]
    if declared != [port]:
        problems.append(f"containerPort {declared} is not the --listen port "
                        f"{port}")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        spec = c.get(probe)
        if spec is None:
            if probe != "startupProbe":
                problems.append(f"no {probe}")
            continue
        if "grpc" not in spec:
            problems.append(f"{probe} is not a gRPC health probe")
            continue
        probe_port = spec["grpc"].get("port")
        if not isinstance(probe_port, int):
            problems.append(f"{probe} grpc.port {probe_port!r} must be a "
                            "number (Kubernetes takes no port names there)")
        elif probe_port != port:
            problems.append(f"{probe} probes port {probe_port}, the server "
                            f"listens on {port}")
    if shards.service:
        for service_port in shards.service["spec"].get("ports", []):
            target = container_port(c, service_port.get(
                "targetPort", service_port["port"]))
            if target != port or service_port["port"] != port:
                problems.append(f"headless Service port "
                                f"{service_port['port']}->{target}, server "
                                f"port {port}")
    return problems


def check_k8s_volumes(shards, docs):
    problems = []
    spec = shards.set["spec"]
    pod = spec["template"]["spec"]
    mounts = {m["mountPath"]: m for m in shards.container.get(
        "volumeMounts", [])}
    claims = {t["metadata"]["name"] for t in spec.get(
        "volumeClaimTemplates", [])}
    if not claims:
        problems.append("no volumeClaimTemplates (one volume per replica)")
    data_dir = flag_value(shards.words(), shards.flags, "--data-dir")
    mount = mounts.get(data_dir)
    if mount is None or mount["name"] not in claims:
        problems.append(f"--data-dir {data_dir} is not the mount of a "
                        "volumeClaimTemplate")
    key_file = flag_value(shards.words(), shards.flags, "--admin-key-file")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    secrets = {s["metadata"]["name"]: s for s in of_kind(docs, "Secret")}
    found = False
    for path, m in mounts.items():
        volume = volumes.get(m["name"], {})
        if "secret" not in volume:
            continue
        secret = secrets.get(volume["secret"].get("secretName"))
        keys = set((secret or {}).get("data", {}) or {}) | set(
            (secret or {}).get("stringData", {}) or {})
        if m.get("subPath"):
            candidates = {path: m["subPath"]}
        else:
            items = volume["secret"].get("items") or [
                {"key": k, "path": k} for k in keys]
            candidates = {path.rstrip("/") + "/" + i["path"]: i["key"]
                          for i in items}
        if key_file in candidates:
            found = True
            if secret is None:
                problems.append(f"the admin key's Secret "
                                f"{volume['secret'].get('secretName')} is not "
                                "in deploy/k8s")
            elif candidates[key_file] not in keys:
                problems.append(f"Secret {secret['metadata']['name']} has no "
                                f"key {candidates[key_file]}")
    if not found:
        problems.append(f"--admin-key-file {key_file} is not a file of a "
                        "mounted Secret")
    for path in mounts:
        if path != data_dir and mounts[path]["name"] not in volumes and \
                mounts[path]["name"] not in claims:
            problems.append(f"mount {path}: no volume {mounts[path]['name']}")
    return problems


def security_problems(workload, container, what):
    problems = []
    pod = workload["spec"]["template"]["spec"].get("securityContext", {})
    own = container.get("securityContext", {})
    merged = {**pod, **own}
    if merged.get("runAsNonRoot") is not True:
        problems.append(f"{what}: runAsNonRoot is not true")
    if merged.get("runAsUser") == 0:
        problems.append(f"{what}: runAsUser 0")
    if own.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{what}: readOnlyRootFilesystem is not true")
    if own.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{what}: allowPrivilegeEscalation is not false")
    resources = container.get("resources", {})
    if not resources.get("requests") or not resources.get("limits", {}).get(
            "memory"):
        problems.append(f"{what}: no resource requests and memory limit")
    return problems


def check_k8s_server_pod(shards, docker, flags):
    problems = security_problems(shards.set, shards.container, "server")
    grace = shards.set["spec"]["template"]["spec"].get(
        "terminationGracePeriodSeconds", 30)
    stop = flags.stop_seconds(shards.words())
    if grace <= stop:
        problems.append(f"terminationGracePeriodSeconds {grace} is not above "
                        f"--drain-delay + --shutdown-grace ({stop:g} s)")
    entrypoint = docker.entrypoint() or [None]
    if shards.command[0] != entrypoint[0]:
        problems.append(f"command {shards.command[0]} is not the image's "
                        f"ENTRYPOINT binary {entrypoint[0]}")
    image_user = (docker.last(docker.final, "USER") or "").split(":")[0]
    pod = shards.set["spec"]["template"]["spec"].get("securityContext", {})
    run_as = shards.container.get("securityContext", {}).get(
        "runAsUser", pod.get("runAsUser"))
    if image_user.isdigit() and run_as is not None and \
            int(image_user) != run_as:
        problems.append(f"runAsUser {run_as} is not the image's USER "
                        f"{image_user}")
    return problems


def check_k8s_secret(docs):
    problems = []
    for secret in of_kind(docs, "Secret"):
        values = dict(secret.get("stringData") or {})
        for key, value in (secret.get("data") or {}).items():
            values[key] = base64.b64decode(value).decode()
        for key, value in values.items():
            if len(str(value).strip()) >= 16:
                problems.append(f"Secret {secret['metadata']['name']} key "
                                f"{key} holds {len(str(value))} characters: "
                                "commit a placeholder (< 16, which the "
                                "server refuses), never a usable key")
        if not values:
            problems.append(f"Secret {secret['metadata']['name']} is empty")
    return problems


# --- nginx -------------------------------------------------------------------

def nginx_upstream(conf):
    """{upstream name: [directive lines]} of an nginx configuration."""
    upstreams = {}
    for match in re.finditer(r"upstream\s+(\S+)\s*\{(.*?)\}", conf, re.S):
        lines = [l.split("#")[0].strip() for l in match.group(2).splitlines()]
        upstreams[match.group(1)] = [l for l in lines if l]
    return upstreams


def routing_problems(conf, where):
    problems = []
    upstreams = nginx_upstream(conf)
    passes = re.findall(r"^\s*grpc_pass\s+grpc://([^;\s]+)\s*;", conf, re.M)
    if not passes:
        problems.append(f"{where}: no grpc_pass grpc://...")
    for target in passes:
        if target not in upstreams:
            problems.append(f"{where}: grpc_pass to {target}, which is no "
                            "upstream")
            continue
        if "hash $http_x_tenant_id consistent;" not in upstreams[target]:
            problems.append(f"{where}: upstream {target} lacks "
                            "'hash $http_x_tenant_id consistent;'")
        for line in upstreams[target]:
            if line.startswith("server ") and "max_fails=0" not in line:
                problems.append(f"{where}: '{line}' lacks max_fails=0 (a "
                                "failed shard's tenants would be hashed onto "
                                "another shard)")
    if not re.search(r"^\s*grpc_next_upstream\s+off\s*;", conf, re.M):
        problems.append(f"{where}: no 'grpc_next_upstream off;' (a failed "
                        "call would be retried on another shard)")
    guard = re.search(r'^\s*map\s+"\$http_x_tenant_id:\$uri"\s+\$(\w+)\s*\{'
                      r'[^}]*TenantAdminService/\(\?!ListTenants\$\)', conf,
                      re.M)
    if not guard or not re.search(rf"^\s*if\s+\(\${guard.group(1)}\)\s*\{{",
                                  conf, re.M):
        problems.append(f"{where}: admin calls naming a tenant are not "
                        "refused without x-tenant-id (they would reach any "
                        "shard: an empty hash key means round robin)")
    if not re.search(r"^\s*listen\s+\S+\s+http2\b[^;]*;", conf, re.M):
        problems.append(f"{where}: no 'listen ... http2' (nginx 1.22)")
    return problems


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_test(conf, prefix):
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    path = os.path.join(prefix, "nginx.conf")
    with open(path, "w") as out:
        out.write(conf)
    result = subprocess.run([nginx, "-t", "-q", "-p", prefix, "-c", path],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        return [(result.stderr.strip() or "nginx -t failed").replace(
            prefix, "PREFIX")]
    return []


def have_nginx():
    return bool(shutil.which("nginx") or os.access("/usr/sbin/nginx",
                                                   os.X_OK))


def check_template(path):
    text = open(path).read()
    problems = routing_problems(text, "template")
    for placeholder in ("@PREFIX@", "@LISTEN@", "@SHARDS@"):
        if placeholder not in text:
            problems.append(f"no {placeholder}")
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#") and re.search(r"@[A-Z]+@", line):
            problems.append(f"line {number}: a placeholder in a comment "
                            "(a plain replacement would change the comment)")
    if not re.search(r"^\s*listen\s+@LISTEN@\s+http2\s*;", text, re.M):
        problems.append("no 'listen @LISTEN@ http2;'")
    for directive in ("pid", "error_log", "access_log",
                      "client_body_temp_path", "proxy_temp_path",
                      "fastcgi_temp_path", "uwsgi_temp_path",
                      "scgi_temp_path"):
        values = re.findall(rf"^\s*{directive}\s+(\S+)", text, re.M)
        if not values:
            problems.append(f"no {directive} (nginx would use a path outside"
                            " the prefix)")
        for value in values:
            if not value.startswith("@PREFIX@/"):
                problems.append(f"{directive} {value} is not under @PREFIX@")
    return problems


def render_template(text, prefix, shards):
    lines = "\n        ".join(f"server 127.0.0.1:{p} max_fails=0;"
                              for p in shards)
    return (text.replace("@PREFIX@", prefix)
            .replace("@LISTEN@", f"127.0.0.1:{free_port()}")
            .replace("@SHARDS@", lines))


def check_template_nginx(path):
    if not have_nginx():
        return None
    with tempfile.TemporaryDirectory() as prefix:
        conf = render_template(open(path).read(), prefix,
                               [free_port(), free_port()])
        return nginx_test(conf, prefix)


class Proxy:
    def __init__(self, docs):
        deployments = of_kind(docs, "Deployment")
        if len(deployments) != 1:
            raise ValueError(f"{len(deployments)} Deployments, expected 1")
        self.deployment = deployments[0]
        self.container = containers(self.deployment)[0]
        pod = self.deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        maps = {m["metadata"]["name"]: m for m in of_kind(docs, "ConfigMap")}
        self.config_map = None
        self.mount = None
        for mount in self.container.get("volumeMounts", []):
            name = volumes.get(mount["name"], {}).get("configMap", {}).get(
                "name")
            if name in maps:
                self.config_map = maps[name]
                self.mount = mount["mountPath"].rstrip("/")
        if self.config_map is None:
            raise ValueError("the proxy Deployment mounts no ConfigMap of "
                             "deploy/k8s")
        self.conf = self.config_map["data"].get("nginx.conf", "")
        self.services = [s for s in of_kind(docs, "Service")
                         if s["spec"].get("selector", {}).items() <=
                         self.deployment["spec"]["template"]["metadata"][
                             "labels"].items()]


def check_proxy_routing(proxy, shards):
    problems = routing_problems(proxy.conf, "nginx.conf")
    servers = [l for lines in nginx_upstream(proxy.conf).values()
               for l in lines if l.startswith("server ")]
    service = shards.service["metadata"]["name"] if shards.service else "?"
    expected = [f"{shards.name}-{i}.{service}" for i in range(shards.replicas)]
    found = []
    for line in servers:
        address = line.split()[1].rstrip(";")
        host, _, port = address.rpartition(":")
        found.append(host)
        if not port.isdigit() or int(port) != shards.port:
            problems.append(f"upstream server {address}: port is not the "
                            f"shards' port {shards.port}")
    short = [h if h in expected else
             next((e for e in expected if h.startswith(e + ".")), h)
             for h in found]
    if short != expected:
        problems.append(f"upstream servers {found}, expected one per "
                        f"replica in order: {expected}")
    return problems


def check_proxy_wiring(proxy):
    problems = []
    listens = re.findall(r"^\s*listen\s+(\S+)", proxy.conf, re.M)
    ports = {int(l.rsplit(":", 1)[-1]) for l in listens
             if l.rsplit(":", 1)[-1].isdigit()}
    declared = [p["containerPort"] for p in proxy.container.get("ports", [])]
    if sorted(ports) != sorted(declared):
        problems.append(f"nginx listens on {sorted(ports)}, the container "
                        f"declares {declared}")
    if not proxy.services:
        problems.append("no Service selects the proxy pods")
    for service in proxy.services:
        for port in service["spec"].get("ports", []):
            target = container_port(proxy.container,
                                    port.get("targetPort", port["port"]))
            if target not in ports:
                problems.append(f"Service {service['metadata']['name']} "
                                f"targets {port.get('targetPort')}, nginx "
                                f"listens on {sorted(ports)}")
    command = " ".join(proxy.container.get("command", []) +
                       proxy.container.get("args", []))
    data = proxy.config_map.get("data", {})
    used = re.findall(re.escape(proxy.mount) + r"/([\w.-]+)", command)
    for name in used:
        if name not in data:
            problems.append(f"the command uses {proxy.mount}/{name}, which "
                            "the ConfigMap does not hold")
    if not used:
        problems.append(f"the command uses nothing under {proxy.mount}")
    script = data.get("run.sh", "")
    if script and f"{proxy.mount}/nginx.conf" not in script:
        problems.append(f"run.sh does not read {proxy.mount}/nginx.conf")
    for probe in ("readinessProbe", "livenessProbe"):
        if probe not in proxy.container:
            problems.append(f"proxy: no {probe}")
    problems += security_problems(proxy.deployment, proxy.container, "proxy")
    return problems


def check_proxy_script(proxy):
    script = proxy.config_map.get("data", {}).get("run.sh")
    if script is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".sh") as out:
        out.write(script)
        out.flush()
        result = subprocess.run(["/bin/sh", "-n", out.name], capture_output=True,
                                text=True, timeout=30)
    return [result.stderr.strip()] if result.returncode else []


def check_proxy_nginx(proxy):
    if not have_nginx():
        return None
    with tempfile.TemporaryDirectory() as prefix:
        conf = re.sub(r"(^\s*server\s+)[^:\s;]+:(\d+)",
                      lambda m: f"{m.group(1)}127.0.0.1:{free_port()}",
                      proxy.conf, flags=re.M)
        conf = re.sub(r"(^\s*listen\s+)\S+", lambda m: m.group(1) +
                      f"127.0.0.1:{free_port()}", conf, flags=re.M)
        conf = conf.replace("/tmp/", prefix + "/")
        return nginx_test(conf, prefix)


# --- README and paths --------------------------------------------------------

def deploy_files(repo):
    files = []
    for part in ("docker", "systemd", "k8s", "nginx"):
        directory = os.path.join(repo, "deploy", part)
        if os.path.isdir(directory):
            files += [os.path.join(part, f) for f in sorted(
                os.listdir(directory))]
    return files


def check_readme(repo):
    path = os.path.join(repo, "deploy/README.md")
    if not os.path.exists(path):
        return ["deploy/README.md is missing"]
    text = open(path).read()
    return [f"does not mention {f}" for f in deploy_files(repo)
            if os.path.basename(f) not in text]


def check_no_local_paths(repo):
    root = os.path.realpath(repo)
    problems = []
    for name in deploy_files(repo) + ["README.md"]:
        with open(os.path.join(repo, "deploy", name), errors="replace") as f:
            if root in f.read():
                problems.append(f"deploy/{name} names this checkout's path")
    return problems


# -----------------------------------------------------------------------------

def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    repo, binary = argv[1], argv[2]
    report = Report()
    try:
        flags = ServerFlags(binary)
    except Exception as error:
        report.check("custra-server --help lists its flags", [str(error)])
        print(f"deploy_check: {report.passed} passed, {report.failed} failed")
        return 1
    report.check("custra-server --help lists its flags", [])

    docker_path = os.path.join(repo, "deploy/docker/Dockerfile")
    docker = Dockerfile(docker_path)
    report.run("docker: multi-stage Debian 12 build, runtime without "
               "toolchain", check_docker_stages, docker, repo)
    report.run("docker: runtime USER is not root", check_docker_user, docker)
    report.run("docker: ENTRYPOINT runs custra-server with valid flags",
               check_docker_entrypoint, docker, flags)
    report.run("docker: VOLUME is --data-dir, EXPOSE/HEALTHCHECK use the "
               "--listen port", check_docker_volume_port, docker, flags)
    report.run("docker: Dockerfile.dockerignore keeps build trees out",
               check_dockerignore, repo)

    systemd_dir = os.path.join(repo, "deploy/systemd")
    units = sorted(os.path.join(systemd_dir, f) for f in os.listdir(
        systemd_dir) if f.endswith(".service"))
    env_path = os.path.join(systemd_dir, "custra.env")
    env_example = parse_env_file(env_path) if os.path.exists(env_path) else {}
    if not units:
        report.check("systemd: units present", ["no *.service"])
    for unit in units:
        report.run(f"systemd: {os.path.basename(unit)} hardening, flags, "
                   "data dir, stop timeout", check_unit, unit, flags,
                   env_example)
    verify = "systemd: systemd-analyze verify"
    if shutil.which("systemd-analyze"):
        report.run(verify, check_units_verify, repo, units, binary)
    else:
        report.skip(verify, "systemd-analyze is not installed")

    if yaml is None:
        report.check("k8s: manifests parse", ["python3-yaml is not installed"])
    else:
        docs, errors = load_k8s(repo)
        report.run("k8s: manifests parse, namespace-agnostic, expected kinds",
                   check_k8s_parse, docs, errors, repo)
        report.run("k8s: selectors match pod labels", check_k8s_selectors,
                   docs)
        report.run("k8s: Secret holds a placeholder, not a key",
                   check_k8s_secret, docs)
        try:
            shards = Shards(docs, flags)
        except Exception as error:
            report.check("k8s: StatefulSet of custra-server", [str(error)])
            shards = None
        if shards:
            report.run("k8s: StatefulSet args are valid flags, headless "
                       "serviceName", check_k8s_server, shards)
            report.run("k8s: --listen port = containerPort = gRPC probes = "
                       "headless Service", check_k8s_ports, shards)
            report.run("k8s: --peer names every replica on the --listen "
                       "port", check_k8s_peers, shards)
            report.run("k8s: --data-dir on a volumeClaimTemplate, admin key "
                       "from the Secret", check_k8s_volumes, shards, docs)
            report.run("k8s: server pod non-root, read-only root, grace "
                       "period, image", check_k8s_server_pod, shards, docker,
                       flags)
        try:
            proxy = Proxy(docs)
        except Exception as error:
            report.check("k8s: proxy Deployment and ConfigMap", [str(error)])
            proxy = None
        if proxy and shards:
            report.run("k8s: proxy nginx.conf routes by tenant to one server "
                       "per replica", check_proxy_routing, proxy, shards)
        if proxy:
            report.run("k8s: proxy listen port, Service, ConfigMap mount",
                       check_proxy_wiring, proxy)
            report.run("k8s: proxy run.sh parses (sh -n)", check_proxy_script,
                       proxy)
            name = "k8s: proxy nginx.conf passes nginx -t"
            if have_nginx():
                report.run(name, check_proxy_nginx, proxy)
            else:
                report.skip(name, "nginx is not installed")

    template = os.path.join(repo, "deploy/nginx/custra-shards.conf.template")
    report.run("nginx: template routes by tenant, placeholders, paths under "
               "@PREFIX@", check_template, template)
    name = "nginx: rendered template passes nginx -t"
    if have_nginx():
        report.run(name, check_template_nginx, template)
    else:
        report.skip(name, "nginx is not installed")

    report.run("docs: deploy/README.md mentions every deployment file",
               check_readme, repo)
    report.run("paths: no absolute path of this checkout under deploy/",
               check_no_local_paths, repo)

    print(f"deploy_check: {report.passed} passed, {report.failed} failed, "
          f"{report.skipped} skipped")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
