#!/usr/bin/env bash
# Validates deploy/ (no build, no root needed except to install python3-yaml):
#   1. every YAML file under deploy/ parses (PyYAML, duplicate keys refused); every Kubernetes
#      document has apiVersion, kind and metadata.name, its namespace is the one namespace.yaml
#      makes, selectors match their pod templates, volume mounts and probe ports exist, and
#      every $(VAR) in a container's args is defined in its env;
#   2. every option given to `cella controller` / `cella agent` in the systemd units, the
#      environment files and the manifests is declared in ControllerCommand.swift /
#      AgentCommand.swift (read from the source), with a value where it takes one and none where
#      it is a flag; every variable an environment file sets is one a unit or `cella` reads;
#   3. `systemd-analyze verify` accepts both units and `systemd-analyze security` rates them no
#      worse than today (when systemd-analyze exists; skipped visibly otherwise);
#   4. scripts/check-seccomp-profile.sh passes.
# Prints what failed and exits non-zero on any failure.
#
# PyYAML: taken from whichever python3 has it. If none has, the script installs python3-yaml
# with apt-get when it runs as root and apt-get exists, and fails with a message otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
step() {
  local name=$1; shift
  echo "== $name"
  if "$@"; then echo "ok: $name"; else echo "FAIL: $name" >&2; failed+=("$name"); fi
}

find_python_yaml() {
  local py
  for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import yaml' 2>/dev/null; then
      PYTHON=$(command -v "$py"); return 0
    fi
  done
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "PyYAML missing: installing python3-yaml with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends python3 python3-yaml >/dev/null ||
      { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends python3 python3-yaml >/dev/null; }
    if /usr/bin/python3 -c 'import yaml' 2>/dev/null; then PYTHON=/usr/bin/python3; return 0; fi
  fi
  echo "PyYAML is not available: install it (Debian: apt-get install python3-yaml; or pip install pyyaml), or run this script as root on a machine with apt-get" >&2
  return 1
}

check_manifests_and_options() {
  "$PYTHON" - <<'PY'
import glob, os, re, shlex, sys
import yaml

errors = []
def fail(where, message):
    errors.append(f"{where}: {message}")

# --- YAML: duplicate keys are an error (PyYAML would keep the last one silently) ------------
class StrictLoader(yaml.SafeLoader):
    pass
def construct_mapping(loader, node, deep=False):
    keys = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in keys:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        keys.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)
StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)

yaml_files = sorted(p for p in glob.glob("deploy/**/*", recursive=True) if p.endswith((".yaml", ".yml")))
if not yaml_files:
    fail("deploy/", "no YAML files found")
docs = []  # (file, index, document)
for path in yaml_files:
    try:
        with open(path, encoding="utf-8") as f:
            loaded = list(yaml.load_all(f, Loader=StrictLoader))
    except yaml.YAMLError as e:
        fail(path, f"not well-formed YAML: {e}")
        continue
    for i, doc in enumerate(loaded):
        if doc is not None:
            docs.append((path, i, doc))
    print(f"  parsed {path}: {sum(d is not None for d in loaded)} document(s)")

# --- Kubernetes documents -------------------------------------------------------------------
k8s = []
for path, i, doc in docs:
    if not path.startswith("deploy/kubernetes/"):
        continue
    where = f"{path}[{i}]"
    if not isinstance(doc, dict):
        fail(where, "a Kubernetes document must be a mapping"); continue
    ok = True
    for key in ("apiVersion", "kind"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            fail(where, f"missing {key}"); ok = False
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        fail(where, "missing metadata.name"); ok = False
    if ok:
        k8s.append((f"{where} {doc['kind']}/{meta['name']}", doc))

namespaces = {d["metadata"]["name"] for _, d in k8s if d["kind"] == "Namespace"}
workloads = []  # (where, pod template)
for where, doc in k8s:
    kind, meta, spec = doc["kind"], doc["metadata"], doc.get("spec") or {}
    if kind != "Namespace" and namespaces and meta.get("namespace") not in namespaces:
        fail(where, f"namespace {meta.get('namespace')!r} is not one namespace.yaml makes ({sorted(namespaces)})")
    if kind in ("Deployment", "DaemonSet", "StatefulSet"):
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            fail(where, f"spec.selector.matchLabels {selector} does not match the pod template's labels {labels}")
        pod = template.get("spec") or {}
        workloads.append((where, labels, pod))
        volumes = {v.get("name") for v in pod.get("volumes") or []}
        for c in pod.get("containers") or []:
            cw = f"{where} container {c.get('name')}"
            for m in c.get("volumeMounts") or []:
                if m.get("name") not in volumes:
                    fail(cw, f"volumeMount {m.get('name')!r} has no volume")
            ports = {p.get("name") for p in c.get("ports") or []} | {p.get("containerPort") for p in c.get("ports") or []}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
                if port is not None and port not in ports:
                    fail(cw, f"{probe} port {port!r} is not a port of the container")
            defined = {e.get("name") for e in c.get("env") or []}
            for arg in (c.get("command") or []) + (c.get("args") or []):
                for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(arg)):
                    if var not in defined:
                        fail(cw, f"$({var}) is not defined in env (Kubernetes would pass it literally)")
