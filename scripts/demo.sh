#!/usr/bin/env bash
# make demo: bake the quick-start image against a local AWS emulator (moto_server),
# print the AMI id and the step table, destroy it, and stop the emulator.
# EXECUTOR=ssm (make demo EXECUTOR=ssm) runs the bake on SSM Automation instead,
# through the project's SSM Automation emulator in front of moto_server.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
terraform=${TERRAFORM:-$root/.tools/bin/terraform}
executor=${EXECUTOR:-local}
work=$(mktemp -d)
moto_pid=""
emulator_pid=""

cleanup() {
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

case "$executor" in
  local | ssm) ;;
  *) echo "EXECUTOR must be local or ssm, not $executor" >&2; exit 1 ;;
esac
command -v moto_server >/dev/null || { echo "moto_server (the local AWS emulator) is not on PATH" >&2; exit 1; }
[ -x "$terraform" ] || { echo "Terraform CLI not found at $terraform: run 'make tools' first" >&2; exit 1; }

echo "==> building the provider"
(cd "$root" && go build -o "$work/plugins/terraform-provider-amibake" .)

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "==> starting the AWS emulator on 127.0.0.1:$port"
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then break; fi
  sleep 0.2
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=demo \
  AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true AWS_PROFILE= AWS_SESSION_TOKEN=

if [ "$executor" = ssm ]; then
  echo "==> starting the SSM Automation emulator in front of it"
  (cd "$root" && go build -o "$work/ssm-automation-emulator" ./tools/ssm-automation-emulator)
  mkfifo "$work/emulator.out"
  "$work/ssm-automation-emulator" -moto "$AWS_ENDPOINT_URL" -listen 127.0.0.1:0 -quiet \
    >"$work/emulator.out" 2>"$work/emulator.log" &
  emulator_pid=$!
  read -r line <"$work/emulator.out"
  ssm_endpoint=${line#listening on }
  [ "$ssm_endpoint" != "$line" ] || { echo "the emulator did not start: $line" >&2; cat "$work/emulator.log" >&2; exit 1; }
  echo "    SSM Automation at $ssm_endpoint"
  # Only SSM goes to the emulator; it passes everything but the automation
  # calls on to moto.
  export AWS_ENDPOINT_URL_SSM="$ssm_endpoint"
fi
cat >"$work/cli.tfrc" <<CFG
provider_installation {
  dev_overrides {
    "registry.terraform.io/amibake/amibake" = "$work/plugins"
    "registry.opentofu.org/amibake/amibake" = "$work/plugins"
  }
  direct {}
}
CFG
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

mkdir "$work/quickstart"
cp "$root"/examples/quickstart/*.tf "$work/quickstart/"
if [ "$executor" = ssm ]; then
  # An override file sets the executor without touching the example.
  cat >"$work/quickstart/executor_override.tf" <<'TF'
provider "amibake" {
  executor = "ssm"
}
TF
fi
cd "$work/quickstart"

echo "==> terraform apply (bakes the image)"
"$terraform" apply -auto-approve -input=false -no-color
image_id=$("$terraform" output -raw image_id)
[ -n "$image_id" ] || { echo "the bake produced no image id" >&2; exit 1; }
echo
echo "AMI: $image_id (executor: $executor)"
if [ "$executor" = ssm ]; then
  "$terraform" show -json | python3 -c '
import json, sys
for r in json.load(sys.stdin)["values"]["root_module"]["resources"]:
    if r["type"] == "amibake_image":
        print("SSM Automation execution: " + r["values"]["execution_id"])'
fi
echo "Steps:"
"$terraform" output -json steps | python3 -c 'import json, sys; [print("  " + l) for l in json.load(sys.stdin)]'
echo
echo "==> terraform destroy (deregisters the AMI, deletes its snapshots)"
"$terraform" destroy -auto-approve -input=false -no-color >/dev/null
echo "==> done: $image_id was baked and removed; the emulator is stopped"
