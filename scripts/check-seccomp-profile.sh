#!/usr/bin/env bash
# Checks that deploy/seccomp/default.json, the profile every sandbox gets, cannot drift from what
# the binary enforces, from what Cella's loader accepts, or from docs/seccomp.md:
#   1. Sources/CellaSandbox/Resources/default.json (what Package.swift embeds in the binary) is
#      the same file: a symlink to it, or a byte-identical copy.
#   2. Package.swift still embeds Resources/default.json into CellaSandbox.
#   3. The profile uses only the keys, actions and operators that SeccompProfile.swift parses
#      (read from the Swift source), is an allowlist (default action SCMP_ACT_ERRNO), names no
#      architectures (the loader rejects them), and has no empty or duplicate rules.
#   4. The clone rule masks the same CLONE_NEW* bits as the template rule in SeccompProfile.swift
#      and as docs/seccomp.md says.
#   5. docs/seccomp.md: the number of allowed names, the personality values, and that no call the
#      "What is denied" section names is allowed unconditionally.
#   6. With scmp_sys_resolver (Debian package "seccomp") installed: every name is a syscall that
#      libseccomp knows on x86_64 (on other machines this step is skipped, visibly).
# Needs python3 (no modules beyond the standard library). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=deploy/seccomp/default.json
embedded=Sources/CellaSandbox/Resources/default.json
fail=0

if [ ! -e "$embedded" ]; then
  echo "FAIL: $embedded is missing (Package.swift embeds it into the binary)" >&2; fail=1
elif [ "$(readlink -f "$embedded")" = "$(readlink -f "$profile")" ]; then
  echo "ok: $embedded is a link to $profile"
elif cmp -s "$embedded" "$profile"; then
  echo "ok: $embedded is a copy of $profile (identical; a symlink would keep it so)"
else
  echo "FAIL: $embedded differs from $profile: the binary would enforce another profile than the one shipped in deploy/" >&2
  fail=1
fi

if grep -q 'embedInCode("Resources/default.json")' Package.swift; then
  echo "ok: Package.swift embeds Resources/default.json"
else
  echo "FAIL: Package.swift no longer embeds Resources/default.json; update this check and docs/seccomp.md" >&2
  fail=1
fi

python3 - "$profile" Sources/CellaSandbox/Seccomp/SeccompProfile.swift docs/seccomp.md <<'PY' || fail=1
import json, re, sys

profile_path, swift_path, doc_path = sys.argv[1:4]
swift = open(swift_path, encoding="utf-8").read()
doc = open(doc_path, encoding="utf-8").read()
errors = []

def swift_set(name):
    m = re.search(r"static let %s: Set<String> = \[([^\]]*)\]" % name, swift)
    if not m:
        sys.exit(f"FAIL: cannot find {name} in {swift_path}; update scripts/check-seccomp-profile.sh")
    return set(re.findall(r'"([^"]+)"', m.group(1)))

def swift_enum_values(enum):
    m = re.search(r"enum %s: String[^{]*\{(.*?)\n\s*\}" % enum, swift, re.S)
    if not m:
        sys.exit(f"FAIL: cannot find enum {enum} in {swift_path}; update scripts/check-seccomp-profile.sh")
    return set(re.findall(r'= "(SCMP_[A-Z_]+)"', m.group(1)))

top_keys, rule_keys, arg_keys = swift_set("topKeys"), swift_set("ruleKeys"), swift_set("argKeys")
actions, operators = swift_enum_values("Action"), swift_enum_values("Operator")

with open(profile_path, encoding="utf-8") as f:
    try:
        profile = json.load(f)
    except ValueError as e:
        sys.exit(f"FAIL: {profile_path} is not valid JSON: {e}")

for key in sorted(set(profile) - top_keys):
    errors.append(f"top-level key {key!r} is not one SeccompProfile.swift accepts {sorted(top_keys)}")
if profile.get("architectures"):
    errors.append("\"architectures\" is set; Cella's loader rejects it (native ABI only)")
if profile.get("defaultAction") != "SCMP_ACT_ERRNO" or profile.get("defaultErrnoRet") != 1:
    errors.append("the default must be SCMP_ACT_ERRNO with errno 1 (EPERM): docs/seccomp.md calls it an allowlist")