for where, doc in k8s:
    spec = doc.get("spec") or {}
    if doc["kind"] == "Service":
        selector = spec.get("selector") or {}
        targets = [w for w in workloads if selector and all(w[1].get(k) == v for k, v in selector.items())]
        if not targets:
            fail(where, f"selector {selector} matches no pod template here")
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            names = {p.get(k) for _, _, pod in targets for c in pod.get("containers") or [] for p in c.get("ports") or [] for k in ("name", "containerPort")}
            if targets and target not in names:
                fail(where, f"targetPort {target!r} is not a container port of the selected pods")
    if doc["kind"] == "NetworkPolicy":
        selector = (spec.get("podSelector") or {}).get("matchLabels") or {}
        if not any(all(w[1].get(k) == v for k, v in selector.items()) for w in workloads):
            fail(where, f"podSelector {selector} matches no pod template here")
print(f"  {len(k8s)} Kubernetes object(s): " + ", ".join(w.split(' ', 1)[1] for w, _ in k8s))

# --- The options `cella controller` and `cella agent` declare --------------------------------
def declared_options(path):
    source = open(path, encoding="utf-8").read()
    options = {"--help": ("flag", None), "-h": ("flag", None), "--version": ("flag", None)}
    found = re.findall(r"@(Option|Flag)\((.*?)\)\s*\n\s*var (\w+)(?:\s*:\s*([\w.?]+))?(?:\s*=\s*([^\n]+))?", source, re.S)
    if not found:
        sys.exit(f"cannot find any @Option or @Flag in {path}; update scripts/check-deploy.sh")
    for attribute, arguments, name, type_name, default in found:
        if re.search(r"\bname:", arguments):
            sys.exit(f"{path}: {name} sets a custom name; teach scripts/check-deploy.sh to read it")
        flag = "--" + re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", name).lower()
        if attribute == "Flag":
            options[flag] = ("flag", None)
            continue
        kind = (type_name or "").rstrip("?")
        if not kind and default:
            kind = "String" if default.strip().startswith('"') else ("Int" if re.match(r"\d", default.strip()) else "")
        choices = None
        m = re.search(r"Log level: ([a-z, ]+)\.", arguments)
        if m:
            choices = {c.strip() for c in m.group(1).split(",")}
        options[flag] = (kind or "String", choices)
    return options, set(re.findall(r'environment\["([A-Z_]+)"\]', source))

commands = {}
environment_read = set()
for sub, path in (("controller", "Sources/CellaCLI/Commands/Controller/ControllerCommand.swift"),
                  ("agent", "Sources/CellaCLI/Commands/Agent/AgentCommand.swift")):
    commands[sub], env = declared_options(path)
    environment_read |= env
    print(f"  cella {sub}: {len(commands[sub]) - 3} options in {os.path.basename(path)}")

def check_arguments(where, sub, tokens):
    """tokens: what follows `cella SUB`. Tokens that are whole variable references are skipped."""
    if sub not in commands:
        fail(where, f"unknown subcommand {sub!r}"); return
    options = commands[sub]
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if re.fullmatch(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", token):
            i += 1; continue
        name, _, inline = token.partition("=")
        if not token.startswith("-"):
            fail(where, f"unexpected argument {token!r} (cella {sub} takes no positional arguments)")
        elif name not in options:
            fail(where, f"cella {sub} has no option {name}")
        else:
            kind, choices = options[name]
            if kind == "flag":
                if inline:
                    fail(where, f"{name} is a flag and takes no value")
            else:
                value = inline if "=" in token else (tokens[i + 1] if i + 1 < len(tokens) else None)
                if "=" not in token:
                    i += 1
                if value is None or (value.startswith("--") and "=" not in token):
                    fail(where, f"{name} needs a value")
                elif "$" not in value:
                    if kind in ("Int", "Int64") and not re.fullmatch(r"-?\d+", value):
                        fail(where, f"{name} takes an integer, not {value!r}")
                    if kind == "Double" and not re.fullmatch(r"-?\d+(\.\d+)?", value):
                        fail(where, f"{name} takes a number, not {value!r}")
                    if choices and value not in choices:
                        fail(where, f"{name} takes one of {sorted(choices)}, not {value!r}")
        i += 1

# systemd units: ExecStart=/usr/local/bin/cella SUB ...
unit_variables = {}  # variable -> subcommand
unit_files = sorted(glob.glob("deploy/systemd/*.service"))
if not unit_files:
    fail("deploy/systemd", "no units found")
for path in unit_files:
    starts = [l.split("=", 1)[1] for l in open(path, encoding="utf-8") if l.startswith("ExecStart=")]
    if len(starts) != 1:
        fail(path, f"expected one ExecStart=, found {len(starts)}"); continue
    tokens = starts[0].split()
    expected = os.path.basename(path)[len("cella-"):-len(".service")]
    if tokens[:2] != ["/usr/local/bin/cella", expected]:
        fail(path, f"ExecStart should run /usr/local/bin/cella {expected}, runs {' '.join(tokens[:2])}")
        continue
    for t in tokens[2:]:
        m = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", t)
        if m:
            unit_variables[m.group(1)] = expected
    check_arguments(f"{path} ExecStart", expected, tokens[2:])

# Environment files the units read: KEY=VALUE; *_ARGS split at whitespace as systemd does.
env_files = sorted(glob.glob("deploy/config/*.env"))
if not env_files:
    fail("deploy/config", "no environment files found")
for path in env_files:
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.strip()
        where = f"{path}:{n}"
        commented = re.fullmatch(r"#\s*([A-Z_][A-Z0-9_]*)=(.*)", line)
        if not line or (line.startswith("#") and not commented):
            continue
        m = commented or re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line)
        if not m:
            fail(where, f"not a KEY=VALUE line: {line!r}"); continue
        key, value = m.group(1), m.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if key in unit_variables:
            check_arguments(f"{where} {key}", unit_variables[key], value.split())
        elif key not in environment_read:
            fail(where, f"{key} is read by neither unit nor cella (known: {sorted(set(unit_variables) | environment_read)})")

