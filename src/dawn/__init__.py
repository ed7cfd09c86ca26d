"""dawn: five Stanford DAWN MLSys 2020 research prototypes as installable software.

Subpackages: :mod:`dawn.willump`, :mod:`dawn.assertions`, :mod:`dawn.stability`, :mod:`dawn.roc`,
:mod:`dawn.mlperf`, on top of the shared :mod:`dawn.core` and :mod:`dawn.data` layers.
"""

from dawn.core.errors import DawnError
from dawn.core.seeding import seed_everything

__version__ = "0.1.0"

__all__ = ["DawnError", "seed_everything", "__version__"]
