"""The week-4 step-by-step notebook's test cases under the newest course's file name (as ``testCases_v4a``)."""

from . import _week4_cases as _cases
from ._week4_cases import *  # noqa: F401,F403

__all__ = list(_cases.__all__)
