"""Example scenarios, shipped in the package as data so `bmc init` can copy one anywhere."""
