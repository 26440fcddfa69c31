"""kubeproof's probe image goes to a registry as is: a real registry on loopback (built by the
bootstrap from distribution's Go module) keeps the digest every target pins its pods to."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time

import pytest

from kubeproof import probeimage
from kubeproof.localcluster.components import versions
from kubeproof.localcluster.layout import cache_dir


@pytest.fixture
def registry(tmp_path):
    """A registry serving plain HTTP on a free loopback port, storing under tmp_path."""
    binary = cache_dir() / "bin" / f"registry-{versions()['REGISTRY_VERSION']}" / "registry"
    if not binary.is_file() or shutil.which("skopeo") is None:
        pytest.skip("run make bootstrap: it builds the registry and installs skopeo")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "config.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path}/data\n"
                      f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n")
    process = subprocess.Popen([str(binary), "serve", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL,
                               env={**os.environ, "OTEL_TRACES_EXPORTER": "none"})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            pytest.fail(f"the registry did not listen on 127.0.0.1:{port} (exit {process.poll()})")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_pushed_probe_image_keeps_its_digest(registry):
    pinned = probeimage.reference()
    printed = probeimage.push(f"docker://{registry}/kubeproof/probe:1",
                              ("--dest-tls-verify=false",))
    assert printed == f"{registry}/kubeproof/probe@{pinned.split('@')[1]}"
    inspected = subprocess.run(["skopeo", "inspect", "--tls-verify=false",
                                f"docker://{printed}"], capture_output=True, text=True)
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["Digest"] == pinned.split("@")[1]


def test_push_refuses_what_is_not_a_registry_destination():
    with pytest.raises(probeimage.KubeproofError, match="docker://"):
        probeimage.push("oci:/tmp/somewhere")
