"""The Ketua's approval of a blast: a signature over its canonical form (S2).

Editing a blast's YAML cannot forge an approval: the signature covers every field
but itself and is checked with ``ssh-keygen -Y verify`` against the Ketua's public
keys in the registry.
"""
import json
import os
import shutil
import subprocess
import tempfile

NAMESPACE = "sms-blast"


def canonical(blast):
    """The bytes the Ketua signs: the blast without its signature, as sorted JSON."""
    content = dict(blast)
    approval = dict(content.get("approval") or {})
    approval.pop("signature", None)
    content["approval"] = approval
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def _ssh_keygen():
    path = shutil.which("ssh-keygen")
    if path is None:
        raise RuntimeError("ssh-keygen is not installed (Debian package openssh-client)")
    return path


def sign(blast, private_key_path, principal=None):
    """Sign ``blast`` with a private key file; return the armoured signature text."""
    with tempfile.TemporaryDirectory() as tmp:
        message = os.path.join(tmp, "blast")
        with open(message, "wb") as fh:
            fh.write(canonical(blast))
        subprocess.run([_ssh_keygen(), "-q", "-Y", "sign", "-f", private_key_path, "-n",
                        NAMESPACE, message], check=True, capture_output=True)
        with open(message + ".sig", encoding="ascii") as fh:
            return fh.read()


def verify(blast, principal, public_keys):
    """(True, "") when the signature verifies for ``principal``, else (False, why)."""
    signature = (blast.get("approval") or {}).get("signature")
    if not isinstance(signature, str) or "BEGIN SSH SIGNATURE" not in signature:
        return False, "there is no SSH signature"
    keys = [k for k in public_keys if isinstance(k, str) and k.strip()]
    if not keys:
        return False, "the registry lists no approval key for %s" % principal
    with tempfile.TemporaryDirectory() as tmp:
        signers = os.path.join(tmp, "allowed_signers")
        with open(signers, "w", encoding="utf-8") as fh:
            for key in keys:
                fh.write('%s namespaces="%s" %s\n' % (principal, NAMESPACE, key.strip()))
        sig = os.path.join(tmp, "blast.sig")
        with open(sig, "w", encoding="ascii", errors="replace") as fh:
            fh.write(signature.strip() + "\n")
        result = subprocess.run([_ssh_keygen(), "-Y", "verify", "-f", signers, "-I", principal,
                                 "-n", NAMESPACE, "-s", sig], input=canonical(blast),
                                capture_output=True, check=False)
    if result.returncode == 0:
        return True, ""
    why = (result.stderr or result.stdout).decode("utf-8", "replace").strip().splitlines()
    return False, why[-1] if why else "ssh-keygen rejected the signature"
