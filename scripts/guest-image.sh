#!/bin/sh
# guest-image.sh BUILD_DIR [BIN_DIR]
#
# Builds the VM guest from Debian packages only, into BUILD_DIR/guest/:
#   vmlinuz          Debian's linux-image kernel (downloaded with apt-get
#                    download, unpacked with dpkg-deb, never installed)
#   initramfs.cpio   busybox-static, the virtio modules (resolved through
#                    modules.dep), /init (guest/init), the agent (guest/agent.c,
#                    gcc -static), the ZeroMQ samples BIN_DIR/zmq_* (default
#                    BUILD_DIR/bin) with every shared library they need
#   cmdline          the kernel command line every VM starts from (the lab's
#                    vqnet.* words are appended: see guest/init)
# The image is rebuilt only when its inputs change: a hash of this script,
# the files of guest/ and lib/agent/ that go into it, the package versions
# and the samples' binaries and libraries.  Prints the image's size and how long the build took.
set -eu

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [BIN_DIR]" >&2; exit 2; }
mkdir -p "$1"
BUILD=$(cd "$1" && pwd)
BIN=${2:-$BUILD/bin}
SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=$BUILD/guest
mkdir -p "$OUT/cache"
T0=$(date +%s%N)

say() { echo "guest-image: $*"; }
die() { echo "guest-image: $*" >&2; exit 1; }

# Builds in parallel (ctest -j) wait for each other instead of racing.
exec 9>"$OUT/lock"
flock 9

for tool in busybox cpio gcc dpkg-deb apt-get sha256sum; do
	command -v "$tool" >/dev/null || die "$tool is missing (run scripts/deps.sh)"
done
BUSYBOX=$(command -v busybox)
# the guest has no libc for it: it must be busybox-static's
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is dynamically linked: install busybox-static"
"$BUSYBOX" --list | grep -qx insmod || die "$BUSYBOX has no insmod: install busybox-static"

# The kernel package the linux-image-amd64 metapackage points at now, and
# its version: "Depends: linux-image-6.1.0-57-amd64 (= 6.1.192-3)" (one
# apt-cache call: each costs half a second).
kernel_dep() {
	apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
		sed -n 's/^Depends: .*\(linux-image-[0-9][^ ,]*-amd64\) (= \([^)]*\)).*/\1 \2/p' | head -n1
}
KDEP=$(kernel_dep)
if [ -z "$KDEP" ]; then
	# a fresh system may not have package lists yet
	apt-get update -q >/dev/null || die "apt-get update failed"
	KDEP=$(kernel_dep)
