"""TV technology (§2): packaging lectures into DVB transport streams, SI injection, analysis, playout."""
