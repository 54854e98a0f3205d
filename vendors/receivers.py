"""Signal receivers of the vendors app: none yet. Vendors declares its own signals in
``vendors.signals``; `protocol` and `portal` receive them."""
