"""The ministry's errors (``kia national``): one family, whose message says what to do next.

Apart from kia.national so that the offline ceremony's files
(kia.national_offline), which kia.national reads, raise them too.
"""

from __future__ import annotations

from keys.errors import KiaError


class NationalError(KiaError):
    """The ministry's command is refused; the message says what to do."""

    exit_code = 1


class NationalHomeMissing(NationalError):
    """The home folder holds no national directory: run 'kia national init' first."""

    exit_code = 2
