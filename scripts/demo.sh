#!/usr/bin/env bash
# The local Tabiri lab for `make demo`: starts the lab (fakepve, moto, the NetBird double,
# one SSH host with its own Docker engine per Proxmox guest and EC2 instance, Traefik,
# Prometheus and node_exporter; see acceptance-tests/src/lab.rs) and applies terraform/ to
# it with demo.tfvars, then prints what runs where, what to try and a picture of the lab.
#   scripts/demo.sh up     start the lab unless it runs, then terraform init + apply
#   scripts/demo.sh down   stop the lab: every process, container and namespace it made;
#                          the Terraform state of the lab goes with it
# DEMO_DIR (default .demo) holds the lab's files and the state. TERRAFORM picks the
# Terraform to run (default: `terraform` on PATH, which scripts/env.sh makes the newest one
# scripts/setup.sh linked, 1.11). The provider comes from wherever the CLI configuration
# says: `dev_overrides` for tabiri/homelab there (the tests point TF_CLI_CONFIG_FILE at the
# build they test) means no `terraform init`; otherwise `terraform init` installs it from
# `make install`'s filesystem mirror, as for any user.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DEMO=${DEMO_DIR:-$REPO/.demo}
LAB_BIN=${LAB_BIN:-$REPO/target/debug/local-lab}
export TF_DATA_DIR=$DEMO/terraform-data
STATE=$DEMO/terraform.tfstate
TF=("${TERRAFORM:-terraform}" -chdir="$REPO/terraform")

# Whether the CLI configuration Terraform reads (TF_CLI_CONFIG_FILE when set, even to a file
# that does not exist, else ~/.terraformrc) overrides tabiri/homelab with a local build.
dev_overrides_homelab() {
  local config=${TF_CLI_CONFIG_FILE-$HOME/.terraformrc}
  [[ -f "$config" ]] || return 1
  python3 - "$config" <<'PY'
import re, sys
text = re.sub(r"(?m)^\s*(#|//).*$", "", open(sys.argv[1]).read())
block = re.search(r"dev_overrides\s*\{([^}]*)\}", text)
sys.exit(0 if block and re.search(r'"(registry\.terraform\.io/)?tabiri/homelab"\s*=', block.group(1)) else 1)
PY
}

lab_alive() { [[ -f "$DEMO/lab.pid" ]] && kill -0 "$(cat "$DEMO/lab.pid")" 2>/dev/null; }

start_lab() {
  if lab_alive && [[ -f "$DEMO/lab.ready" ]]; then return; fi
  mkdir -p "$DEMO"
  # A new lab has new addresses: the state of an old one describes nothing that exists.
  rm -f "$STATE" "$STATE.backup" "$DEMO/lab.ready"
  echo "starting the local lab (first start builds images on every host)..."
  setsid nohup "$LAB_BIN" "$DEMO" >"$DEMO/lab.log" 2>&1 </dev/null &
  echo $! >"$DEMO/lab.pid"
  for _ in $(seq 1 600); do
    [[ -f "$DEMO/lab.ready" ]] && return
    lab_alive || { echo "the lab stopped while starting; see $DEMO/lab.log:" >&2; tail -20 "$DEMO/lab.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "the lab did not come up in 5 minutes; see $DEMO/lab.log" >&2
  exit 1
}

apply() {
  if dev_overrides_homelab; then
    # dev_overrides name the provider's directory: only the modules need installing.
    "${TF[@]}" get -no-color >/dev/null
  else
    "${TF[@]}" init -input=false -no-color >/dev/null
  fi
  "${TF[@]}" apply -auto-approve -input=false -no-color -state="$STATE" \
    -var-file=demo.tfvars -var-file="$DEMO/lab.tfvars.json" "$@"
}

report() {
  local web_port=${DEMO_WEB_PORT:-18000} api_port=${DEMO_API_PORT:-18090} prom_port=${DEMO_PROMETHEUS_PORT:-19090}
  "${TF[@]}" output -state="$STATE" -json >"$DEMO/outputs.json"
  "${TF[@]}" show -json "$STATE" >"$DEMO/state.json"
  python3 "$REPO/scripts/lab-picture.py" <"$DEMO/state.json" >"$DEMO/lab.dot"
  dot -Tsvg "$DEMO/lab.dot" -o "$DEMO/lab.svg"
  dot -Tpng "$DEMO/lab.dot" -o "$DEMO/lab.png"
  python3 - "$DEMO/outputs.json" "$web_port" "$api_port" "$prom_port" "$DEMO" <<'PY'
import json, sys
out = json.load(open(sys.argv[1]))
web, api, prom, demo = sys.argv[2:6]
hosts, urls, backups = out["hosts"]["value"], out["urls"]["value"], out["backups"]["value"]
rows = [("host", "zone", "kind", "LAN", "mesh IP", "services", "URLs")]
for name, h in sorted(hosts.items()):
    rows.append((name, h["zone"], h["kind"], h["address"], h["mesh_ip"] or "-",
                 ", ".join(s + " (stand-in)" for s in h["services"]) or "-",
                 " ".join(urls[s] for s in h["services"]) or "-"))
widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
print("\nThe Tabiri lab is up (local lab, every part on loopback and network namespaces):\n")
for i, r in enumerate(rows):
    print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)))
    if i == 0:
        print("  " + "  ".join("-" * w for w in widths))
print("\nBackups:")
for job, where in sorted(backups.items()):
    print(f"  {job:<24} {where}")
print("\nTry:")
for name, url in sorted(urls.items()):
    host = url.split("://", 1)[1].rstrip("/")
    print(f"  curl -H 'Host: {host}' http://127.0.0.1:{web}/")
print(f"  curl -s http://127.0.0.1:{api}/api/http/routers | jq -r '.[].name'    # Traefik's routes")
print(f"  curl -s http://127.0.0.1:{prom}/api/v1/targets | jq -r '.data.activeTargets[] | .scrapeUrl + \" \" + .health'")
print(f"  open http://127.0.0.1:{prom}/targets                                  # Prometheus's targets page")
repo = backups.get("nextcloud-tier1", "")
print(f"  RESTIC_PASSWORD=tabiri-demo-restic restic -r {repo} snapshots --latest 1   # the latest backup")
print(f"  make demo                                                             # the plan is empty: nothing changes")
print(f"\nA picture of the lab: {demo}/lab.png (and lab.svg)")
print("Stop everything with: make demo-stop")
PY
}

up() {
  [[ -x "$LAB_BIN" ]] || { echo "$LAB_BIN is missing: run 'make demo'" >&2; exit 1; }
  start_lab
  if ! dev_overrides_homelab; then
    # The provider comes from ~/.terraform.d/plugins (make install), as for users; a rebuilt
    # binary of the same version would not match an old lock file.
    rm -f "$REPO/terraform/.terraform.lock.hcl"
  fi
  apply
  report
}

down() {
  if lab_alive; then
    touch "$DEMO/lab.stop"
    for _ in $(seq 1 240); do lab_alive || break; sleep 0.25; done
    if lab_alive; then kill -9 -- "-$(cat "$DEMO/lab.pid")" 2>/dev/null || true; fi
  fi
  rm -f "$DEMO/lab.pid" "$DEMO/lab.ready" "$DEMO/lab.stop" "$STATE" "$STATE.backup"
  echo "lab stopped"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
