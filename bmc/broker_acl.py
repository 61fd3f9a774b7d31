"""Broker access control for a rig: one Mosquitto user per node, allowed only its own topics.

``bmc broker-config --scenario S --acl --out DIR`` writes:

- ``DIR/mosquitto.conf``: the rig configuration with ``allow_anonymous false``, the password
  file and the ACL file;
- ``DIR/passwords``: every identity's password as Mosquitto 2's PBKDF2-SHA512 hash (the
  ``$7$`` format ``mosquitto_passwd`` writes), never in clear;
- ``DIR/acl``: per user, ``topic write`` for what the node publishes and ``topic read`` for
  what it subscribes to (the same roles the seals check, ``protocols.auth.Roles``);
- ``DIR/clients/<node>.password``: the clear password of each identity, owner-only, for
  ``bmc run/node/hil --credentials DIR/clients``. Each connection of a process logs in as the
  identity it serves (a node, its clock watcher, the monitor).

The broker then refuses a client without credentials, and a node publishing outside its
topics gets MQTT 5 reason code 0x87 (not authorised) and reaches no subscriber.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from bmc.keys import roles_of
from bmc.scenario import Scenario
from protocols import brokerconf
from protocols.auth import AuthError, Roles, check_private, refuse_existing, write_private
from protocols.mqtt import Login
from protocols.topics import root_for

PBKDF2_ITERATIONS = 101
"""What ``mosquitto_passwd`` of Mosquitto 2.0 uses for its ``$7$`` hashes."""


def password_hash(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """A password in the ``$7$`` (PBKDF2-SHA512) format of Mosquitto 2's password files."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def acl_rules(roles: Roles, root: str) -> dict[str, tuple[list[str], list[str]]]:
    """Identity -> (topics it may write, topics it may read)."""
    world = f"{root}/world/{roles.world}"
    clock = [f"{world}/truth", f"{world}/state"]
    fdc = f"{root}/fdc/{roles.fdc}"
    world_writes = [f"{world}/{c}" for c in ("truth", "flyout", "detonation", "state")]
    rules: dict[str, tuple[list[str], list[str]]] = {
        roles.monitor: ([], [f"{root}/#"]),
        roles.world: (world_writes, [f"{root}/launcher/+/engagement"]),
        roles.fdc: (
            [f"{fdc}/heartbeat", f"{fdc}/state", f"{root}/launcher/+/order"],
            [
                f"{root}/radar/+/tracks",
                *(f"{root}/launcher/+/{c}" for c in ("status", "engagement", "state")),
                f"{world}/detonation",
                f"{root}/fdc/{roles.fdc}/command",
                *clock,
            ],
        ),
    }
    for r in roles.radars:
        rules[r] = ([f"{root}/radar/{r}/tracks", f"{root}/radar/{r}/state"], clock)
    for x in roles.launchers:
        own = [f"{root}/launcher/{x}/{c}" for c in ("engagement", "status", "state")]
        rules[x] = (own, [f"{root}/launcher/{x}/order", f"{root}/fdc/{roles.fdc}/heartbeat", *clock])
    for op in roles.operators:
        rules[op] = ([f"{root}/fdc/{roles.fdc}/command"], [])
    return rules


def acl_text(roles: Roles, root: str) -> str:
    """The Mosquitto ACL file."""
    lines = ["# Written by `bmc broker-config --acl`: one user per node of the cell, its own topics only."]
    for user, (write, read) in acl_rules(roles, root).items():
        lines += ["", f"user {user}"]
        lines += [f"topic write {t}" for t in write]
        lines += [f"topic read {t}" for t in read]
    return "\n".join(lines) + "\n"


