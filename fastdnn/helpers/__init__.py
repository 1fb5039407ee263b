"""The course's helper files, one module each, so that a notebook changes only its import lines.

The course's notebooks import small files that sit beside them; here each
has a module of the same name, with the course's functions, signatures and
return values, computed by fastdnn:

=====================================  ========================================================
the notebook's line                    with fastdnn
=====================================  ========================================================
``from lr_utils import load_dataset``  ``from fastdnn.helpers.lr_utils import load_dataset``
``from planar_utils import ...``       ``from fastdnn.helpers.planar_utils import ...``
``from testCases_v2 import *``         ``from fastdnn.helpers.testCases_v2 import *`` (week 3)
``from dnn_utils_v2 import ...``       ``from fastdnn.helpers.dnn_utils_v2 import ...``
``from testCases_v4a import *``        ``from fastdnn.helpers.testCases_v4a import *`` (week 4)
``from dnn_app_utils_v3 import *``     ``from fastdnn.helpers.dnn_app_utils_v3 import *``
=====================================  ========================================================

(``testCases`` and ``dnn_utils`` are the newest course's names for the same
files; ``testCases_v3`` holds the older week-4 test cases.)  The notebooks'
own graded functions are in the modules of their week: :mod:`fastdnn.logistic`
(week 2), :mod:`fastdnn.planar` (week 3), :mod:`step_by_step` and
:mod:`application` here (week 4, whose two notebooks initialize differently:
seed 3 and ``* 0.01`` step by step, seed 1 and ``/ sqrt(n)`` in the
application).  ``import fastdnn as dnn`` is unchanged.
"""
