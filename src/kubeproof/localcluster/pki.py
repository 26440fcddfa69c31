"""The local cluster's PKI: a cluster CA, an etcd CA, the identity provider's CA and the
certificates of every hop."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import layout as L

VALIDITY = datetime.timedelta(days=30)


@dataclass(frozen=True)
class CertSpec:
    """One certificate to issue: its file name, subject, usages and alternative names."""

    name: str
    ca: str
    common_name: str
    organizations: tuple[str, ...] = ()
    server: bool = False
    client: bool = False
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = field(default=())


API_SERVER_NAMES = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    f"kubernetes.default.svc.{L.CLUSTER_DOMAIN}",
    "localhost",
)

CERTS = (
    CertSpec(
        "apiserver",
        "ca",
        "kube-apiserver",
        server=True,
        dns_names=API_SERVER_NAMES,
        ip_addresses=(L.NODE_IP, L.API_SERVICE_IP, "127.0.0.1"),
    ),
    CertSpec("apiserver-kubelet-client", "ca", "kube-apiserver-kubelet-client", client=True),
    CertSpec("apiserver-etcd-client", "etcd-ca", "kube-apiserver-etcd-client", client=True),
    CertSpec(
        "etcd-server",
        "etcd-ca",
        "etcd-server",
        server=True,
        client=True,
        dns_names=("localhost",),
        ip_addresses=("127.0.0.1",),
    ),
    CertSpec(
        "etcd-peer",
        "etcd-ca",
        "etcd-peer",
        server=True,
        client=True,
        dns_names=("localhost",),
        ip_addresses=("127.0.0.1",),
    ),
    CertSpec("etcd-healthcheck-client", "etcd-ca", "kube-etcd-healthcheck-client", client=True),
    CertSpec("admin", "ca", "kubernetes-admin", ("system:masters",), client=True),
    CertSpec("controller-manager", "ca", "system:kube-controller-manager", client=True),
    CertSpec("scheduler", "ca", "system:kube-scheduler", client=True),
    CertSpec("kube-proxy", "ca", "system:kube-proxy", client=True),
    CertSpec("netpol", "ca", "kubeproof:netpol-enforcer", client=True),
    CertSpec("image-policy", "ca", "kubeproof:image-policy-webhook", client=True),
    CertSpec("kubelet-client", "ca", f"system:node:{L.NODE_NAME}", ("system:nodes",), client=True),
    CertSpec(
        "kubelet-server",
        "ca",
        L.NODE_NAME,
        server=True,
        dns_names=(L.NODE_NAME,),
        ip_addresses=(L.NODE_IP,),
    ),
    # The identity provider's server certificate, from a CA of its own.
    CertSpec("oidc-server", "oidc-ca", "kubeproof-oidc", server=True,
             ip_addresses=(L.NODE_IP,)),
)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.chmod(0o644)


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, key, ca: bool) -> x509.CertificateBuilder:
    """The part every certificate shares: names, key, serial, validity, basic key usage."""
    now = datetime.datetime.now(datetime.UTC)
    usage = {name: False for name in (
        "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
        "encipher_only", "decipher_only")}
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca,
                                     **usage), critical=True)
    )


def _make_ca(pki: Path, name: str, common_name: str) -> None:
    key = _new_key()
    subject = _name(common_name)
    cert = (
        _builder(subject, subject, key, ca=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(pki / f"{name}.key", key)
    _write_cert(pki / f"{name}.crt", cert)


def _issue(pki: Path, spec: CertSpec) -> None:
    ca_key = serialization.load_pem_private_key((pki / f"{spec.ca}.key").read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate((pki / f"{spec.ca}.crt").read_bytes())
    key = _new_key()
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if spec.server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if spec.client else []
    )
    builder = (
        _builder(_name(spec.common_name, spec.organizations), ca_cert.subject, key, ca=False)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    sans = [x509.DNSName(n) for n in spec.dns_names] + [
        x509.IPAddress(ipaddress.ip_address(ip)) for ip in spec.ip_addresses
    ]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    _write_key(pki / f"{spec.name}.key", key)
    _write_cert(pki / f"{spec.name}.crt", builder.sign(ca_key, hashes.SHA256()))


def create_pki(pki: Path) -> None:
    """Writes the three CAs, every certificate in CERTS and the service-account signing key."""
    pki.mkdir(parents=True, exist_ok=True, mode=0o700)
    _make_ca(pki, "ca", "kubernetes")
    _make_ca(pki, "etcd-ca", "etcd-ca")
    _make_ca(pki, "oidc-ca", "kubeproof-oidc-ca")
    for spec in CERTS:
        _issue(pki, spec)
    sa_key = _new_key()
    _write_key(pki / "sa.key", sa_key)
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
