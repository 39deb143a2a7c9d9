"""The local target: real redis-server and valkey-server processes on loopback.

`environment` starts and stops them; `migration` is the life cycle's mechanism (REPLICAOF). Import the
submodule you need: importing this package imports nothing heavy.
"""
