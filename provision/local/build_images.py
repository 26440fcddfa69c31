#!/usr/bin/env python3
"""Pack a root filesystem directory into an image tarball: docker-archive, or OCI layout.

The docker archive is what `docker save` writes (one layer tar, a config JSON, manifest.json with
RepoTags) and what `ctr -n k8s.io images import` reads. The output is reproducible: entries
are sorted, owned by root and carry a fixed mtime, so the same rootfs gives the same image id.

Usage:
  build_images.py --rootfs DIR --repo-tag kubeproof.local/NAME:TAG --out FILE.tar
                  [--user U] [--entrypoint JSON-LIST] [--cmd JSON-LIST] [--env K=V ...]
                  [--workdir DIR] [--label K=V ...] [--file-cap /PATH=cap_a,cap_b ...]
                  [--format docker|oci]

--format oci writes the image as an OCI image layout archive (skopeo's oci-archive:) with a
gzip-compressed layer, reproducible too. Its index names the image
(io.containerd.image.name, org.opencontainers.image.ref.name = the tag), and its manifest
digest is the one a registry keeps when the archive is pushed as is
(skopeo copy oci-archive:FILE docker://REGISTRY/NAME:TAG), so pods can pin it by digest.

--file-cap gives a file in the layer a file capability set (permitted + effective), written as
the security.capability xattr in a PAX record; containerd applies it when it unpacks the layer.
The upstream CoreDNS image does the same (setcap cap_net_bind_service=+ep) so that it can bind
port 53 as a non-root user that has NET_BIND_SERVICE in its bounding set.

The output is written to FILE.tar.partial first and renamed when complete.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import struct
import sys
import tarfile
import tempfile

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
CREATED = "1970-01-01T00:00:00Z" if EPOCH == 0 else None


CAPS = {"cap_chown": 0, "cap_dac_override": 1, "cap_net_bind_service": 10, "cap_net_raw": 13}


def capability_xattr(names: list[str]) -> bytes:
    """struct vfs_cap_data, revision 2, effective flag set, the named caps permitted."""
    mask = 0
    for name in names:
        mask |= 1 << CAPS[name.strip().lower()]
    magic = 0x02000000 | 0x000001  # VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE
    return struct.pack("<IIIII", magic, mask & 0xFFFFFFFF, 0, mask >> 32, 0)


def layer_tar(rootfs: str, dest, file_caps: dict[str, bytes] | None = None) -> None:
    """Write rootfs as an uncompressed tar layer to the open binary file dest."""
    file_caps = dict(file_caps or {})
    with tarfile.open(fileobj=dest, mode="w", format=tarfile.PAX_FORMAT) as tar:
        paths = []
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                paths.append(os.path.join(dirpath, name))
        paths.sort(key=lambda p: os.path.relpath(p, rootfs).split(os.sep))
        for path in paths:
            rel = os.path.relpath(path, rootfs)
            info = tar.gettarinfo(path, arcname=rel)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = EPOCH
            info.pax_headers = {}
            cap = file_caps.pop(rel, None)
            if cap is not None:
                if not info.isfile():
                    sys.exit(f"build_images.py: --file-cap target {rel} is not a regular file")
                # tarfile writes a value that is not valid UTF-8 with hdrcharset=BINARY.
                info.pax_headers = {"SCHILY.xattr.security.capability": cap.decode("utf-8", "surrogateescape")}
            if info.isfile():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
        if file_caps:
            sys.exit(f"build_images.py: --file-cap targets not in rootfs: {sorted(file_caps)}")


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build(args: argparse.Namespace) -> None:
    if not os.path.isdir(args.rootfs):
        sys.exit(f"build_images.py: rootfs {args.rootfs} is not a directory")
    if ":" not in args.repo_tag.rsplit("/", 1)[-1]:
        sys.exit(f"build_images.py: {args.repo_tag} has no explicit tag")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".image-") as tmp:
        layer_path = os.path.join(tmp, "layer.tar")
        with open(layer_path, "wb") as f:
            file_caps = {}
            for spec in args.file_cap or []:
                path, _, caps = spec.partition("=")
                file_caps[path.lstrip("/")] = capability_xattr(caps.split(","))
            layer_tar(args.rootfs, f, file_caps)
        diff_id = sha256_file(layer_path)

        env = [DEFAULT_PATH] + list(args.env or [])
        container_config: dict = {"Env": env, "WorkingDir": args.workdir}
        if args.user:
            container_config["User"] = args.user
        if args.entrypoint is not None:
            container_config["Entrypoint"] = json.loads(args.entrypoint)
        if args.cmd is not None:
            container_config["Cmd"] = json.loads(args.cmd)
        if args.label:
            container_config["Labels"] = dict(kv.split("=", 1) for kv in args.label)
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": CREATED or _iso(EPOCH),
            "config": container_config,
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
            "history": [{"created": CREATED or _iso(EPOCH), "created_by": "kubeproof build_images.py"}],
        }
        config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
        config_id = hashlib.sha256(config_bytes).hexdigest()
        if args.format == "oci":
            digest = write_oci_archive(args.out, args.repo_tag, layer_path, diff_id, config_bytes)
        else:
            write_docker_archive(args.out, args.repo_tag, layer_path, diff_id, config_bytes)
            digest = f"id sha256:{config_id[:12]}"
    size = os.path.getsize(args.out)
    print(f"kubeproof: image {args.repo_tag} -> {args.out} ({args.format}, {size / 1e6:.1f} MB, "
          f"{digest})", file=sys.stderr)


def write_docker_archive(out: str, repo_tag: str, layer_path: str, diff_id: str,
                         config_bytes: bytes) -> None:
    """Write the image as `docker save` does: the layer tar, its config and manifest.json."""
    config_id = hashlib.sha256(config_bytes).hexdigest()
    manifest = [{
        "Config": f"{config_id}.json",
        "RepoTags": [repo_tag],
        "Layers": [f"{diff_id}/layer.tar"],
    }]
    repo, tag = repo_tag.rsplit(":", 1)
    repositories = {repo: {tag: diff_id}}
    partial = out + ".partial"
    with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add_bytes(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = EPOCH
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))

        def add_dir(name: str) -> None:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mtime = EPOCH
            info.mode = 0o755
            tar.addfile(info)

        add_dir(diff_id)
        info = tarfile.TarInfo(f"{diff_id}/layer.tar")
        info.size = os.path.getsize(layer_path)
        info.mtime = EPOCH
        info.mode = 0o644
        with open(layer_path, "rb") as f:
            tar.addfile(info, f)
        add_bytes(f"{diff_id}/VERSION", b"1.0")
        add_bytes(f"{config_id}.json", config_bytes)
        add_bytes("manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
        add_bytes("repositories", json.dumps(repositories, separators=(",", ":")).encode())
    os.replace(partial, out)


def write_oci_archive(out: str, repo_tag: str, layer_path: str, diff_id: str,
                      config_bytes: bytes) -> str:
    """Write the image as an OCI layout tarball with a gzip layer; its manifest digest."""
    blobs: dict[str, bytes | str] = {}
    gz_path = layer_path + ".gz"
    with open(layer_path, "rb") as src, open(gz_path, "wb") as raw:
        # mtime=0 and no file name in the header: the same layer always gives the same bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                gz.write(chunk)
    layer_digest = sha256_file(gz_path)
    blobs[layer_digest] = gz_path
    config_digest = hashlib.sha256(config_bytes).hexdigest()
    blobs[config_digest] = config_bytes
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": f"sha256:{config_digest}", "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": f"sha256:{layer_digest}", "size": os.path.getsize(gz_path)}],
        "annotations": {"org.kubeproof.uncompressed-layer": f"sha256:{diff_id}"},
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest = hashlib.sha256(manifest_bytes).hexdigest()
    blobs[manifest_digest] = manifest_bytes
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": f"sha256:{manifest_digest}", "size": len(manifest_bytes),
            "annotations": {"io.containerd.image.name": repo_tag,
                            "org.opencontainers.image.ref.name": repo_tag.rsplit(":", 1)[1]},
        }],
    }
    partial = out + ".partial"
    with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name: str, data: bytes | str) -> None:
            info = tarfile.TarInfo(name)
            info.mtime = EPOCH
            info.mode = 0o644
            if isinstance(data, str):
                info.size = os.path.getsize(data)
                with open(data, "rb") as f:
                    tar.addfile(info, f)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

        for directory in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(directory)
            info.type, info.mtime, info.mode = tarfile.DIRTYPE, EPOCH, 0o755
            tar.addfile(info)
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", json.dumps(index, sort_keys=True, separators=(",", ":")).encode())
        for digest in sorted(blobs):
            add(f"blobs/sha256/{digest}", blobs[digest])
    os.replace(partial, out)
    return f"sha256:{manifest_digest}"


def _iso(epoch: int) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rootfs", required=True)
    p.add_argument("--repo-tag", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--user", default="")
    p.add_argument("--entrypoint", help="JSON list")
    p.add_argument("--cmd", help="JSON list")
    p.add_argument("--env", action="append", help="K=V, repeatable (PATH is always set)")
    p.add_argument("--workdir", default="/")
    p.add_argument("--label", action="append", help="K=V, repeatable")
    p.add_argument("--file-cap", action="append", help="/PATH=cap_a,cap_b, repeatable")
    p.add_argument("--format", choices=("docker", "oci"), default="docker",
                   help="docker-archive (docker save) or OCI layout archive (gzip layer)")
    build(p.parse_args(argv))


if __name__ == "__main__":
    main()
