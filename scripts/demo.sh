#!/usr/bin/env bash
# The local lab for `make demo`: two loopback backends, Traefik in front of them, and the
# Tabiri lab in terraform/ applied with the provider from the user's filesystem mirror.
#   scripts/demo.sh up     start what is not running, then terraform init + apply
#   scripts/demo.sh down   stop the lab (state stays in .demo/ and terraform/)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DEMO=$REPO/.demo
WEB_PORT=${DEMO_WEB_PORT:-18000}
API_PORT=${DEMO_API_PORT:-18090}
MOTO_PORT=${DEMO_MOTO_PORT:-18500}

alive() { [[ -f "$DEMO/$1.pid" ]] && kill -0 "$(cat "$DEMO/$1.pid")" 2>/dev/null; }

start() {
  local name=$1; shift
  if alive "$name"; then return; fi
  nohup "$@" >"$DEMO/$name.log" 2>&1 &
  echo $! >"$DEMO/$name.pid"
}

wait_http() {
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $1; see $DEMO/*.log" >&2
  exit 1
}

up() {
  mkdir -p "$DEMO/traefik" "$DEMO/backend-a" "$DEMO/backend-b"
  echo "Hello from backend A (nextcloud)" >"$DEMO/backend-a/index.html"
  echo "Hello from backend B (grafana)" >"$DEMO/backend-b/index.html"
  start backend-a python3 -m http.server 18080 --bind 127.0.0.1 --directory "$DEMO/backend-a"
  start backend-b python3 -m http.server 18081 --bind 127.0.0.1 --directory "$DEMO/backend-b"
  start traefik traefik \
    --entrypoints.web.address=127.0.0.1:$WEB_PORT \
    --entrypoints.traefik.address=127.0.0.1:$API_PORT \
    --api.insecure=true \
    --providers.file.directory="$DEMO/traefik" \
    --providers.file.watch=true \
    --providers.providersThrottleDuration=100ms \
    --log.level=INFO
  # The cloud half: moto stands in for EC2 and Route 53.
  start moto moto_server -H 127.0.0.1 -p "$MOTO_PORT"
  wait_http "http://127.0.0.1:$API_PORT/api/overview"
  wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/"
  # The hosted zone the lab's records go into (made once; moto keeps it while it runs).
  "${TOOLS_DIR:-$REPO/.tools}/venv/bin/python" - "$MOTO_PORT" <<'PY'
import sys, boto3
r53 = boto3.client("route53", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}",
                   region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
zones = r53.list_hosted_zones_by_name(DNSName="lab.example.com")["HostedZones"]
if not any(z["Name"] == "lab.example.com." for z in zones):
    r53.create_hosted_zone(Name="lab.example.com", CallerReference="tabiri-demo")
PY
  wait_http "http://127.0.0.1:18080/"
  wait_http "http://127.0.0.1:18081/"

  cd "$REPO/terraform"
  # No dev_overrides here: the provider comes from ~/.terraform.d/plugins, as for users.
  unset TF_CLI_CONFIG_FILE
  # `make install` rebuilds the same version with new bytes; the lock file would refuse them.
  rm -f .terraform.lock.hcl
  terraform init -input=false -no-color >/dev/null
  terraform apply -auto-approve -input=false -no-color \
    -var "traefik_dir=$DEMO/traefik" \
    -var "traefik_api_url=http://127.0.0.1:$API_PORT" \
    -var "aws_endpoint=http://127.0.0.1:$MOTO_PORT"

  cat <<MSG

The lab is up. Try:
  curl -H 'Host: nextcloud.lab.localhost' http://127.0.0.1:$WEB_PORT/
  curl -H 'Host: grafana.lab.localhost'   http://127.0.0.1:$WEB_PORT/
  curl http://127.0.0.1:$API_PORT/api/http/routers      # what Traefik sees
  ls $DEMO/traefik                                      # the route files
  terraform -chdir=terraform output airflow             # the cloud half (EC2 + Route 53 on moto)
Run 'make demo' again: the plan is empty. 'make demo-stop' stops the lab.
MSG
}

down() {
  for name in traefik backend-a backend-b moto; do
    if alive "$name"; then kill "$(cat "$DEMO/$name.pid")" || true; fi
    rm -f "$DEMO/$name.pid"
  done
  echo "lab stopped"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
