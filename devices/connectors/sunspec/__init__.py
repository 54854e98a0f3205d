"""SunSpec Modbus: model codecs, discovery, an async client and a poller."""
