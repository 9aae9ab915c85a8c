"""The one exception root for misuse of the carverify API.

Verdicts are results, never exceptions: a rejected program is a `StageResult`
with status ``failed``.  Exceptions are raised only when the caller misuses the
API or the input cannot be read at all.

    CarverifyError
    ├── UsageError          bad arguments, unknown suite, unreadable file (exit 2)
    │   └── UnknownSuiteError
    └── InternalError       carverify or its infrastructure broke (exit 3)
"""


class CarverifyError(Exception):
    """Root of every exception carverify raises on purpose."""


class UsageError(CarverifyError):
    """The caller asked for something that cannot be done as asked."""


class UnknownSuiteError(UsageError):
    """A suite name that no folder under suites/ provides."""


class InternalError(CarverifyError):
    """carverify itself or its infrastructure failed; the program is not to blame."""
