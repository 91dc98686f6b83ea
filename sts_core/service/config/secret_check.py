"""``sts check``: is every ``${secret:NAME}`` the configuration refers to there?"""

from __future__ import annotations

from collections.abc import Sequence

from ...redaction import SecretError
from ..secrets import SECRET_REFERENCE, resolve_secrets
from .errors import Problem
from .layers import Settings


def missing_secrets(settings: Settings, providers: Sequence[object]) -> list[Problem]:
    """A problem for each referenced secret no provider has, at the key that refers to it.
    Values found are never shown (they are remembered for redaction, like at run time)."""
    problems = []
    for section, keys in settings.sections.items():
        for key, setting in keys.items():
            for match in SECRET_REFERENCE.finditer(setting.value):
                try:
                    resolve_secrets(match.group(0), providers)
                except SecretError as error:
                    problems.append(
                        Problem(str(error), origin=setting.origin, section=section, key=key)
                    )
    return problems
