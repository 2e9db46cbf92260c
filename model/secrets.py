"""What counts as a secret in configuration and text (pure): secret-named keys and the
password of a URL. `cli.logs` masks log lines with these, `reports.configuration` the printed
configuration, and every place that shows a Redis URL uses `mask_url`."""

import re

MASK = "***"
# A name that holds a secret: an environment variable or a configuration key (librdkafka's
# `sasl.password`, `ssl.key.password`, `sasl.oauthbearer.client.secret`, `ssl.key.pem`, …).
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|WEBHOOK"
                         r"|KEY\.PEM|OAUTHBEARER\.CONFIG)", re.IGNORECASE)
# The password of a `scheme://user:password@host` URL (`rediss://:pw@host:6380/0`).
URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s/]+)@")


def mask_url(text: str) -> str:
    """`text` with the password of every `scheme://user:password@host` URL replaced by `MASK`
    (`rediss://:pw@host:6380/0` → `rediss://:***@host:6380/0`); other text unchanged."""
    return URL_PASSWORD.sub(rf"\g<head>{MASK}@", text)
