"""Reference device programs: a Raspberry Pi launcher mock and a sensor-board emulator.

Each runs on its own (``python -m hil.devices.pi_launcher``, ``python -m hil.devices.sensor_board``)
on a Pi or a PC, against a real serial port or a pseudo-terminal (see ``hil.cable``).
"""
