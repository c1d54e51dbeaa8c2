# shellcheck shell=sh
# Source this (POSIX sh or bash) to put the pinned tools from scripts/setup.sh first on PATH:
#   . scripts/env.sh
# Safe to source repeatedly and under `set -eu`. Sets no shell options.

# Repo root: from this file's path under bash; under sh (make's default shell) the sourcing
# shell's cwd, which for Makefile recipes is the repo root.
if [ -n "${BASH_SOURCE:-}" ]; then
  _homelab_root=$(cd "$(dirname "$BASH_SOURCE")/.." && pwd)
elif [ -f "./scripts/env.sh" ] && [ -f "./scripts/setup.sh" ]; then
  _homelab_root=$(pwd)
else
  _homelab_root=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
fi

TOOLS_DIR="$_homelab_root/.tools"
export TOOLS_DIR

case ":${PATH:-}:" in
  ":$TOOLS_DIR/bin:$TOOLS_DIR/venv/bin:"*) ;;
  *) PATH="$TOOLS_DIR/bin:$TOOLS_DIR/venv/bin${PATH:+:$PATH}" ;;
esac
export PATH

# Terraform: no interactive hints, no calls home.
TF_IN_AUTOMATION=1
CHECKPOINT_DISABLE=1
export TF_IN_AUTOMATION CHECKPOINT_DISABLE

# Extras for tests: the ansible-core 2.18 venv's bin dir, and a Terraform filesystem mirror
# (unpacked layout) holding registry.terraform.io/hashicorp/null 2.1.2 for linux_amd64.
ANSIBLE218_BIN="$TOOLS_DIR/venv-ansible218/bin"
TF_NULL_PROVIDER_MIRROR="$TOOLS_DIR/tf-mirror"
export ANSIBLE218_BIN TF_NULL_PROVIDER_MIRROR

unset _homelab_root
