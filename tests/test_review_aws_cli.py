"""Review findings in migrator/aws, infra, cli, state: each test reproduces one defect that was fixed."""

from __future__ import annotations

from pathlib import Path

from migrator import infra


# ---- infra: a chatty terraform (TF_LOG, many warnings) must not deadlock apply/destroy -------------------
def test_stream_drains_stderr_while_reading_stdout(tmp_path: Path) -> None:
    """300 kB on stderr before stdout closes filled the pipe: terraform blocked, and so did we."""
    script = tmp_path / "terraform"
    # With a stalled stderr reader, `timeout` kills the writer after 10 s and the script exits 3.
    script.write_text(
        "#!/bin/sh\n"
        "head -c 300000 /dev/zero | tr '\\0' x | timeout 10 sh -c 'cat >&2' || exit 3\n"
        'echo \'{"type":"apply_complete"}\'\n'
    )
    script.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    tf = infra.Terraform(infra.TerraformBinary(str(script), "1.9.8", "terraform"), work)
    seen: list[int] = []
    tf.apply(work / "tfplan", progress=lambda by, total: seen.append(by), total=1)
    assert seen == [1]
