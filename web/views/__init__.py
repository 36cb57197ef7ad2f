"""The console's blueprints, one per area; each module's ``bp`` is registered by
:func:`web.create_app`."""
