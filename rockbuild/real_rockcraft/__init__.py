"""Real `rockcraft pack`, run in a container of the build base: no snapd, no LXD.

For people without the rockcraft snap (`build.py rocks --builder rockcraft`) and for the parity
check that compares its rocks with the local builder's (`build.py parity`). Two things rockcraft
fetches from places that are not reachable everywhere get local stand-ins, each loud when asked
for anything else: the base image (served by a loopback registry from the local base, see
`base_registry.py`) and the Pebble snap (`snap download pebble` answered by a shim, see
`toolimage.py`).
"""