def _tls_files(roles: Roles, out: Path, host: str) -> list[Path]:
    """A CA (its key is not kept: nobody can issue more), the broker's certificate for
    ``host``, and one client certificate per identity whose common name is the identity
    (the broker takes it as the user name: ``use_identity_as_username``)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bmc rig CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def issue(name: str, server: bool) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        if server:
            names: list[x509.GeneralName] = [x509.DNSName("localhost")]
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        pem_key = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cert.public_bytes(serialization.Encoding.PEM), pem_key

    tls = out / "tls"
    tls.mkdir(mode=0o755)
    (tls / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert, key = issue(host, server=True)
    (tls / "server.crt").write_bytes(cert)
    write_private(tls / "server.key", key.decode())
    written = [tls / "ca.crt", tls / "server.crt", tls / "server.key"]
    for ident in roles.nodes:
        cert, key = issue(ident, server=False)
        (out / "clients" / f"{ident}.crt").write_bytes(cert)
        write_private(out / "clients" / f"{ident}.key", key.decode())
        written += [out / "clients" / f"{ident}.crt", out / "clients" / f"{ident}.key"]
    return written


def write_broker_config(
    s: Scenario,
    out: Path,
    *,
    port: int = 1883,
    host: str = "127.0.0.1",
    tls: bool = False,
    root: str | None = None,
) -> list[Path]:
    """Write the configuration, password file, ACL and client passwords for ``s`` into ``out``
    (new or empty); with ``tls``, a TLS listener instead, where each node logs in with its own
    certificate. AuthError when ``out`` cannot be used."""
    refuse_existing(out)
    roles = roles_of(s)
    root = root or root_for(s.name)
    clients = out / "clients"
    try:
        clients.mkdir(mode=0o700, parents=True)
        os.chmod(clients, 0o700)
        written: list[Path] = []
        hashes = []
        for user in roles.nodes:
            password = secrets.token_urlsafe(24)
            hashes.append(f"{user}:{password_hash(password)}")
            path = clients / f"{user}.password"
            write_private(path, password + "\n")
            written.append(path)
        # The broker reads these two after dropping to its own user: hashes only, no secret.
        (out / "passwords").write_text("\n".join(hashes) + "\n", encoding="utf-8")
        (out / "acl").write_text(acl_text(roles, root), encoding="utf-8")
        if tls:
            written += _tls_files(roles, out, host)
            t = (out / "tls").resolve()
            login = (
                f"cafile {t / 'ca.crt'}\ncertfile {t / 'server.crt'}\nkeyfile {t / 'server.key'}\n"
                "require_certificate true\nuse_identity_as_username true\n"
                "# The broker reads its key after dropping to its own user: `chown mosquitto` it.\n"
            )
        else:
            login = f"password_file {(out / 'passwords').resolve()}\n"
        access = f"allow_anonymous false\n{login}acl_file {(out / 'acl').resolve()}\n"
        header = f"# mosquitto.conf for scenario {s.name!r}, written by `bmc broker-config --acl`.\n"
        conf = header + brokerconf.variant(port, host, access)
        (out / "mosquitto.conf").write_text(conf, encoding="utf-8")
        written += [out / "mosquitto.conf", out / "passwords", out / "acl"]
    except OSError as exc:
        raise AuthError(f"{out}: cannot write the broker configuration ({exc.strerror or exc})") from None
    return written


def load_credentials(directory: Path, identities: list[str]) -> dict[str, Login]:
    """Identity -> its broker login from ``DIR/clients``-style files (a password, and a client
    certificate when the broker was configured with ``--tls``); AuthError naming a missing or
    loose file (never its content)."""
    check_private(directory)
    out: dict[str, Login] = {}
    for ident in identities:
        path = directory / f"{ident}.password"
        if not path.exists():
            raise AuthError(f"{path}: no broker password for {ident!r} (see `bmc broker-config --acl`)")
        check_private(path)
        cert, key = directory / f"{ident}.crt", directory / f"{ident}.key"
        if key.exists():
            check_private(key)
        try:
            password = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AuthError(f"{path}: cannot read ({exc.strerror or exc})") from None
        tls = (str(cert), str(key)) if cert.exists() and key.exists() else None
        out[ident] = Login(ident, password, tls)
    return out
