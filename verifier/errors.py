"""The terminal's errors: one family, whose branches map once to exit codes.

    VerifierError       an operation refused (the office refused enrolment,
    │                   the office is unreachable, no price for a category)    exit 1
    └── SetupError      the terminal cannot work until its home, log or
                        configuration is fixed                                 exit 2

The leaves live beside the code that raises them (verifier.home.HomeError,
verifier.log.LogError and its kinds, verifier.decision.ConfigInvalid...).
A card that fails verification is not an error of the terminal: it is a
decision, with a reason code (keys.errors).
"""

from __future__ import annotations

from keys.errors import KiaError


class VerifierError(KiaError):
    """The terminal cannot do what was asked."""

    exit_code = 1


class SetupError(VerifierError):
    """The terminal's home, log or configuration must be fixed before it can work."""

    exit_code = 2
