"""Real redis-server / valkey-server processes for tests: free port, tmp dir, PING, log on failure."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from migrator.local.processes import free_port

INSTALL_HINT = "run `make test` (it installs them) or `bash scripts/install-servers.sh`"


def server_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found on PATH: {INSTALL_HINT}")
    return path


@dataclass
class ServerProcess:
    """One server on 127.0.0.1; `extra` are additional `--name value` config arguments."""

    binary: str
    workdir: Path
    port: int = field(default_factory=free_port)
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def logfile(self) -> Path:
        return self.workdir / f"server-{self.port}.log"

    def argv(self) -> list[str]:
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            "--logfile",
            str(self.logfile),
            "--save",
            "",
            "--appendonly",
            "no",
            # One replica at a time: waiting for more before a full sync only slows tests down.
            "--repl-diskless-sync-delay",
            "0",
            *self.extra,
        ]

    def start(self, timeout: float = 10.0) -> ServerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(redis.ConnectionError):
                if self.client().ping():
                    return self
            time.sleep(0.05)
        log = self.logfile.read_text() if self.logfile.exists() else "(no log)"
        self.stop()
        raise RuntimeError(f"{self.binary} on port {self.port} did not answer PING:\n{log[-3000:]}")

    def client(self, db: int = 0, **kwargs) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=10, **kwargs)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def replicate(target: ServerProcess, source: ServerProcess, timeout: float = 30.0) -> None:
    """Make `target` a replica of `source` and wait until the link is up and caught up."""
    t = target.client()
    t.replicaof("127.0.0.1", source.port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = t.info("replication")
        if info.get("master_link_status") == "up" and not info.get("master_sync_in_progress"):
            src_offset = source.client().info("replication")["master_repl_offset"]
            if t.info("replication").get("slave_repl_offset", -1) >= src_offset:
                return
        time.sleep(0.05)
    raise RuntimeError(f"replication {source.url} -> {target.url} not caught up in {timeout}s")


def promote(target: ServerProcess) -> None:
    target.client().replicaof("NO", "ONE")
