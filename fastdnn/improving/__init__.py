"""The course's second part, "Improving deep neural networks", on fastdnn's kernels.

One module per assignment, as the course splits its helper files:

* :mod:`~fastdnn.improving.initialization` -- zeros, random and He starts;
* :mod:`~fastdnn.improving.regularization` -- L2 decay and inverted dropout;
* :mod:`~fastdnn.improving.gradient_checking` -- two-sided differences against backpropagation;
* :mod:`~fastdnn.improving.optimization` -- mini-batches, momentum, Adam, learning-rate decay.

Each gives the course's names, arguments, return values and printed lines
(``from fastdnn.improving.optimization import *`` stands for the notebook's
own functions and its ``opt_utils`` import), computed by one implementation
shared by the four (:mod:`fastdnn.improving._core`), and each has a
plain-NumPy twin in :mod:`fastdnn.reference` (``fastdnn.reference.optimization``...).
"""

from . import gradient_checking, initialization, optimization, regularization  # noqa: F401
