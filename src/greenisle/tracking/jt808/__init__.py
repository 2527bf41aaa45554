"""JT/T 808 (2011, 2013 supplement, 2019) message codec; the public API is :data:`codec.__all__`."""

from greenisle.tracking.jt808 import codec
from greenisle.tracking.jt808.codec import *  # noqa: F403

__all__ = codec.__all__
