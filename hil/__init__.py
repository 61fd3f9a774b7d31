"""Hardware in the loop: serial framing and links, the ``bmc hil`` bridges, reference device programs.

See ``hil/README.md``.
"""
