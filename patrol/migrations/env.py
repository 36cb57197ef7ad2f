"""Alembic environment. Like ``patrol.cli``, a composition root: it imports every package's
models so the metadata is complete for autogenerate."""

from alembic import context

from patrol.db import Base, make_engine
import missions.models  # noqa: F401
import flight_logs.models  # noqa: F401
import telemetry.models  # noqa: F401
import vision.models  # noqa: F401
import web.models  # noqa: F401
import web.models_merchants  # noqa: F401
import web.models_reflight  # noqa: F401

config = context.config
target_metadata = Base.metadata
if not config.get_main_option("sqlalchemy.url"):
    from patrol.settings import Settings

    config.set_main_option("sqlalchemy.url", Settings.from_env().database_url.replace("%", "%%"))


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url"))
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connectable)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
