"""The cell in the field's standards: ASTERIX and DIS out (live gateway and pcap export), DIS in.

- :mod:`bmc.interop.frame`: the scenario's local frame as WGS-84 and ECEF (pymap3d);
- :mod:`bmc.interop.feeds`: our messages as ASTERIX data blocks and DIS PDUs
  (the encoders are ``protocols.asterix`` and ``protocols.dis``);
- :mod:`bmc.interop.export`: a recording as a pcap file;
- :mod:`bmc.interop.gateway`: the live bus as UDP datagrams.

docs/INTEROP.md says which items and fields are filled, and how.
"""
