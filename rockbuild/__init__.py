"""Build rocks from rockcraft.yaml without snapd or LXD: the local counterpart of `rockcraft pack`."""
