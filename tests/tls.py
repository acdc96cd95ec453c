"""A private certificate authority for tests, with openssl(1): a CA as a site would run one,
and server certificates it signs, valid from a chosen date (a certificate the Pi's clock
finds "not yet valid")."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

CA_CONFIG = """\
[ca]
default_ca = test_ca
[test_ca]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any_name
copy_extensions = copy
unique_subject = no
[any_name]
commonName = supplied
"""


def _openssl(*args, cwd=None):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, cwd=cwd)


@dataclass
class PrivateCA:
    """`PrivateCA.create(dir)`; `.cert` is what a kiosk's ca_file holds."""

    dir: Path
    cert: Path
    key: Path

    @classmethod
    def create(cls, directory, name="Test Airport Private CA"):
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = directory / "ca.pem", directory / "ca.key"
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                 "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-keyout", str(key), "-out", str(cert))
        (directory / "index.txt").write_text("")
        (directory / "serial").write_text("1000\n")
        (directory / "ca.cnf").write_text(CA_CONFIG.format(dir=directory))
        return cls(directory, cert, key)

    def issue(self, host="localhost", start=None, end=None, name="hub"):
        """A server certificate for *host* (and 127.0.0.1) signed by this CA: (cert, key).
        *start*/*end* as openssl wants them (`20990101000000Z`); default: now, for 2 days."""
        cert, key, request = (self.dir / f"{name}.pem", self.dir / f"{name}.key",
                              self.dir / f"{name}.csr")
        _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={host}",
                 "-addext", f"subjectAltName=DNS:{host},IP:127.0.0.1",
                 "-keyout", str(key), "-out", str(request))
        dates = ["-startdate", start] if start else []
        dates += ["-enddate", end] if end else ["-days", "2"]
        _openssl("ca", "-batch", "-notext", "-config", str(self.dir / "ca.cnf"),
                 "-cert", str(self.cert), "-keyfile", str(self.key), *dates,
                 "-in", str(request), "-out", str(cert))
        return cert, key