fi
[ -n "$KDEP" ] || die "cannot find the kernel package linux-image-amd64 depends on"
KPKG=${KDEP% *}
KVER_PKG=${KDEP#* }
KREL=${KPKG#linux-image-}

# Inputs of the image: anything here changing means a rebuild.
SAMPLES=$(ls "$BIN"/zmq_* 2>/dev/null || true)
LIBS=""
for f in $SAMPLES; do
	# "libx.so.1 => /lib/.../libx.so.1 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"
	LIBS="$LIBS $(ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')"
done
LIBS=$(printf '%s\n' $LIBS | sort -u)
HASH=$( {
	echo "kernel $KPKG $KVER_PKG"
	dpkg-query -W -f='${Package} ${Version}\n' busybox-static libc6-dev gcc 2>/dev/null || true
	# contents and names, not where the tree or the build dir is
	(cd "$SRC" && sha256sum scripts/guest-image.sh guest/init guest/agent.c lib/agent/agent.c lib/agent/agent.h)
	for f in $SAMPLES; do echo "$(sha256sum <"$f") $(basename "$f")"; done
	[ -z "$LIBS" ] || sha256sum $LIBS
} | sha256sum | cut -c1-16)

size_report() {
	k=$(stat -c %s "$OUT/vmlinuz")
	i=$(stat -c %s "$OUT/initramfs.cpio")
	ms=$(( ($(date +%s%N) - T0) / 1000000 ))
	say "$1: kernel $KREL $((k / 1024)) KiB, initramfs $((i / 1024)) KiB," \
	    "$(( (k + i) / 1024 )) KiB in all; $ms ms"
}

if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$HASH" ] &&
   [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initramfs.cpio" ] && [ -f "$OUT/cmdline" ]; then
	size_report "up to date ($HASH)"
	exit 0
fi
say "building $HASH in $OUT"

# --- the kernel: downloaded and unpacked once per version ---
KDIR=$OUT/cache/$KPKG-$KVER_PKG
if [ ! -f "$KDIR/done" ]; then
	rm -rf "$KDIR"
	mkdir -p "$KDIR"
	deb=$(ls "$OUT/cache/${KPKG}_"*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$deb" ]; then
		# apt's sandbox user may not write into the build tree: hand it a
		# directory it can, then take the file
		dl=$(mktemp -d)
		chmod 777 "$dl"
		(cd "$dl" && apt-get download -q "$KPKG=$KVER_PKG" >/dev/null 2>&1) ||
			{ apt-get update -q >/dev/null && (cd "$dl" && apt-get download -q "$KPKG=$KVER_PKG" >/dev/null); } ||
			die "apt-get download $KPKG failed"
		mv "$dl"/*.deb "$OUT/cache/"
		rmdir "$dl"
		deb=$(ls "$OUT/cache/${KPKG}_"*.deb | head -n1)
	fi
	dpkg-deb -x "$deb" "$KDIR/root"
	# the package ships no modules.dep (depmod runs at install time)
	"$BUSYBOX" depmod -b "$KDIR/root" "$KREL"
	touch "$KDIR/done"
	rm -f "$deb"   # the unpacked tree is the cache
fi
MODDIR=$KDIR/root/lib/modules/$KREL
[ -f "$MODDIR/modules.dep" ] || die "no modules.dep in $MODDIR"

WORK=$(mktemp -d "$OUT/build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
R=$WORK/root
mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/etc" "$R/proc" "$R/sys" \
	 "$R/dev" "$R/tmp" "$R/run" "$R/root" "$R/lib/modules/$KREL" "$R/lib64" "$R/var/log"

# --- busybox: one binary, a link per applet ---
cp "$BUSYBOX" "$R/bin/busybox"
for a in $("$BUSYBOX" --list-full); do
	[ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
done

# --- modules, each after what it depends on (modules.dep lists them all) ---
: >"$R/etc/modules"
resolve() {   # $1: a path relative to MODDIR, as modules.dep names it
	grep -qx "$1" "$R/etc/modules" && return 0
	deps=$(sed -n "s|^$1: *||p" "$MODDIR/modules.dep")
	for d in $deps; do resolve "$d"; done
	mkdir -p "$R/lib/modules/$KREL/$(dirname "$1")"
	cp "$MODDIR/$1" "$R/lib/modules/$KREL/$1"
	echo "$1" >>"$R/etc/modules"
}
for m in virtio_pci virtio_net virtio_console; do
	p=$(sed -n "s|^\(.*/$m\.ko\):.*|\1|p" "$MODDIR/modules.dep")
	[ -n "$p" ] || die "module $m is not in $KPKG"
	resolve "$p"
done

# --- the agent: static, so the guest needs no libc for it ---
gcc -static -O2 -s -std=c11 -D_GNU_SOURCE -Wall -Wextra -I"$SRC/lib/agent" \
	"$SRC/guest/agent.c" "$SRC/lib/agent/agent.c" -o "$R/sbin/vqnet-agent"

# --- the samples and their libraries, at the paths ldd found them ---
for f in $SAMPLES; do cp "$f" "$R/usr/bin/"; done
for l in $LIBS; do
	mkdir -p "$R$(dirname "$l")"
	cp -L "$l" "$R$l"
done
[ -n "$SAMPLES" ] || say "warning: no $BIN/zmq_* samples: the image has none"

# --- /init and its configuration ---
cp "$SRC/guest/init" "$R/init"
chmod 755 "$R/init"
cat >"$R/etc/inittab" <<'EOF'
::respawn:/sbin/vqnet-agent
::ctrlaltdel:/bin/busybox poweroff -f
EOF
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$R/etc/hosts"
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"
echo "$KREL" >"$R/etc/vqnet-kernel"

# Uncompressed: QEMU loads it in one go and the kernel need not inflate
# it, which under TCG is slower than reading the extra megabytes.
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) \
	>"$WORK/initramfs.cpio"
cp "$KDIR/root/boot/vmlinuz-$KREL" "$WORK/vmlinuz"
# quiet: the console is a log; panic=-1 with QEMU's -no-reboot ends a
# guest that panics instead of leaving it hung
echo "console=ttyS0 quiet panic=-1 rdinit=/init" >"$WORK/cmdline"

mv "$WORK/vmlinuz" "$OUT/vmlinuz"
mv "$WORK/initramfs.cpio" "$OUT/initramfs.cpio"
mv "$WORK/cmdline" "$OUT/cmdline"
echo "$HASH" >"$OUT/stamp"
size_report "built ($HASH)"
