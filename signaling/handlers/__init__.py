"""The Socket.IO event handlers, one module per concern, composed into ``signaling.server.SignalingServer``.

Every client event still goes through the server's one choke point (``_dispatch``), which
validates it against ``signaling.protocol.CLIENT_EVENTS`` and the grant before calling
``_on_<event>`` here. A new concern (defenses, recording) is a new module with one class
deriving from ``base.Handlers``, added to the server's bases.
"""
