#!/usr/bin/env bash
# Builds the sandbox's binaries (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# etcd, kwok) from the pinned tools modules beside this script, into a cache folder outside the
# checkout keyed by the pinned versions, and prints that folder. A binary already in the cache is
# reused, so only the first build on a machine pays (about 11 minutes cold on 2 cores).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

version() { # version MODULE-DIR MODULE-PATH: the version that go.mod requires
  awk -v m="$2" '$1 == m || ($1 == "require" && $2 == m) { print ($1 == m ? $2 : $3); exit }' "$here/$1/go.mod"
}
k8s=$(version kubernetes k8s.io/kubernetes)
etcd=$(version etcd go.etcd.io/etcd/server/v3)
kwok=$(version kwok sigs.k8s.io/kwok)
[ -n "$k8s" ] && [ -n "$etcd" ] && [ -n "$kwok" ] || { echo "build.sh: cannot read the pinned versions from testdata/tools/*/go.mod" >&2; exit 1; }

cache=${OPSDECK_SANDBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/opsdeck/sandbox}
out="$cache/k8s-$k8s-etcd-$etcd-kwok-$kwok"
mkdir -p "$out"

build() { # build MODULE-DIR PACKAGE NAME
  local dir=$1 pkg=$2 name=$3
  [ -x "$out/$name" ] && return 0
  echo "building $name ($pkg)" >&2
  local start=$SECONDS
  (cd "$here/$dir" && go build -trimpath -ldflags=-s -o "$out/$name.tmp" "$pkg")
  mv "$out/$name.tmp" "$out/$name"
  echo "built $name in $((SECONDS - start))s" >&2
}

build kubernetes k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver
build kubernetes k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager
build kubernetes k8s.io/kubernetes/cmd/kube-scheduler kube-scheduler
build kubernetes k8s.io/kubernetes/cmd/kubectl kubectl
build etcd go.etcd.io/etcd/server/v3 etcd
build kwok sigs.k8s.io/kwok/cmd/kwok kwok
echo "$out"