# Manifests: containers whose command runs cella.
for where, labels, pod in workloads:
    for c in pod.get("containers") or []:
        command = [str(x) for x in c.get("command") or []]
        if command and command[0].endswith("/cella") and len(command) >= 2:
            check_arguments(f"{where} container {c.get('name')}", command[1], command[2:] + [str(a) for a in c.get("args") or []])

if errors:
    for e in errors:
        print(f"  FAIL {e}", file=sys.stderr)
    sys.exit(1)
print("  units, environment files and manifests use only options the sources declare")
PY
}

# systemd-analyze verify refuses a unit whose ExecStart binary does not exist, and this check
# must not depend on cella being installed. So it verifies copies of the units in a temporary
# directory, with /usr/local/bin/cella replaced by a stub executable there; everything else in
# the copies is unchanged. Unknown keys and bad values only print warnings (exit status 0), so
# any output naming one of the units counts as a failure.
check_units() {
  if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "skip: systemd-analyze not installed: units not verified"
    return 0
  fi
  local dir rc=0 unit out name
  dir=$(mktemp -d)
  printf '#!/bin/sh\nexit 0\n' > "$dir/cella"
  chmod 755 "$dir/cella"
  local copies=()
  for unit in deploy/systemd/*.service; do
    sed "s#/usr/local/bin/cella#$dir/cella#g" "$unit" > "$dir/$(basename "$unit")"
    copies+=("$dir/$(basename "$unit")")
  done
  out=$(systemd-analyze verify --man=no "${copies[@]}" 2>&1) || { echo "systemd-analyze verify exited non-zero" >&2; rc=1; }
  [ -n "$out" ] && echo "$out"
  for unit in "${copies[@]}"; do
    name=$(basename "$unit")
    if grep -qF "$name" <<<"$out"; then echo "systemd-analyze verify complained about $name (above)" >&2; rc=1; fi
  done
  # Exposure scores (0 safest, 10 worst) as systemd 252 (Debian 12) weighs them: the controller
  # scored 1.2 and the agent 8.9 when written. The thresholds (x10) catch hardening removed by
  # mistake; newer systemd versions weigh differently, so adjust them with a reason if needed.
  local -A threshold=([cella-controller.service]=20 [cella-agent.service]=90)
  if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
    for unit in "${copies[@]}"; do
      name=$(basename "$unit")
      out=$(systemd-analyze security --offline=true --threshold="${threshold[$name]:-100}" "$unit" 2>&1)
      local status=$?
      echo "  $(grep -F 'Overall exposure level' <<<"$out" | sed 's/^→ //') (threshold $(( ${threshold[$name]:-100} / 10 )).$(( ${threshold[$name]:-100} % 10 )))"
      if [ "$status" -ne 0 ]; then echo "$name: exposure above its threshold, or security analysis failed:" >&2; echo "$out" | tail -5 >&2; rc=1; fi
    done
  else
    echo "  skip: this systemd-analyze has no security --offline"
  fi
  rm -rf "$dir"
  return "$rc"
}

if find_python_yaml; then
  echo "using $PYTHON (PyYAML $("$PYTHON" -c 'import yaml; print(yaml.__version__)'))"
  step "YAML, Kubernetes objects, options against the sources" check_manifests_and_options
else
  failed+=("PyYAML")
fi
step "systemd units" check_units
step "seccomp profile" bash scripts/check-seccomp-profile.sh

if [ ${#failed[@]} -ne 0 ]; then
  echo "check-deploy: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "check-deploy: ok"
