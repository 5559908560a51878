#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain: independent validators and tools the
# tests call (minisign, chromium, pdftotext, systemd-analyze, kubernetes-validate, dockerfile-parse,
# pycef, check-jsonschema, compliance-trestle, xmlschema, junitparser, the SARIF
# Multitool, the SAF CLI), and the OpenSSL
# headers the collector's certificate credential builds against. Idempotent.
set -euo pipefail
need_apt=()
for bin in minisign chromium; do
  command -v "$bin" >/dev/null 2>&1 || need_apt+=("$bin")
done
# azure_identity's client-certificate credential links OpenSSL (collect, tests/collect.rs).
if ! pkg-config --exists openssl 2>/dev/null; then
  need_apt+=(libssl-dev pkg-config)
fi
# tests/deploy.rs checks the systemd units with systemd-analyze verify.
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
# tests/formats.rs reads the printed report's running header and footer back with pdftotext.
command -v pdftotext >/dev/null 2>&1 || need_apt+=(poppler-utils)
# tests/collect.rs interrupts a collection with `kill -INT` (the procps binary, not the builtin).
if [ ! -x /usr/bin/kill ] && [ ! -x /bin/kill ]; then
  need_apt+=(procps)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Only when one is missing, so a provisioned machine runs this without the network.
if ! python3 -c "import check_jsonschema, trestle, xmlschema, junitparser, pycef, kubernetes_validate, dockerfile_parse, syslog_rfc5424_parser" >/dev/null 2>&1; then
  python3 -m pip install -q --disable-pip-version-check check-jsonschema compliance-trestle xmlschema junitparser pycef kubernetes-validate dockerfile-parse syslog-rfc5424-parser
fi
# The SARIF Multitool, for GitHub code scanning's ingestion rules (tests/formats.rs); pinned.
command -v sarif-multitool >/dev/null 2>&1 || npm install -g --silent @microsoft/sarif-multitool@5.7.0
# The MITRE SAF CLI, which reads the Heimdall Data Format export (tests/formats.rs); pinned.
command -v saf >/dev/null 2>&1 || npm install -g --silent @mitre/saf@1.5.3
