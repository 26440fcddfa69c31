"""Running the terraform (or tofu) binary for the terraform target: init, workspace, apply,
output, destroy; every call logged to a file, failures as one-line KubeproofErrors."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from kubeproof.errors import KubeproofError

TAIL_LINES = 6
NO_CREDENTIALS = ("No valid credential sources found", "no EC2 IMDS role found",
                  "NoCredentialProviders", "failed to refresh cached credentials")


def find_binary() -> str:
    """The terraform binary on PATH, else tofu (KubeproofError when neither is there)."""
    for name in ("terraform", "tofu"):
        found = shutil.which(name)
        if found:
            return found
    raise KubeproofError("no terraform binary on PATH: install Terraform >= 1.5 (or OpenTofu as "
                         "tofu) to use --target terraform, or choose --target local or existing")


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last non-empty lines of an output, joined on one line."""
    kept = [line.strip(" │╷╵") for line in text.splitlines()]
    kept = [line for line in kept if line.strip()]
    return " | ".join(kept[-lines:])[-600:]


class Terraform:
    """One Terraform configuration directory and workspace, driven non-interactively."""

    def __init__(self, binary: str, workdir: Path, workspace: str, variables: dict[str, str],
                 log: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.workspace = workspace
        self.variables = variables
        self.log = log

    def _var_args(self) -> list[str]:
        return [f"-var={name}={value}" for name, value in self.variables.items()]

    def run(self, *args: str, interruptible: bool = True) -> str:
        """Run one terraform command in the workdir; its output, or KubeproofError with its tail.

        The child runs in its own session: a terminal Ctrl-C reaches only kubeproof, which
        forwards exactly one SIGINT (terraform stops cleanly and keeps its state)."""
        env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
        env.pop("TF_WORKSPACE", None)
        argv = [self.binary, *args]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as log:
            log.write(f"\n$ terraform {' '.join(_masked(args))}\n")
            log.flush()
            proc = subprocess.Popen(argv, cwd=self.workdir, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, start_new_session=True)
            try:
                output, _ = proc.communicate()
            except KeyboardInterrupt:
                if not interruptible:
                    output = _finish_after_interrupt(proc, args[0])
                else:
                    proc.send_signal(signal.SIGINT)
                    output, _ = proc.communicate()
                    log.write(output)
                    raise
            log.write(output)
        if proc.returncode != 0:
            raise self._failure(args[0], proc.returncode, output)
        return output

    def _failure(self, command: str, code: int, output: str) -> KubeproofError:
        if any(marker in output for marker in NO_CREDENTIALS):
            return KubeproofError(
                f"no AWS credentials: terraform {command} found none (set AWS_PROFILE, or "
                f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run aws sso login); log: "
                f"{self.log}")
        return KubeproofError(f"terraform {command} failed (exit {code}, workspace "
                              f"{self.workspace}): {tail(output)} (full log: {self.log})")

    def init(self) -> None:
        self.run("init", "-input=false", "-no-color")
        self.run("workspace", "select", "-or-create", self.workspace)

    def apply(self) -> None:
        self.run("apply", "-input=false", "-auto-approve", "-no-color", *self._var_args())

    def outputs(self) -> dict[str, Any]:
        """terraform output -json as {name: value}."""
        text = self.run("output", "-json", "-no-color")
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise KubeproofError(f"terraform output -json did not print JSON: {tail(text)}") \
                from None
        return {name: item.get("value") for name, item in data.items()}

    def destroy(self) -> None:
        self.run("destroy", "-input=false", "-auto-approve", "-no-color", *self._var_args(),
                 interruptible=False)

    def manual_destroy(self) -> str:
        """The commands a user runs to destroy by hand."""
        return (f"terraform -chdir={self.workdir} workspace select {self.workspace} && "
                f"terraform -chdir={self.workdir} destroy")


def _finish_after_interrupt(proc: subprocess.Popen, command: str) -> str:
    """Keep waiting for a command that must finish (destroy) after one Ctrl-C; a second one
    gives up on it."""
    print(f"kubeproof: terraform {command} is still running and must finish: press Ctrl-C again "
          f"to abandon it (resources would remain)", file=sys.stderr, flush=True)
    try:
        output, _ = proc.communicate()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        proc.communicate()
        raise
    return output


def _masked(args: tuple[str, ...]) -> list[str]:
    """Command words for the log, without variable values that could be secrets."""
    return [re.sub(r"^(-var=[^=]+=).*", r"\1...", arg) for arg in args]
