"""Write ansible-vault files (format 1.1, AES256) from inside a module.

A module runs in AnsiballZ, where the controller's ``ansible.parsing.vault``
is not importable (importing it half-loads the controller and breaks the
module's own JSON handling). This is the same envelope ansible-vault writes
and reads: PBKDF2-HMAC-SHA256 (10,000 rounds, 32-byte salt) -> AES-256-CTR
key, HMAC-SHA256 key and counter; PKCS#7 padding; encrypt-then-MAC.
``ansible-vault view`` opens the result; the tests check it with VaultLib.
"""
import binascii
import os

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

HEADER = b"$ANSIBLE_VAULT;1.1;AES256"
KDF_ROUNDS = 10000  # fixed by the format


def encrypt(plaintext, password, salt=None):
    """The vault file's bytes for ``plaintext`` (str or bytes) under ``password`` (str)."""
    if not password:
        raise ValueError("an empty vault password")
    data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
    salt = salt or os.urandom(32)
    derived = PBKDF2HMAC(algorithm=hashes.SHA256(), length=80, salt=salt,
                         iterations=KDF_ROUNDS).derive(password.encode("utf-8"))
    key, mac_key, counter = derived[:32], derived[32:64], derived[64:80]
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor()
    ciphertext = encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()
    mac = HMAC(mac_key, hashes.SHA256())
    mac.update(ciphertext)
    body = binascii.hexlify(b"\n".join([binascii.hexlify(salt), binascii.hexlify(mac.finalize()),
                                        binascii.hexlify(ciphertext)]))
    lines = [HEADER] + [body[i:i + 80] for i in range(0, len(body), 80)]
    return b"\n".join(lines) + b"\n"
