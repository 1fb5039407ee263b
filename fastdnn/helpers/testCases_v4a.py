"""The week-4 step-by-step notebook's test cases, newest generation (see :mod:`fastdnn.helpers._week4_cases`)."""

from . import _week4_cases as _cases
from ._week4_cases import *  # noqa: F401,F403

__all__ = list(_cases.__all__)
