#!/usr/bin/env bash
# Installs every build, test and demo dependency from Debian packages.
# Idempotent: packages already present are skipped by apt; safe to run repeatedly.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  librocksdb-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libcurl4-openssl-dev libarchive-dev zlib1g-dev openssl
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  libcivetweb-dev
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libssl-dev libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  coreutils procps python3 time curl
  python3-aiosmtpd
  tzdata
)
# Node.js and npm run s3rver, the S3 server of tests/crawler (installed from npm by the test itself).
# A nodejs package that bundles npm (NodeSource's conflicts with Debian's npm) is enough.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then PACKAGES+=(nodejs npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or with sudo)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
