"""The deblur error hierarchy.

Every error a user can cause is a :class:`DeblurError`; the CLI prints its message on one line and
exits with code 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class DeblurError(Exception):
    """Base class of all user-facing deblur errors."""


class InputError(DeblurError, ValueError):
    """Bad input: a missing or unreadable file, a wrong shape, non-finite values, a bad size."""


class PluginError(DeblurError):
    """A plugin failed to load, or two plugins claim the same name."""


class CompositionError(DeblurError):
    """Components that do not fit together, or an unknown component name."""


class WeightsError(DeblurError):
    """A weight file that is missing, corrupt or does not match its card."""
