"""Keeps `migrator tunnel`'s ssh connected: `python -m migrator.aws.tunnel_keeper PLAN`, in its own group.

Each connection gets a fresh SendSSHPublicKey (the instance accepts a pushed key for 60 s only), then ssh
with every forward, then a wait until all of them listen. When the endpoint drops the connection (it ends
each one after an hour at most), the keeper says so in one line on stderr and connects again after a
bounded, doubling delay; `keeper.json` (the plan's `status`) tells other commands what it is doing. ssh and
its ProxyCommand run in the keeper's process group, so `migrator tunnel --close` ends all of them at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from migrator.errors import Code, MigratorError

# Errors a reconnect cannot cure: the credentials (an SSO session that expired meanwhile) or IAM.
FATAL_CODES = {Code.NO_CREDENTIALS, Code.BAD_CREDENTIALS, Code.ACCESS_DENIED, Code.NO_REGION}


def _listening(port: int) -> bool:
    from migrator.aws.tunnel import _listening as listening

    return listening(port)


class Keeper:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.ports = [int(f["local_port"]) for f in plan["forwards"]]
        self.status_file = Path(plan["status"])
        self.proc: subprocess.Popen[bytes] | None = None

    # ---- what it tells others ------------------------------------------------------------------------------
    def say(self, line: str) -> None:
        sys.stderr.write(f"tunnel: {line}\n")
        sys.stderr.flush()

    def report(self, state: str, message: str, error: MigratorError | None = None, attempt: int = 0) -> None:
        status: dict[str, Any] = {
            "state": state,
            "message": message,
            "attempt": attempt,
            "pid": os.getpid(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if error is not None:
            status["error"] = error.to_dict()
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(status))
        os.replace(tmp, self.status_file)

    # ---- one connection ------------------------------------------------------------------------------------
    def push_key(self) -> None:
        """SendSSHPublicKey: the instance accepts this key for the next 60 seconds."""
        from migrator.aws.clients import aws_errors, make_client
        from migrator.aws.tunnel import OS_USER

        region = self.plan["region"]
        key = Path(self.plan["public_key"]).read_text().strip()
        with aws_errors("ec2-instance-connect:SendSSHPublicKey", region):
            make_client("ec2-instance-connect", region).send_ssh_public_key(
                InstanceId=self.plan["instance_id"], InstanceOSUser=OS_USER, SSHPublicKey=key
            )

    def connect(self) -> subprocess.Popen[bytes]:
        """Push a key, start ssh, and return once every forward listens (ssh is stopped if that fails)."""
        self.push_key()
        log = Path(self.plan["ssh_log"])
        with log.open("ab") as sink:
            sink.write(f"--- ssh started {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n".encode())
            sink.flush()
            proc = subprocess.Popen(self.plan["argv"], stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
        self.proc = proc
        deadline = time.monotonic() + float(self.plan["ready_seconds"])
        while not all(_listening(port) for port in self.ports):
            if proc.poll() is not None:
                raise MigratorError(
                    f"ssh tunnel exited with {proc.returncode}: {self.last_ssh_line() or 'no message'}",
                    f"check IAM (ec2-instance-connect:*), the endpoint, and {log}",
                    Code.TUNNEL_FAILED,
                )
            if time.monotonic() >= deadline:
                self.stop_ssh()
                raise MigratorError(
                    f"tunnel ports {', '.join(map(str, self.ports))} not open after "
                    f"{float(self.plan['ready_seconds']):.0f}s",
                    f"see {log}",
                    Code.TUNNEL_FAILED,
                )
            time.sleep(0.2)
        return proc

    def last_ssh_line(self) -> str:
        try:
            lines = Path(self.plan["ssh_log"]).read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return next((ln.strip() for ln in reversed(lines) if ln.strip() and not ln.startswith("---")), "")

    def stop_ssh(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # ---- the loop ------------------------------------------------------------------------------------------
    def delay(self, attempt: int) -> float:
        first, most = float(self.plan["first_delay"]), float(self.plan["max_delay"])
        return min(most, first * 2 ** (attempt - 1))

    def run(self) -> int:
        attempts, failures = int(self.plan["attempts"]), 0
        connected_before = False
        while True:
            self.report("reconnecting" if connected_before else "connecting", "connecting", None, failures)
            try:
                proc = self.connect()
            except MigratorError as err:
                if not connected_before or err.code in FATAL_CODES:
                    self.report("failed", err.one_line(), err, failures)
                    self.say(f"giving up: {err.one_line()}")
                    return 1
                failures += 1
                if failures > attempts:
                    return self.give_up(err, failures - 1)
                wait = self.delay(failures)
                message = f"reconnect failed: {err.one_line()}; retrying in {wait:.0f}s"
                self.report("reconnecting", message, err, failures)
                self.say(f"{message} (attempt {failures} of {attempts})")
                time.sleep(wait)
                continue
            urls = "  ".join(f"{f['name']} 127.0.0.1:{f['local_port']}" for f in self.plan["forwards"])
            if connected_before:
                self.say(f"reconnected: {urls}")
            self.report("open", f"connected: {urls}", None, failures)
            connected_before, began = True, time.monotonic()
            code = proc.wait()
            lasted = time.monotonic() - began
            if lasted >= float(self.plan["stable_seconds"]):
                failures = 0
            failures += 1
            if failures > attempts:
                return self.give_up(None, attempts)
            wait = self.delay(failures)
            said = self.last_ssh_line() or "no message"
            message = f"connection dropped after {lasted:.0f}s (ssh exit {code}: {said})"
            message += f"; reconnecting in {wait:.0f}s"
            self.report("reconnecting", message, None, failures)
            self.say(f"{message} (attempt {failures} of {attempts})")
            time.sleep(wait)

    def give_up(self, err: MigratorError | None, attempts: int) -> int:
        why = err.one_line() if err else self.last_ssh_line() or "the connection kept dropping"
        message = f"gave up after {attempts} reconnect attempts: {why}"
        self.report("failed", message, None, attempts)
        self.say(message)
        return 1


def main(argv: list[str]) -> int:
    plan = json.loads(Path(argv[0]).read_text())
    keeper = Keeper(plan)

    def stop(*_: object) -> None:
        raise SystemExit(0)

    # --close signals the whole group; ssh goes with it, the keeper only tidies up.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return keeper.run()
    finally:
        keeper.stop_ssh()
        with contextlib.suppress(OSError, ValueError):
            if json.loads(keeper.status_file.read_text()).get("state") == "open":
                keeper.report("closed", "closed")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
