"""The Ketua's approval of a blast: a signature over its canonical form (S2).

Editing a blast's YAML cannot forge an approval: the signature covers every field
but itself and is checked with ``ssh-keygen -Y verify`` against keys that live
outside the registry (the inventory's trust anchor, docs/security.md):
the validator builds an ``allowed_signers`` file from the current trust, the
gateway verifies against its own root-owned one.

The same primitives sign and verify the rotation statements of the trust anchor,
under another namespace (``sms-trust``), so a blast signature can never pass for a
rotation statement or the other way round.
"""
import json
import os
import shutil
import subprocess
import tempfile

NAMESPACE = "sms-blast"


def canonical_json(content):
    """Sorted, compact JSON of ``content`` as UTF-8 bytes: what is signed."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def canonical(blast):
    """The bytes the Ketua signs: the blast without its signature, as sorted JSON."""
    content = dict(blast)
    approval = dict(content.get("approval") or {})
    approval.pop("signature", None)
    content["approval"] = approval
    return canonical_json(content)


def _ssh_keygen():
    path = shutil.which("ssh-keygen")
    if path is None:
        raise RuntimeError("ssh-keygen is not installed (Debian package openssh-client)")
    return path


def sign_bytes(message, private_key_path, namespace):
    """Sign ``message`` (bytes) with a private key file; return the armoured signature text."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "message")
        with open(path, "wb") as fh:
            fh.write(message)
        subprocess.run([_ssh_keygen(), "-q", "-Y", "sign", "-f", private_key_path, "-n",
                        namespace, path], check=True, capture_output=True)
        with open(path + ".sig", encoding="ascii") as fh:
            return fh.read()


def sign(blast, private_key_path, principal=None):
    """Sign ``blast`` with a private key file; return the armoured signature text."""
    return sign_bytes(canonical(blast), private_key_path, NAMESPACE)


def signers_line(principal, key, namespace=NAMESPACE):
    """One ``allowed_signers`` line: the principal may sign in ``namespace`` with ``key``."""
    return '%s namespaces="%s" %s' % (principal, namespace, " ".join(str(key).split()))


def verify_bytes(message, signature, principal, signers_file, namespace):
    """(True, "") when ``signature`` over ``message`` verifies for ``principal`` against the
    ``allowed_signers`` file ``signers_file`` in ``namespace``, else (False, why)."""
    if not isinstance(signature, str) or "BEGIN SSH SIGNATURE" not in signature:
        return False, "there is no SSH signature"
    with tempfile.TemporaryDirectory() as tmp:
        sig = os.path.join(tmp, "message.sig")
        with open(sig, "w", encoding="ascii", errors="replace") as fh:
            fh.write(signature.strip() + "\n")
        result = subprocess.run([_ssh_keygen(), "-Y", "verify", "-f", signers_file, "-I",
                                 str(principal), "-n", namespace, "-s", sig], input=message,
                                capture_output=True, check=False)
    if result.returncode == 0:
        return True, ""
    why = (result.stderr or result.stdout).decode("utf-8", "replace").strip().splitlines()
    return False, why[-1] if why else "ssh-keygen rejected the signature"


def verify_with_keys(message, signature, principal, public_keys, namespace):
    """:func:`verify_bytes` against ``public_keys`` of ``principal`` (a temporary file)."""
    keys = [k for k in public_keys if isinstance(k, str) and k.strip()]
    if not keys:
        return False, "no trusted key of %s" % principal
    with tempfile.TemporaryDirectory() as tmp:
        signers = os.path.join(tmp, "allowed_signers")
        with open(signers, "w", encoding="utf-8") as fh:
            for key in keys:
                fh.write(signers_line(principal, key, namespace) + "\n")
        return verify_bytes(message, signature, principal, signers, namespace)


def verify(blast, principal, public_keys):
    """(True, "") when the blast's signature verifies for ``principal`` with one of
    ``public_keys``, else (False, why)."""
    signature = (blast.get("approval") or {}).get("signature")
    return verify_with_keys(canonical(blast), signature, principal, public_keys, NAMESPACE)


def verify_file(blast, principal, signers_file):
    """(True, "") when the blast's signature verifies for ``principal`` against the
    ``allowed_signers`` file ``signers_file`` (the gateway's), else (False, why)."""
    signature = (blast.get("approval") or {}).get("signature")
    return verify_bytes(canonical(blast), signature, principal, signers_file, NAMESPACE)
