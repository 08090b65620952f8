"""The requirer side of each relation: one module per interface, relation data in, typed data out.

Each module writes the request its interface's providers answer (as their own libraries read it)
and reads their answer into a small frozen dataclass; none of them touches Pebble or the status.
"""
