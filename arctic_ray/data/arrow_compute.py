"""`pyarrow.compute` as `pc`, typed Any: its functions (`pc.equal`, `pc.utf8_lower`, ...) are
generated when it is imported, so a type checker knows none of them."""

from typing import Any

import pyarrow.compute

pc: Any = pyarrow.compute
