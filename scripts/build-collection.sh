#!/usr/bin/env bash
# Build the Ansible collection tabiri.homelab into dist/tabiri-homelab-<version>.tar.gz.
#
#   scripts/build-collection.sh [--targets "x86_64 aarch64"] [--profile module] [--placeholders] [--sanity]
#
# 1. compiles the module binaries (each modules/src/bin/<name>.rs with docs plugins/modules/<name>.yml)
#    as static musl builds:
#      cargo build --profile module --target <arch>-unknown-linux-musl -p tabiri-homelab-modules
#    (`rustup target add` for missing targets; aarch64 links with rust-lld, no C toolchain needed);
# 2. copies modules/ without the Rust sources into a staging collection,
#      target/collection/ansible_collections/tabiri/homelab/
#    and puts the binaries where the action plugins look for them:
#      plugins/modules/<name>                x86_64 (always built: Ansible resolves the module here)
#      plugins/modules/bin/<arch>/<name>     every other architecture
#    so the source tree never holds binaries;
# 3. runs `ansible-galaxy collection build` on the staging copy.
# 4. with --sanity: `ansible-test sanity` on a copy of the staging tree outside the git work tree
#    (ansible-test walks up to the nearest .git and would see only tracked files). ANSIBLE_TEST
#    picks the ansible-test to use (default: the one on PATH after scripts/env.sh, i.e. 2.19;
#    "$ANSIBLE218_BIN/ansible-test" for 2.18). ansible-test installs each test's pinned
#    requirements into its own venvs under ~/.ansible/test/venv from PyPI; it runs with HOME set
#    to .tools/ansible-test-home, so those venvs and caches belong to this clone (see below).
#
# --placeholders packs shell-script stand-ins instead of compiled binaries (no cargo): each prints
# a JSON result naming its architecture. For testing the packaging and the architecture dispatch
# only; the tarball goes to dist/placeholders/ so it cannot be mistaken for a release.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$REPO/modules"
PACKAGE=tabiri-homelab-modules
STAGE_ROOT="$REPO/target/collection"
STAGE="$STAGE_ROOT/ansible_collections/tabiri/homelab"
DEFAULT_ARCH=x86_64          # must match DEFAULT_ARCH in plugins/plugin_utils/arch_dispatch.py
SUPPORTED_ARCHES="x86_64 aarch64"

TARGETS="x86_64 aarch64"
PROFILE=module
PLACEHOLDERS=0
SANITY=0

die() { printf 'build-collection: ERROR: %s\n' "$*" >&2; exit 1; }
log() { printf 'build-collection: %s\n' "$*"; }
usage() { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --targets) [ $# -ge 2 ] || die "--targets needs a value"; TARGETS="$2"; shift 2 ;;
    --targets=*) TARGETS="${1#*=}"; shift ;;
    --profile) [ $# -ge 2 ] || die "--profile needs a value"; PROFILE="$2"; shift 2 ;;
    --profile=*) PROFILE="${1#*=}"; shift ;;
    --placeholders) PLACEHOLDERS=1; shift ;;
    --sanity) SANITY=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done

# shellcheck source=scripts/env.sh
. "$REPO/scripts/env.sh"   # ansible-galaxy from .tools (scripts/setup.sh all)
command -v ansible-galaxy >/dev/null || die "ansible-galaxy not found: run scripts/setup.sh all"

# Targets: known, deduplicated, x86_64 included.
arches=()
for a in $TARGETS; do
  case " $SUPPORTED_ARCHES " in *" $a "*) ;; *) die "unsupported target '$a' (supported: $SUPPORTED_ARCHES)" ;; esac
  case " ${arches[*]-} " in *" $a "*) ;; *) arches+=("$a") ;; esac
done
case " ${arches[*]-} " in
  *" $DEFAULT_ARCH "*) ;;
  *) die "--targets must include $DEFAULT_ARCH: its binaries are the modules Ansible resolves (plugins/modules/<name>)" ;;
esac

VERSION="$(sed -n 's/^version:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$SRC/galaxy.yml" | head -n1)"
[ -n "$VERSION" ] || die "no version in $SRC/galaxy.yml"

