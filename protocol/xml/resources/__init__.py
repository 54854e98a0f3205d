"""The 2030.5 (and CSIP-AUS) resource types the server core speaks, one module per function set.

Import each type from the module that owns it. This package loads every module so that
`protocol.xml.parse` knows every root element (and xsi:type) whichever module a caller
imported first.
"""

from protocol.xml.resources import (  # noqa: F401 -- loaded to register their root elements
    common,
    dcap,
    der,
    derp,
    edev,
    log,
    mirror,
    pubsub,
    response,
    time,
    units,
)
