"""The week-4 step-by-step notebook's test cases of its v8 version (the content of ``testCases_v3``)."""

from . import testCases_v3 as _cases
from .testCases_v3 import *  # noqa: F401,F403

__all__ = list(_cases.__all__)