# Modules: one binary per modules/src/bin/<name>.rs that has sidecar docs plugins/modules/<name>.yml
# (a bin without docs is a helper or an experiment: not packed). Docs without a bin are an error.
# The docs and action plugins are generated (`make collection-docs`, which `make collection` runs
# first); this script packs the committed ones.
bins=()
if [ -d "$SRC/src/bin" ]; then
  for f in "$SRC"/src/bin/*.rs; do [ -e "$f" ] && bins+=("$(basename "$f" .rs)"); done
fi
[ "${#bins[@]}" -gt 0 ] || [ "$PLACEHOLDERS" = 1 ] || die "no modules/src/bin/*.rs: the module crate is missing"
modules=()
for f in "$SRC"/plugins/modules/*.yml; do
  [ -e "$f" ] || continue
  m="$(basename "$f" .yml)"
  if [ "$PLACEHOLDERS" != 1 ]; then
    case " ${bins[*]} " in *" $m "*) ;; *) die "modules/plugins/modules/$m.yml documents a module without modules/src/bin/$m.rs" ;; esac
  fi
  [ -f "$SRC/plugins/action/$m.py" ] || die "module $m has no action plugin modules/plugins/action/$m.py: run 'make collection-docs'"
  modules+=("$m")
done
[ "${#modules[@]}" -gt 0 ] || die "no modules: no modules/plugins/modules/*.yml"
for b in ${bins[@]+"${bins[@]}"}; do
  case " ${modules[*]} " in *" $b "*) ;; *) log "not packing modules/src/bin/$b.rs: no modules/plugins/modules/$b.yml (list it in modules/src/docs.rs MODULES, run 'make collection-docs')" ;; esac
done
log "collection tabiri.homelab $VERSION: modules ${modules[*]}; targets ${arches[*]}"

# Where each architecture's binary goes inside the collection.
dest_of() {  # arch module
  if [ "$1" = "$DEFAULT_ARCH" ]; then echo "plugins/modules/$2"; else echo "plugins/modules/bin/$1/$2"; fi
}

# ELF machine of a file (e_machine at offset 18, little endian): 62 = x86_64, 183 = aarch64.
elf_arch() {
  [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] || { echo "not-elf"; return; }
  case "$(od -An -tu2 -j18 -N2 "$1" | tr -d ' ')" in
    62) echo x86_64 ;; 183) echo aarch64 ;; *) echo other ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# 1. Binaries: BINARY[<arch>/<module>] = path
# ---------------------------------------------------------------------------------------------
declare -A BINARY
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

if [ "$PLACEHOLDERS" = 1 ]; then
  log "PLACEHOLDERS: packing shell-script stand-ins, not the Rust modules"
  for a in "${arches[@]}"; do
    for m in "${modules[@]}"; do
      mkdir -p "$WORK/$a"
      # The NUL byte in the second line makes Ansible treat the file as a binary module (it looks
      # for non-text bytes in the first KiB); /bin/sh does not care about a comment.
      {
        printf '#!/bin/sh\n# placeholder \000 binary\n'
        cat <<EOF
# Stand-in for the $a build of tabiri.homelab.$m, made by scripts/build-collection.sh --placeholders.
flag() { if grep -q "\"\$1\": true" "\$2"; then echo true; else echo false; fi; }
check=\$(flag _ansible_check_mode "\$1"); diff=\$(flag _ansible_diff "\$1"); nolog=\$(flag _ansible_no_log "\$1")
d=""
if [ "\$diff" = true ]; then d=', "diff": {"before": "", "after": "placeholder $a\\n", "before_header": "$m", "after_header": "$m"}'; fi
printf '{"changed": false, "failed": false, "placeholder": true, "module": "$m", "arch": "$a", "uname": "%s", "user": "%s", "check_mode": %s, "diff_mode": %s, "no_log": %s, "msg": "placeholder $m binary for $a"%s}\n' \
  "\$(uname -m)" "\$(id -un)" "\$check" "\$diff" "\$nolog" "\$d"
EOF
      } >"$WORK/$a/$m"
      BINARY["$a/$m"]="$WORK/$a/$m"
    done
  done
else
  command -v cargo >/dev/null || die "cargo not found"
  [ -f "$SRC/Cargo.toml" ] || die "no modules/Cargo.toml: the module crate is missing"
  installed="$(rustup target list --installed 2>/dev/null || true)"
  for a in "${arches[@]}"; do
    triple="$a-unknown-linux-musl"
    if ! grep -qx "$triple" <<<"$installed"; then
      log "rustup target add $triple"
      rustup target add "$triple"
    fi
    # Cross-linking: rust-lld ships with rustup's toolchain; no aarch64 gcc needed for pure-Rust
    # crates. (Crates that compile C would need CC_aarch64_unknown_linux_musl, e.g. Debian's
    # gcc-aarch64-linux-gnu; use it when it is there.) Same effect as RUSTFLAGS="-C linker=rust-lld"
    # without overriding the caller's RUSTFLAGS.
    envs=()
    if [ "$a" = aarch64 ]; then
      envs+=("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER:-rust-lld}")
      if [ -z "${CC_aarch64_unknown_linux_musl:-}" ] && command -v aarch64-linux-gnu-gcc >/dev/null; then
        envs+=("CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc")
      fi
    fi
    bin_args=()
    for m in "${modules[@]}"; do bin_args+=(--bin "$m"); done
    log "cargo build --profile $PROFILE --target $triple -p $PACKAGE ${bin_args[*]}"
    if ! env ${envs[@]+"${envs[@]}"} cargo build --manifest-path "$SRC/Cargo.toml" -p "$PACKAGE" "${bin_args[@]}" \
        --profile "$PROFILE" --target "$triple" --message-format=json-render-diagnostics \
        >"$WORK/cargo-$a.json"; then
      [ "$PROFILE" != module ] || log "hint: profile 'module' must be defined in the workspace root Cargo.toml ([profile.module])"
      die "cargo build for $triple failed"
    fi
    # The executables cargo reports (wherever CARGO_TARGET_DIR or build.target-dir put them).
    while IFS=$'\t' read -r name path; do
      BINARY["$a/$name"]="$path"
    done < <(python3 - "$WORK/cargo-$a.json" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") == "compiler-artifact" and msg.get("executable") and "bin" in msg["target"]["kind"]:
        print(msg["target"]["name"], msg["executable"], sep="\t")
PY
    )
    for m in "${modules[@]}"; do
      b="${BINARY["$a/$m"]:-}"
      [ -n "$b" ] && [ -f "$b" ] || die "cargo built no binary '$m' for $triple"
      got="$(elf_arch "$b")"
      [ "$got" = "$a" ] || die "$b is $got, expected an $a ELF binary"
      if LC_ALL=C grep -q '/ld-linux\|/ld-musl' <(head -c 4096 "$b"); then
        die "$b is dynamically linked; the modules must be static musl builds"
      fi
    done
  done
fi

# ---------------------------------------------------------------------------------------------
# 2. Staging copy of modules/ without the Rust crate, plus the binaries
# ---------------------------------------------------------------------------------------------
rm -rf "$STAGE_ROOT"
mkdir -p "$STAGE"
tar -C "$SRC" \
  --exclude=./Cargo.toml --exclude=./Cargo.lock --exclude=./build.rs --exclude=./src \
  --exclude=./benches --exclude=./target --exclude=./tests/output --exclude=./.gitignore \
  --exclude='__pycache__' --exclude='*.pyc' --exclude='./tabiri-homelab-*.tar.gz' \
  -cf - . | tar -C "$STAGE" -xf -
# A binary left in the source tree by hand must not sneak in.
find "$STAGE/plugins/modules" -type f ! -name '*.yml' -delete
rm -rf "$STAGE/plugins/modules/bin"

for a in "${arches[@]}"; do
  for m in "${modules[@]}"; do
    dest="$STAGE/$(dest_of "$a" "$m")"
    mkdir -p "$(dirname "$dest")"
    install -m 0755 "${BINARY["$a/$m"]}" "$dest"
  done
done

# ansible-test rejects ignore entries for files that do not exist: drop the lines of
# architectures not built this time (e.g. --targets x86_64).
for f in "$STAGE"/tests/sanity/ignore-*.txt; do
  [ -e "$f" ] || continue
  while read -r path rest; do
    if [ -e "$STAGE/$path" ]; then printf '%s %s\n' "$path" "$rest"; fi
  done <"$f" >"$f.new"
  mv "$f.new" "$f"
done

# ---------------------------------------------------------------------------------------------
# 3. ansible-galaxy collection build
# ---------------------------------------------------------------------------------------------
OUT="$REPO/dist"
[ "$PLACEHOLDERS" = 1 ] && OUT="$REPO/dist/placeholders"
mkdir -p "$OUT"
# dist/ holds build output only: keep it out of git without touching the root .gitignore.
[ -e "$REPO/dist/.gitignore" ] || printf '*\n' >"$REPO/dist/.gitignore"
ansible-galaxy collection build "$STAGE" --output-path "$OUT" --force >"$WORK/galaxy.log" 2>&1 \
  || { cat "$WORK/galaxy.log" >&2; die "ansible-galaxy collection build failed"; }
TARBALL="$OUT/tabiri-homelab-$VERSION.tar.gz"
[ -f "$TARBALL" ] || { cat "$WORK/galaxy.log" >&2; die "ansible-galaxy wrote no $TARBALL"; }

log "binaries:"
for a in "${arches[@]}"; do
  for m in "${modules[@]}"; do
    rel="$(dest_of "$a" "$m")"
    printf '  %-48s %9s bytes\n' "$rel" "$(stat -c %s "$STAGE/$rel")"
  done
done
log "wrote $TARBALL ($(stat -c %s "$TARBALL") bytes)"
log "staging copy: $STAGE"

# ---------------------------------------------------------------------------------------------
# 4. ansible-test sanity (--sanity)
# ---------------------------------------------------------------------------------------------
# ansible-test bootstraps pip into each test venv with a get-pip.py it downloads from its own
# file server and caches as ~/.ansible/test/cache/get_pip_<version>.py. Only the package
# registries are reachable here, so the cache always holds a stand-in that does the same with
# ensurepip and the package index.
# ansible-test passes only HOME (and PATH, LC_ALL) to the pips it runs in its venvs: PIP_CERT,
# SSL_CERT_FILE, PIP_INDEX_URL and the like are dropped, so on a machine that reaches the index
# through its own CA bundle those pips fail (CERTIFICATE_VERIFY_FAILED). And ~/.ansible/test is
# shared state outside the clone: a venv left there by an earlier run hides both faults. So
# ansible-test gets a HOME of its own under .tools/, built from scratch in every fresh clone,
# holding a pip.conf with the pip settings in force here (files and environment alike).
SANITY_HOME="$REPO/.tools/ansible-test-home"
write_sanity_pip_conf() {  # python
  local conf="$SANITY_HOME/.config/pip/pip.conf" line key value cert=""
  mkdir -p "$(dirname "$conf")"
  {
    echo "# Written by scripts/build-collection.sh: the pip settings of the machine, for ansible-test's venvs."
    echo "[global]"
    while IFS= read -r line; do
      key="${line%%=*}"; key="${key##*.}"; value="${line#*=}"; value="${value#\'}"; value="${value%\'}"
      case "$key" in
        cert|index-url|extra-index-url|find-links|trusted-host|timeout|default-timeout|client-cert|proxy)
          [ "$key" = cert ] && cert="$value"
          printf '%s = %s\n' "$key" "$value" ;;
      esac
    done < <("$1" -m pip config list 2>/dev/null | sort -u)
    if [ -z "$cert" ]; then
      for value in "${REQUESTS_CA_BUNDLE:-}" "${SSL_CERT_FILE:-}"; do
        if [ -n "$value" ] && [ -f "$value" ]; then printf 'cert = %s\n' "$value"; break; fi
      done
    fi
  } | awk '!seen[$1]++' >"$conf"
}

ensure_get_pip() {  # ansible-test
  local at py src ver cache
  at="$(readlink -f "$(command -v "$1")")" || die "$1 not found"
  py="$(dirname "$at")/python"
  src="$("$py" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py"
  ver="$(sed -n "s/^ *pip='\([0-9.]*\)',\{0,1\}$/\1/p" "$src" | head -n1)"
  [ -n "$ver" ] || { log "could not find ansible-test's pip version; not seeding get-pip"; return; }
  cache="$SANITY_HOME/.ansible/test/cache/get_pip_${ver//./_}.py"
  mkdir -p "$(dirname "$cache")"
  log "caching a get-pip stand-in (ensurepip + pip==$ver from the package index) at $cache"
  cat >"$cache" <<'PY'
"""Stand-in for ansible-test's get-pip.py, written by scripts/build-collection.sh.

ansible-test runs this inside a venv created --without-pip, with pip install arguments such as
`pip==24.2 --no-setuptools --no-wheel`: bootstrap pip with the standard library's ensurepip,
then let it install the requested packages from the package index.
"""
import ensurepip
import os
import subprocess
import sys

# ensurepip sets PIP_CONFIG_FILE=/dev/null in this process's environment; the pip run below
# must read the machine's pip configuration (its CA bundle above all), so restore it.
saved = os.environ.get('PIP_CONFIG_FILE')
ensurepip.bootstrap(upgrade=True, default_pip=True)
env = dict(os.environ)
env.pop('PIP_CONFIG_FILE', None)
if saved is not None:
    env['PIP_CONFIG_FILE'] = saved
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args, env=env)
PY
}

if [ "$SANITY" = 1 ]; then
  ANSIBLE_TEST="${ANSIBLE_TEST:-ansible-test}"
  SANITY_ROOT="$WORK/sanity"
  mkdir -p "$SANITY_ROOT/ansible_collections/tabiri"
  cp -a "$STAGE" "$SANITY_ROOT/ansible_collections/tabiri/homelab"
  write_sanity_pip_conf "$(dirname "$(readlink -f "$(command -v "$ANSIBLE_TEST")")")/python"
  ensure_get_pip "$ANSIBLE_TEST"
  # The Python ansible-test runs with (its venv's), the only one known to have what it needs.
  python_version="$("$(dirname "$(readlink -f "$(command -v "$ANSIBLE_TEST")")")/python" \
    -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  log "$("$ANSIBLE_TEST" --version) sanity --python $python_version"
  (cd "$SANITY_ROOT/ansible_collections/tabiri/homelab" && HOME="$SANITY_HOME" "$ANSIBLE_TEST" sanity --python "$python_version" --color no) \
    || die "ansible-test sanity failed"
  log "ansible-test sanity passed"
fi
