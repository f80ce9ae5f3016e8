"""A throwaway SoftHSM token per test module, for the tests of keys on an HSM (keys.hsm).

The token lives in a temporary folder (SOFTHSM2_CONF points there); the
system's token folder is never touched.  In CI a missing SoftHSM fails the
run; locally the tests skip (``make softhsm`` installs it).  Use it as::

    softhsm = pytest.fixture(scope="module")(softhsm_token)
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_LABEL = "kia-test"
PIN = "314159"
SO_PIN = "27182818"


@dataclasses.dataclass(frozen=True)
class SoftHsm:
    module: str
    token_label: str
    pin: str


def require_softhsm() -> None:
    """Skip (fail in CI) when SoftHSM or python-pkcs11 is missing."""
    missing = []
    if not Path(SOFTHSM_MODULE).is_file() or shutil.which("softhsm2-util") is None:
        missing.append("Debian's softhsm2 (make softhsm)")
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        missing.append("python-pkcs11 (the hsm extra)")
    if missing:
        message = "the HSM tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(f"CI: {message}", pytrace=False)
        pytest.skip(message)


def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """A fresh token in its own temporary token folder, SOFTHSM2_CONF set while it lives."""
    require_softhsm()
    import pkcs11

    from keys import hsm

    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    config = folder / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(config))
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", TOKEN_LABEL, "--pin", PIN, "--so-pin", SO_PIN],
            check=True,
            capture_output=True,
        )
        yield SoftHsm(SOFTHSM_MODULE, TOKEN_LABEL, PIN)
        hsm.close_sessions()
        # SoftHSM reads SOFTHSM2_CONF when initialised: let the next module start afresh.
        pkcs11.lib(SOFTHSM_MODULE).finalize()
