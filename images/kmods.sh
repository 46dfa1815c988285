#!/bin/sh
# Copy kernel modules, with everything they depend on, out of an unpacked
# Debian kernel package into an initramfs tree, and write the order to load
# them in (dependencies first).
#
#   images/kmods.sh PKGROOT DESTROOT MODULE...
#
# PKGROOT is a `dpkg-deb -x` of linux-image-*-amd64 (lib/modules/<release>/);
# a module built into that kernel (modules.builtin) needs no file and is
# skipped.
# modules.dep is made with `depmod -b` when the package has none. The .ko
# files go to DESTROOT/lib/modules/ and their names, in load order, to
# DESTROOT/lib/modules/load.list (one per line, for `insmod` in a loop).
set -eu

pkg=$1
dest=$2
shift 2
rel=$(ls "$pkg/lib/modules" | head -n 1)
mdir=$pkg/lib/modules/$rel
[ -d "$mdir/kernel" ] || { echo "kmods: no modules in $pkg" >&2; exit 1; }
if [ ! -s "$mdir/modules.dep" ]; then
	command -v depmod >/dev/null || PATH=$PATH:/sbin:/usr/sbin
	depmod -b "$pkg" "$rel" || { echo "kmods: depmod failed (apt-get install kmod)" >&2; exit 1; }
fi
mkdir -p "$dest/lib/modules"

# Depth-first over modules.dep: a module is listed after all it needs.
# Names in the request may use - or _ (as modprobe accepts).
builtin=$mdir/modules.builtin
[ -s "$builtin" ] || builtin=/dev/null
awk -v want="$*" -v builtin="$builtin" '
function base(p) { sub(/.*\//, "", p); sub(/\.ko(\.[a-z]+)?$/, "", p); gsub(/-/, "_", p); return p }
function visit(m,   n, i, d) {
	if (m in seen) return
	seen[m] = 1
	if (!(m in path) && (m in inkernel)) return
	if (!(m in path)) { printf "kmods: no module %s\n", m > "/dev/stderr"; bad = 1; return }
	n = split(deps[m], d, " ")
	for (i = 1; i <= n; i++) visit(base(d[i]))
	print path[m]
}
{
	p = $1; sub(/:$/, "", p); m = base(p); path[m] = p
	deps[m] = ""; for (i = 2; i <= NF; i++) deps[m] = deps[m] " " $i
}
END {
	while ((getline l < builtin) > 0) inkernel[base(l)] = 1
	n = split(want, w, " ")
	for (i = 1; i <= n; i++) { x = w[i]; gsub(/-/, "_", x); visit(x) }
	exit bad
}' "$mdir/modules.dep" >"$dest/lib/modules/load.list.tmp"

: >"$dest/lib/modules/load.list"
while read -r p; do
	f=$(basename "$p")
	cp "$mdir/$p" "$dest/lib/modules/$f"
	echo "$f" >>"$dest/lib/modules/load.list"
done <"$dest/lib/modules/load.list.tmp"
rm -f "$dest/lib/modules/load.list.tmp"