allowed, unconditional, seen_rules = set(), set(), set()
personality, clone_masks = set(), []
for i, rule in enumerate(profile.get("syscalls", [])):
    where = f"syscalls[{i}]"
    for key in sorted(set(rule) - rule_keys):
        errors.append(f"{where}: key {key!r} is not one SeccompProfile.swift accepts")
    names = rule.get("names") or []
    if not names:
        errors.append(f"{where}: no names")
    if rule.get("action") not in actions:
        errors.append(f"{where}: action {rule.get('action')!r} is not one of {sorted(actions)}")
    args = rule.get("args") or []
    for j, arg in enumerate(args):
        for key in sorted(set(arg) - arg_keys):
            errors.append(f"{where}.args[{j}]: key {key!r} is not one SeccompProfile.swift accepts")
        if arg.get("op") not in operators:
            errors.append(f"{where}.args[{j}]: op {arg.get('op')!r} is not one of {sorted(operators)}")
    signature = json.dumps([sorted(names), rule.get("action"), rule.get("errnoRet"), args], sort_keys=True)
    if signature in seen_rules:
        errors.append(f"{where}: duplicates an earlier rule")
    seen_rules.add(signature)
    if rule.get("action") == "SCMP_ACT_ALLOW":
        for n in names:
            if not args and n in unconditional:
                errors.append(f"{where}: {n} is allowed unconditionally twice")
        allowed.update(names)
        if not args:
            unconditional.update(names)
        if names == ["personality"] and len(args) == 1:
            personality.add(args[0]["value"])
        if names == ["clone"] and len(args) == 1 and args[0].get("op") == "SCMP_CMP_MASKED_EQ":
            clone_masks.append((args[0]["value"], args[0].get("valueTwo", 0)))

# 4. clone: the default rule, the template rule in Swift and the docs agree on the mask.
swift_mask = re.search(r'names: \["clone"\].*?value: (0x[0-9A-Fa-f_]+)', swift, re.S)
doc_mask = re.search(r"none of the bits in (0x[0-9A-Fa-f]+)", doc)
if len(clone_masks) != 1 or clone_masks[0][1] != 0:
    errors.append(f"expected one clone rule (flags & mask) == 0, found {clone_masks}")
elif not swift_mask or int(swift_mask.group(1).replace("_", ""), 16) != clone_masks[0][0]:
    errors.append(f"the clone mask {clone_masks[0][0]:#x} differs from the template rule in {swift_path}")
elif not doc_mask or int(doc_mask.group(1), 16) != clone_masks[0][0]:
    errors.append(f"the clone mask {clone_masks[0][0]:#x} differs from docs/seccomp.md")
if "clone" in unconditional:
    errors.append("clone is allowed without its flag check")

# 5. docs/seccomp.md
m = re.search(r"^(\d+) names, grouped by purpose", doc, re.M)
if not m:
    errors.append("docs/seccomp.md no longer says 'N names, grouped by purpose'; update this check")
elif int(m.group(1)) != len(allowed):
    errors.append(f"docs/seccomp.md says {m.group(1)} names, the profile allows {len(allowed)}")
m = re.search(r"`personality`: only ([^.]*)\.", doc)
doc_personas = {int(x, 16) for x in re.findall(r"0x[0-9a-fA-F]+", m.group(1))} if m else None
if doc_personas != personality:
    errors.append(f"personality values: docs/seccomp.md {sorted(doc_personas or [])}, profile {sorted(personality)}")
section = re.search(r"## What is denied, and why\n(.*?)\n## ", doc, re.S)
if not section:
    errors.append("docs/seccomp.md has no 'What is denied, and why' section; update this check")
else:
    denied = set(re.findall(r"`([a-z_][a-z0-9_]*)`", section.group(1)))
    for n in sorted(denied & unconditional):
        errors.append(f"docs/seccomp.md says {n} is denied, the profile allows it")

if errors:
    for e in errors:
        print(f"FAIL: {profile_path}: {e}", file=sys.stderr)
    sys.exit(1)
print(f"ok: {profile_path}: {len(allowed)} allowed names, keys/actions/operators as SeccompProfile.swift parses them, "
      f"clone mask {clone_masks[0][0]:#x}, docs/seccomp.md agrees")
PY

# 6. Every name is a syscall libseccomp knows on x86_64 (the command docs/seccomp.md gives).
if command -v scmp_sys_resolver >/dev/null && [ "$(uname -m)" = x86_64 ]; then
  unknown=$(python3 -c 'import json,sys; print("\n".join(sorted({n for r in json.load(open(sys.argv[1]))["syscalls"] for n in r["names"]})))' "$profile" |
    while read -r name; do echo "$name $(scmp_sys_resolver -a x86_64 "$name")"; done | awk '$2 < 0')
  if [ -n "$unknown" ]; then
    echo "FAIL: names libseccomp does not resolve on x86_64 (name, number):" >&2
    echo "$unknown" >&2
    fail=1
  else
    echo "ok: every name resolves on x86_64 (scmp_sys_resolver)"
  fi
else
  echo "skip: scmp_sys_resolver not installed (Debian package seccomp) or not x86_64: names not resolved"
fi

if [ "$fail" -ne 0 ]; then
  echo "check-seccomp-profile: FAILED" >&2
  exit 1
fi
echo "check-seccomp-profile: ok"
