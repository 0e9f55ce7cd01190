#!/usr/bin/env bash
# image.sh: build fstrace's container image from Containerfile with podman
# or buildah, whichever the machine has (buildah installed from the
# distribution's packages when neither is there and that can be done).
#
# usage: scripts/image.sh [IMAGE] [OCI_DIR]
#   IMAGE    the name to tag (default fstrace:latest)
#   OCI_DIR  also write the image there as an OCI layout (for umoci, skopeo)
# env: GO (go), VERSION (the image's version label, default: git describe)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

image=${1:-fstrace:latest}
oci=${2:-}
version=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}

tool=
for t in podman buildah; do
	if command -v "$t" >/dev/null; then tool=$t; break; fi
done
if [[ -z $tool ]]; then
	FSTRACE_DEPS_EXTRA=buildah scripts/deps.sh image
	tool=buildah
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
CGO_ENABLED=0 "${GO:-go}" build -trimpath -o "$ctx/fstrace" ./cmd/fstrace
cp Containerfile "$ctx/"
case $tool in
podman) podman build -q -f "$ctx/Containerfile" --build-arg VERSION="$version" -t "$image" "$ctx" >/dev/null ;;
buildah) buildah bud -q --layers=false -f "$ctx/Containerfile" --build-arg VERSION="$version" -t "$image" "$ctx" >/dev/null ;;
esac
echo "image: built $image with $tool"
if [[ -n $oci ]]; then
	rm -rf "$oci"
	"$tool" push -q "$image" "oci:$oci:${image##*:}" >/dev/null
	echo "image: $image written as an OCI layout to $oci"
fi
