"""The daemon's configuration file: what it says, and errors naming the file and the key."""

from __future__ import annotations

import hashlib
import textwrap

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from telemetry.config import ConfigError, DaemonConfig, LinkConfig, load_config, passphrase_key

KEY = "0f" * 32


def write(tmp_path, text, name="fleet.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    path.chmod(0o600)
    return path


def test_a_fleet_file(tmp_path):
    path = write(tmp_path, f"""
        flush_interval_s = 0.5
        stream_rate_hz = 10
        reconnect_max_s = 8

        [alarms]
        battery_low_pct = 35
        battery_critical_pct = 20
        link_loss_s = 3
        statustext_severity = "ERROR"

        [signing]
        key = "{KEY}"

        [[links]]
        url = "udpin:0.0.0.0:14550"
        name = "Dock 1"

        [[links]]
        url = "tcp:10.0.0.7:5760"
        signing = {{ passphrase = "patrol", require = false }}

        [[links]]
        url = "/dev/ttyUSB0"
        baud = 921600
        signing = false
    """)
    cfg = load_config(path)
    assert (cfg.flush_interval_s, cfg.stream_rate_hz, cfg.reconnect_max_s, cfg.reconnect_initial_s) == (0.5, 10, 8.0,
                                                                                                       0.5)
    assert (cfg.alarms.battery_low_pct, cfg.alarms.battery_critical_pct, cfg.alarms.link_loss_s) == (35, 20, 3)
    assert cfg.alarms.statustext_severity == mavlink.MAV_SEVERITY_ERROR
    dock1, dock2, serial = cfg.links
    assert (dock1.url, dock1.name, dock1.signing.key, dock1.signing.require) == (
        "udpin:0.0.0.0:14550", "Dock 1", bytes.fromhex(KEY), True)
    assert dock2.signing.key == hashlib.sha256(b"patrol").digest() == passphrase_key("patrol")
    assert not dock2.signing.require
    assert (serial.signing, serial.baud) == (None, 921600)
    assert KEY not in repr(cfg)                       # keys stay out of logs and tracebacks


def test_links_from_the_command_line_join_the_file(tmp_path):
    cfg = load_config(write(tmp_path, f"""
        [signing]
        passphrase = "patrol"
        [[links]]
        url = "udpin:0.0.0.0:14550"
    """)).with_links(["udpin:0.0.0.0:14550", "tcp:127.0.0.1:5760"])
    assert [link.url for link in cfg.links] == ["udpin:0.0.0.0:14550", "tcp:127.0.0.1:5760"]
    assert cfg.links[1].signing.key == passphrase_key("patrol")
    assert DaemonConfig().with_links(["udpin:0.0.0.0:14550"]).links == (LinkConfig("udpin:0.0.0.0:14550"),)


@pytest.mark.parametrize("text, message", [
    ("[[links]]\nname = 'x'\n", "fleet.toml: links[1] has no url"),
    ("[[links]]\nurl = 'udpin:0.0.0.0:1'\nport = 3\n", "fleet.toml: unknown key 'port' in links[1]"),
    ("[alarms]\nbattery_low = 30\n", "fleet.toml: unknown key 'battery_low' in [alarms]"),
    ("[alarms]\nbattery_low_pct = 'thirty'\n", "fleet.toml: alarms.battery_low_pct must be a number, got 'thirty'"),
    ("[alarms]\nbattery_low_pct = 10\nbattery_critical_pct = 20\n", "fleet.toml: [alarms]: need 0 <= battery_critical"),
    ("[alarms]\nstatustext_severity = 'LOUD'\n", "fleet.toml: alarms.statustext_severity 'LOUD' is not a MAV_SEVERITY"),
    ("[signing]\nkey = 'abcd'\n", "fleet.toml: [signing].key must be 64 hex digits (32 bytes), got 4 characters"),
    ("[signing]\nkey = 'zz'\n", "fleet.toml: [signing].key is not hexadecimal"),
    (f"[signing]\nkey = '{KEY}'\npassphrase = 'x'\n", "fleet.toml: [signing] needs exactly one of key"),
    ("[signing]\npassphrase = 'x'\nrequire = 'yes'\n", "fleet.toml: [signing].require must be true or false"),
    ("flush_interval_s = 2\n", "fleet.toml: flush_interval_s must be at most 1 s"),
    ("stream_rate_hz = 2.5\n", "fleet.toml: stream_rate_hz must be an integer, got 2.5"),
    ("[[links]]\nurl = 'a'\n[[links]]\nurl = 'a'\n", "fleet.toml: links[2]: link 'a' is listed twice"),
    ("links = 'udpin:0.0.0.0:1'\n", "fleet.toml: links must be a list of tables"),
    ("[[links]\nurl = 'x'\n", "fleet.toml: not valid TOML: "),
])
def test_errors_name_the_file_and_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert str(err.value).startswith(str(tmp_path / message.split(":")[0]) + ":" + message.split(":", 1)[1])


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"fleet.ini: unknown configuration format '.ini'"):
        load_config(write(tmp_path, "x", "fleet.ini"))
    with pytest.raises(ConfigError, match=r"nothing.toml: cannot read the configuration"):
        load_config(tmp_path / "nothing.toml")


def test_yaml_needs_pyyaml_or_reads_the_same_keys(tmp_path):
    path = write(tmp_path, "links:\n  - url: udpin:0.0.0.0:14550\n    name: Dock 1\nalarms:\n  link_loss_s: 3\n",
                 "fleet.yaml")
    try:
        import yaml  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="fleet.yaml: reading YAML needs PyYAML"):
            load_config(path)
    else:
        cfg = load_config(path)
        assert (cfg.links[0].name, cfg.alarms.link_loss_s) == ("Dock 1", 3)


def test_a_key_file_readable_by_others_is_warned_about(tmp_path, caplog):
    path = write(tmp_path, f"[signing]\nkey = '{KEY}'\n")
    path.chmod(0o644)
    load_config(path)
    assert "readable by other users" in caplog.text
