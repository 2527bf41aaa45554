"""HJ 212 (HJ/T 212-2005, HJ 212-2017, HJ 212-2025): a pure packet codec and the TCP listener.

The codec is re-exported here, its public API being the ``__all__`` of :mod:`.crc` (Appendix A CRCs),
:mod:`.framing` (frames and the TCP :class:`Deframer`), :mod:`.codec` (packets, answers, times) and
:mod:`.bins` (the bin reading in a packet). None of them needs Django. The listener, which does, is
imported from its own modules: :mod:`.server` (:class:`~.server.Hj212Listener`), :mod:`.runner` (entry
points), :mod:`.config` (settings and counters) and :mod:`.directory` (the MN → device cache).
"""

from greenisle.telemetry.hj212 import bins, codec, crc, framing
from greenisle.telemetry.hj212.bins import *  # noqa: F403
from greenisle.telemetry.hj212.codec import *  # noqa: F403
from greenisle.telemetry.hj212.crc import *  # noqa: F403
from greenisle.telemetry.hj212.framing import *  # noqa: F403

__all__ = [*crc.__all__, *framing.__all__, *codec.__all__, *bins.__all__]
