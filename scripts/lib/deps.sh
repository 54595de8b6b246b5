# shellcheck shell=bash
# Installs the Debian packages the project needs that are missing (apt; sudo when not root).
# Source it, then call: install_missing_packages [extra packages...]

# libcpp-httplib-dev's pkg-config file requires openssl, zlib and brotli, hence their -dev packages.
# The openssl program makes the TLS tests' certificates. doxygen builds the API reference (the
# `docs` target); help2man, the tools' man pages; librdkafka-dev, the CLI's `consume` (Kafka).
INSTASENT_PACKAGES=(
  g++ cmake make pkg-config
  libcurl4-openssl-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libcpp-httplib-dev libcli11-dev
  libssl-dev zlib1g-dev libbrotli-dev
  ca-certificates openssl
  doxygen help2man
  librdkafka-dev
)

# shellcheck disable=SC2120  # the extra packages are optional
install_missing_packages() {
  local missing=() pkg status
  for pkg in "${INSTASENT_PACKAGES[@]}" "$@"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
      missing+=("$pkg")
    fi
  done
  ((${#missing[@]} > 0)) || return 0

  echo "Installing missing packages: ${missing[*]}"
  local as_root=()
  if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then
      as_root=(sudo)
    else
      echo "error: need root or sudo to install: ${missing[*]}" >&2
      return 1
    fi
  fi
  # Passed through env, since sudo drops DEBIAN_FRONTEND.
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
}
